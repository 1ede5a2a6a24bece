"""Settings that used to be read from `os.environ` directly (`GTM_HOST`, `GTM_PORT`, `GTM_DEBUG`,
`GTM_TORCH_THREADS`) come from the settings, so a `.env` file in the directory `gtm` runs from sets them too.

The autouse `isolated_env` fixture runs each test in its own `tmp_path`, where these tests write the `.env`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.cli.main import main
from app.settings import REPO_ROOT, Settings, get_settings


def write_env(tmp_path: Path, **values: str) -> None:
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
    get_settings.cache_clear()


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What `gtm serve` would start uvicorn with (nothing is served)."""
    import uvicorn

    import app.web.server

    for name in ("GTM_HOST", "GTM_PORT", "GTM_DEBUG", "GTM_TORCH_THREADS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CHAINLIT_APP_ROOT", str(REPO_ROOT))  # what `gtm serve` sets, undone after the test
    runs: list[dict[str, Any]] = []
    monkeypatch.setattr(app.web.server, "create_app", lambda: "the app")
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: runs.append({"app": app, **kwargs}))
    return runs


def test_serve_listens_where_the_env_file_says(tmp_path: Path, served: list[dict[str, Any]]) -> None:
    write_env(tmp_path, GTM_HOST="0.0.0.0", GTM_PORT="8123")
    assert main(["serve"]) == 0
    assert (served[-1]["host"], served[-1]["port"]) == ("0.0.0.0", 8123)
    assert main(["serve", "--port", "9001"]) == 0  # the command line wins
    assert (served[-1]["host"], served[-1]["port"]) == ("0.0.0.0", 9001)


def test_serve_defaults_without_settings(served: list[dict[str, Any]]) -> None:
    assert main(["serve"]) == 0
    assert (served[-1]["host"], served[-1]["port"]) == ("127.0.0.1", 8000)


def test_the_environment_wins_over_the_env_file(
    tmp_path: Path, served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_env(tmp_path, GTM_PORT="8123")
    monkeypatch.setenv("GTM_PORT", "8124")
    assert main(["serve"]) == 0
    assert served[-1]["port"] == 8124


def test_debug_in_the_env_file_shows_the_traceback(
    tmp_path: Path, served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    def crash(app: Any, **kwargs: Any) -> None:
        raise OSError("address already in use")

    monkeypatch.setattr(uvicorn, "run", crash)
    assert main(["serve"]) == 1  # one line by default
    write_env(tmp_path, GTM_DEBUG="1")
    with pytest.raises(OSError, match="address already in use"):
        main(["serve"])


@pytest.mark.parametrize(("value", "on"), [("1", True), ("yes", True), ("", False), ("0", False), ("off", False)])
def test_debug_values(value: str, on: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GTM_DEBUG", value)
    assert Settings().debug is on


@pytest.fixture
def torch_threads() -> Iterator[None]:
    """Restore torch's thread count (process-wide) after the test."""
    import torch

    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.usefixtures("torch_threads")
def test_torch_threads_from_the_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from app.embeddings import Embedder

    monkeypatch.delenv("GTM_TORCH_THREADS", raising=False)
    write_env(tmp_path, GTM_TORCH_THREADS="2")
    Embedder()
    assert torch.get_num_threads() == 2
