"""Data versions and the L3 cache on a real PostgreSQL server (skipped when none is reachable)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from app.cache.tiered import TieredCache
from app.cache.versions import bump_data_versions, read_data_versions
from app.data.db import get_engine

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture
def pg_engine() -> Iterator[sa.Engine]:
    pytest.importorskip("psycopg")
    admin = sa.create_engine(SERVER, connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("select 1"))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432: {exc.orig}")
    schema = f"gtm_cache_{uuid.uuid4().hex[:10]}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    engine = get_engine(f"{SERVER}?options=-csearch_path%3D{schema}")
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def test_versions_and_l3_on_postgres(pg_engine: sa.Engine) -> None:
    assert read_data_versions(pg_engine) == {}
    cache = TieredCache(engine=pg_engine)
    cache.set("a", {"x": 1}, tags=("transactions",))
    cache.set("a", {"x": 2}, tags=("transactions",))  # overwrite
    cache.set("b", [1], tags=("channels",))
    assert TieredCache(engine=pg_engine).get("a") == {"x": 2}
    with pg_engine.begin() as conn:
        bump_data_versions(conn, "transactions", "transactions")
    with pg_engine.begin() as conn:
        bump_data_versions(conn, "transactions", "channels")
    versions = read_data_versions(pg_engine)
    assert versions["transactions"].startswith("2.") and versions["channels"].startswith("1.")
    fresh = TieredCache(engine=pg_engine)
    assert fresh.get("a") is None and fresh.get("b") is None
