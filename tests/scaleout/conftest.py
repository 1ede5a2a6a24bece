"""Scale-out fixtures: real PostgreSQL (127.0.0.1:5432, trust auth) and Redis (127.0.0.1:6379) on loopback.

When a server is not running, it is started with the machine's own commands; the tests skip only if
that fails. Each session gets a throwaway PostgreSQL database (checkpoints and business data), dropped
at the end, and one Redis database number, flushed before and after.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.durability.server import base_env, gtm
from tests.graph.test_outbox import smtp  # noqa: F401 - a real SMTP server on loopback (fixture)
from tests.kb_slice import copy_kb

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_DB = 14
PG_START = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
REDIS_START = (
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no '
    "--dir /var/lib/redis --logfile /var/log/redis/ci.log"
)


def _pg_up() -> bool:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3) as conn:
            conn.execute("select 1")
    except psycopg.OperationalError:
        return False
    return True


def _redis_up() -> bool:
    import redis

    try:
        return bool(redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


def _ensure(name: str, up: object, command: str) -> None:
    """Start a service with `command` if it does not answer; skip when it still does not."""
    assert callable(up)
    if up():
        return
    subprocess.run(command, shell=True, capture_output=True, timeout=60, check=False)
    for _ in range(40):
        if up():
            return
        time.sleep(0.5)
    pytest.skip(f"{name} is not running on loopback and `{command}` did not start it")


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A throwaway PostgreSQL database; yields its name."""
    pytest.importorskip("psycopg")
    import psycopg

    _ensure("PostgreSQL", _pg_up, PG_START)
    name = f"gtm_scaleout_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A Redis database number of this session (flushed before and after)."""
    import redis

    _ensure("Redis", _redis_up, REDIS_START)
    client = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
    client.flushdb()
    try:
        yield f"redis://127.0.0.1:6379/{REDIS_DB}"
    finally:
        client.flushdb()
        client.close()


@dataclass
class Stack:
    """Shared services of several app processes, and one prepared `GTM_HOME` per process."""

    checkpoint_url: str
    database_url: str
    redis_url: str
    kb_dir: Path
    homes: list[Path]

    def env(self, index: int, **extra: str) -> dict[str, str]:
        """Environment of app process `index` (its own home, everything else shared)."""
        return base_env(
            self.homes[index],
            self.kb_dir,
            GTM_CHECKPOINT_URL=self.checkpoint_url,
            GTM_DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            CHAINLIT_AUTH_SECRET="scale-out-test-secret-shared-by-every-process",
            **extra,
        )


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, pg_database: str, redis_url: str) -> Stack:
    """`gtm setup` once against PostgreSQL (seed + knowledge-base index), the home copied for a second process."""
    root = tmp_path_factory.mktemp("scaleout")
    result = Stack(
        checkpoint_url=f"postgresql://postgres@127.0.0.1:5432/{pg_database}",
        database_url=f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_database}",
        redis_url=redis_url,
        kb_dir=copy_kb(root / "kb"),
        homes=[root / "home-a", root / "home-b"],
    )
    gtm(result.env(0), "setup")
    shutil.copytree(result.homes[0], result.homes[1])  # the local knowledge-base index; nothing else is local
    return result
