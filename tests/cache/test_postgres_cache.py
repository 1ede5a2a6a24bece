"""Data versions and the L3 cache on a real PostgreSQL server (skipped when none is reachable)."""

from __future__ import annotations

import sqlalchemy as sa

from app.cache.tiered import TieredCache
from app.cache.versions import bump_data_versions, read_data_versions


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
