"""Browser tests: the real server (`gtm serve`) on loopback, driven by Playwright with Debian's Chromium.

One server per session, in a subprocess, on a free port, with its own `GTM_HOME` prepared by
`gtm setup` (demo data and a slice of the knowledge base) and the offline model. The demo accounts
are generated at its first start and read from `GTM_HOME/demo-accounts.txt`. Screenshots and the
server log go to `test-artifacts/` (git-ignored).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from app.settings import REPO_ROOT
from tests.kb_slice import copy_kb
from tests.server_process import ServerProcess
from tests.smtp_sink import Inbox, running_inbox

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = REPO_ROOT / "test-artifacts"
START_TIMEOUT_S = 300.0
"""How long the server may take to answer `/healthz` (a loaded machine needs minutes)."""

BROWSER_TESTS = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this folder `browser` (so `-m "not browser"` leaves them out)."""
    for item in items:
        if BROWSER_TESTS in item.path.parents:
            item.add_marker(pytest.mark.browser)


def _ensure_chromium() -> None:
    """Install Debian's Chromium when it is missing; skip the browser tests if that fails."""
    if CHROMIUM.exists():
        return
    try:
        subprocess.run(["apt-get", "update"], check=True, capture_output=True, timeout=300)
        subprocess.run(["apt-get", "install", "-y", "chromium"], check=True, capture_output=True, timeout=600)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"browser tests need /usr/bin/chromium and `apt-get install chromium` failed: {exc}")
    if not CHROMIUM.exists():
        pytest.skip("browser tests need /usr/bin/chromium; `apt-get install chromium` did not provide it")


@pytest.fixture(scope="session")
def smtp_inbox() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server (aiosmtpd) on a free loopback port, for the whole session."""
    with running_inbox() as running:
        yield running


@dataclass(kw_only=True)
class Server(ServerProcess):
    """`gtm serve` on `home` (its log in `test-artifacts/server.log`); `restart()` stops and starts it on the same port."""

    home: Path
    inbox: Inbox = field(default_factory=Inbox)
    log_path: Path = ARTIFACTS / "server.log"
    start_timeout_s: float = START_TIMEOUT_S
    stop_timeout_s: float = 15.0

    def start(self) -> None:
        """Start the server and wait until `/healthz` answers."""
        self.launch()

    def restart(self) -> None:
        """Stop and start again (same home, same port)."""
        self.stop()
        self.start()

    def accounts(self) -> dict[str, str]:
        """The demo accounts written at first start: `{username: password}`."""
        text = (self.home / "demo-accounts.txt").read_text(encoding="utf-8")
        return {line.split("\t")[0]: line.split("\t")[1] for line in text.splitlines() if not line.startswith("#")}


def start_server(
    root: Path, env_update: dict[str, str], *, log_name: str = "server.log", inbox: Inbox | None = None
) -> Server:
    """Prepare a home under `root` (`gtm setup`: demo data, the knowledge-base slice) and start the server on it.

    Its environment is this process's without any `GTM_*` or OpenAI variable, plus the test defaults and
    `env_update`.
    """
    _ensure_chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / log_name).write_bytes(b"")
    kb_dir = copy_kb(root / "kb")
    home = root / "home"
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("GTM_", "OPENAI_")) and key != "CHAINLIT_AUTH_SECRET"
    }
    env |= {
        "GTM_HOME": str(home),
        "GTM_KB_DIR": str(kb_dir),
        "GTM_DEMO_MODE": "true",
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
        **env_update,
    }
    setup = subprocess.run(
        [sys.executable, "-m", "app.cli.main", "setup"], cwd=REPO_ROOT, env=env, capture_output=True, timeout=300
    )
    assert setup.returncode == 0, setup.stderr.decode()[-2000:]
    running = Server(home=home, env=env, inbox=inbox or Inbox(), log_path=ARTIFACTS / log_name)
    running.start()
    return running


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, smtp_inbox: tuple[Inbox, int]) -> Iterator[Server]:
    """A seeded home and the real server, with the offline model, on a free loopback port (stopped at the end)."""
    running = start_server(
        tmp_path_factory.mktemp("browser"),
        {
            "GTM_LLM_PROVIDER": "offline",
            # a hosted model's pace, so the page really receives the answer in several batches (app.web.token_batches)
            "GTM_OFFLINE_TOKEN_DELAY_S": "0.01",
            "GTM_SMTP_HOST": "127.0.0.1",
            "GTM_SMTP_PORT": str(smtp_inbox[1]),
            "GTM_SMTP_TIMEOUT_S": "5",
        },
        inbox=smtp_inbox[0],
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[object]:
    """Headless Debian Chromium under Playwright (no browser download).

    Module-scoped: Playwright's sync API runs its own event loop while it is open, which would break
    the async tests collected after this module.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()
