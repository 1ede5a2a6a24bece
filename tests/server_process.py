"""The real server (`gtm serve`) in a subprocess on loopback: spawn, wait for `/healthz` (and `/readyz`), stop.

Shared by the browser tests, the durability and scale-out tests and the start-up benchmarks (`bench/`),
so it imports neither pytest nor the application: only the standard library and httpx.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServerProcess:
    """`gtm serve` in a subprocess on a loopback port, run from the repository with `env`, its output appended to `log_path`.

    `launch()` spawns it and waits for `/healthz` (and `/readyz`); `stop()` sends SIGTERM, then SIGKILL after
    `stop_timeout_s`; `kill()` sends SIGKILL at once. The port is kept, so a stopped server starts again on it.
    """

    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    start_timeout_s: float = 300.0
    stop_timeout_s: float = 20.0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the server."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The server's process id (it must be running)."""
        assert self.process is not None
        return self.process.pid

    def launch(self, *, wait_ready: bool = False) -> dict[str, float]:
        """Spawn the server and wait until `/healthz`, then (`wait_ready`) `/readyz`, answers 200.

        Returns the seconds from spawn to each answer (`{"healthz": …, "readyz": …}`). Raises RuntimeError,
        naming the log and quoting its end, if the process exits first or does not answer within
        `start_timeout_s` (then it is stopped).
        """
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "app.cli.main", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        times: dict[str, float] = {}
        deadline = started + self.start_timeout_s
        with httpx.Client(timeout=2.0) as client:
            for probe in ("healthz", "readyz") if wait_ready else ("healthz",):
                while not self._answers(client, probe):
                    if self.process.poll() is not None:
                        raise RuntimeError(
                            f"the server exited with {self.process.returncode}; see {self.log_path}:\n{self.log_tail()}"
                        )
                    if time.perf_counter() > deadline:
                        self.stop()
                        raise RuntimeError(
                            f"the server did not answer /{probe} within {self.start_timeout_s:.0f} s; "
                            f"see {self.log_path}:\n{self.log_tail()}"
                        )
                    time.sleep(0.1 if probe == "healthz" else 0.25)
                times[probe] = time.perf_counter() - started
        return times

    def _answers(self, client: httpx.Client, probe: str) -> bool:
        """Whether `GET /probe` answers 200 now."""
        try:
            return client.get(f"{self.url}/{probe}").status_code == 200
        except httpx.HTTPError:
            return False

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server's output."""
        text = self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs (and reap it, so its pid is really gone)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.process = None

    def stop(self) -> None:
        """Graceful stop: SIGTERM, then SIGKILL after `stop_timeout_s` (nothing if it is not running)."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=self.stop_timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
        self.process = None
