"""Test isolation: every test gets its own GTM_HOME and no LLM credentials from the environment."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.settings import get_settings

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
"""The loopback PostgreSQL server of the machine (trust auth, database `test`)."""


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


@pytest.fixture
def pg_engine() -> Iterator[sa.Engine]:
    """An engine on a throwaway schema of the loopback PostgreSQL server (skipped when none is reachable)."""
    pytest.importorskip("psycopg")
    from app.data.db import get_engine

    admin = sa.create_engine(POSTGRES, connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("select 1"))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432 (database 'test', user postgres): {exc.orig}")
    schema = f"gtm_test_{uuid.uuid4().hex[:10]}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = get_engine(f"{POSTGRES}?options=-csearch_path%3D{schema}")
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
