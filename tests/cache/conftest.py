"""Cache tests: a real `redis-server` of our own on a free loopback port, and a small seeded database.

The shared Redis on 6379 is never touched: each test that needs Redis starts its own server (no
persistence) and may stop or restart it on the same port to simulate an outage.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cache.tools import reset_caches
from app.settings import Settings

SEED_CUSTOMERS = 150


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """One `redis-server` subprocess on a fixed loopback port; `stop()` kills it, `start()` brings it back."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.skip("redis-server is not installed")
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def client(self) -> object:
        import redis

        return redis.Redis.from_url(self.url)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A private Redis for one test (killed afterwards)."""
    server = RedisServer(_free_port()).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    """No process-wide cache survives from one test to the next."""
    reset_caches()
    yield
    reset_caches()


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small business database seeded once per session (each test copies it)."""
    from app.data.db import get_engine, init_db
    from app.data.seed import seed_demo

    path = tmp_path_factory.mktemp("cache-seed") / "business.db"
    engine = get_engine(f"sqlite:///{path}")
    init_db(engine)
    seed_demo(engine, customers=SEED_CUSTOMERS, seed=5)
    engine.dispose()
    return path


@pytest.fixture
def db_url(tmp_path: Path, seeded_db: Path) -> str:
    """This test's own copy of the seeded database."""
    db = tmp_path / "business.db"
    shutil.copy(seeded_db, db)
    return f"sqlite:///{db}"


def make_settings(tmp_path: Path, db_url: str, **overrides: object) -> Settings:
    """Offline settings over `db_url`."""
    values: dict[str, object] = {
        "home": tmp_path / "home",
        "database_url": db_url,
        "llm_provider": "offline",
        "retry_wait_min_s": 0.0,
        "retry_wait_max_s": 0.0,
        "redis_url": None,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]
