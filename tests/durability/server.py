"""The real server (`gtm serve`) as a subprocess for multi-process tests: start, SIGKILL, restart.

Used by the durability and scale-out tests. Accounts and API tokens are made with the real CLI
(`gtm users add`, `gtm users token`) before the server starts, so no demo accounts are needed.
Server logs go to `test-artifacts/` (git-ignored).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from app.settings import REPO_ROOT
from tests.server_process import ServerProcess

ARTIFACTS = REPO_ROOT / "test-artifacts"
START_TIMEOUT_S = 420.0
"""Start-up loads the embedding model, the classifier and the index: minutes on a loaded 2-core machine."""
WHITE_LABEL = "Do you offer a white-label version for resellers?"
PASSWORD = "correct-horse-battery"


def base_env(home: Path, kb_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a server and its CLI calls: offline model, no inherited GTM_ settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("GTM_") and key not in ("CHAINLIT_AUTH_SECRET", "OPENAI_API_KEY", "REDIS_URL")
    }
    env |= {
        "GTM_HOME": str(home),
        "GTM_KB_DIR": str(kb_dir),
        "GTM_LLM_PROVIDER": "offline",
        "GTM_DEMO_MODE": "true",
        "GTM_RETRY_WAIT_MIN_S": "0",
        "GTM_RETRY_WAIT_MAX_S": "0",
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    return env | extra


def gtm(env: dict[str, str], *args: str, stdin: str | None = None, timeout: float = 300) -> str:
    """Run the real CLI; returns stdout (asserts success)."""
    done = subprocess.run(
        [sys.executable, "-m", "app.cli.main", *args],
        cwd=REPO_ROOT,
        env=env,
        input=stdin.encode() if stdin is not None else None,
        capture_output=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"gtm {' '.join(args)}: {done.stderr.decode()[-2000:]}"
    return done.stdout.decode()


def add_user(env: dict[str, str], username: str, role: str) -> str:
    """Create an account and return a new API token for it."""
    gtm(env, "users", "add", username, "--role", role, "--password-stdin", stdin=PASSWORD + "\n")
    return token(env, username)


def token(env: dict[str, str], username: str) -> str:
    """A new API token for an existing account (`gtm users token NAME --json`)."""
    value: str = json.loads(gtm(env, "users", "token", username, "--json"))["token"]
    return value


@dataclass
class Server(ServerProcess):
    """`gtm serve` in a subprocess on a free port, its log in `test-artifacts/NAME.log`."""

    name: str = "server"
    log_path: Path = field(init=False)
    start_timeout_s: float = START_TIMEOUT_S

    def __post_init__(self) -> None:
        """Name the log after the server."""
        self.log_path = ARTIFACTS / f"{self.name}.log"

    def start(self) -> Server:
        """Start and wait until `/healthz` answers."""
        self.launch()
        return self

    def client(self, token: str, timeout: float = 120.0) -> httpx.Client:
        """An HTTP client for the server that sends `token` as its bearer token."""
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)


def wait_for(check: Any, timeout_s: float = 120.0, every_s: float = 0.5) -> Any:
    """Poll `check()` until it returns something truthy; fail with the last value after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every_s)
    raise AssertionError(f"gave up after {timeout_s:.0f} s; last value: {last!r}")


def sse(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Parse an SSE line stream into (event, data) pairs."""
    event = None
    for line in lines:
        if line.startswith("event: "):
            event = line[len("event: ") :]
        elif line.startswith("data: ") and event is not None:
            yield event, json.loads(line[len("data: ") :])
            event = None
