"""Test isolation: every test gets its own GTM_HOME and no LLM credentials from the environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.settings import get_settings


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point GTM_HOME at a temporary folder and force the offline model."""
    home = tmp_path / "gtm-home"
    monkeypatch.setenv("GTM_HOME", str(home))
    monkeypatch.setenv("GTM_LLM_PROVIDER", "offline")
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "GTM_DATABASE_URL", "GTM_CHECKPOINT_URL", "REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()
