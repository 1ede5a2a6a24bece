"""`TieredCache` against a real Redis on loopback and a real SQLite database."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from app.cache.tiered import TieredCache
from app.cache.versions import bump_data_versions, read_data_versions
from app.data.db import get_engine
from app.data.schema import cache_entries
from tests.cache.conftest import RedisServer

VALUE = {"headline": "RFM", "facts": ["a", "b"], "data": {"n": 3, "share": 0.25, "nested": [1, 2.5, None]}}


@pytest.fixture
def engine(tmp_path: Path) -> Any:
    return get_engine(f"sqlite:///{tmp_path / 'cache.db'}")


def test_l1_hit_returns_an_independent_copy() -> None:
    cache = TieredCache()
    cache.set("k", VALUE)
    first = cache.get("k")
    assert first == VALUE
    first["facts"].append("changed by a caller")
    assert cache.get("k") == VALUE
    assert cache.stats[("l1", "hit")] == 2
    assert cache.get("missing", "default") == "default"
    assert cache.stats[("l1", "miss")] == 1


def test_values_must_be_json() -> None:
    with pytest.raises(TypeError):
        TieredCache().set("k", {"when": object()})


def test_get_or_compute_computes_once_and_fresh_equals_cached() -> None:
    cache = TieredCache()
    calls: list[int] = []

    def compute() -> dict[str, Any]:
        calls.append(1)
        return {"t": (1, 2), "x": 1.5}

    fresh = cache.get_or_compute("k", compute)
    cached = cache.get_or_compute("k", compute)
    assert fresh == cached == {"t": [1, 2], "x": 1.5}
    assert len(calls) == 1
    assert cache.stats[("compute", "miss")] == 1


def test_l2_hit_from_another_instance_with_an_empty_l1(redis_server: RedisServer) -> None:
    writer = TieredCache(redis_url=redis_server.url)
    writer.set("shared", VALUE, tags=("transactions",))
    reader = TieredCache(redis_url=redis_server.url)  # another process: its own, empty L1
    assert reader.get("shared") == VALUE
    assert reader.stats[("l1", "miss")] == 1
    assert reader.stats[("l2", "hit")] == 1
    assert reader.get("shared") == VALUE  # now filled into L1
    assert reader.stats[("l1", "hit")] == 1
    assert reader.stats[("l2", "hit")] == 1
    raw = redis_server.client()
    assert raw.ttl("gtm:cache:shared") > 86000  # type: ignore[attr-defined]
    assert raw.smembers("gtm:cache:tag:transactions") == {b"shared"}  # type: ignore[attr-defined]


def test_l3_hit_with_redis_down(redis_server: RedisServer, engine: Any) -> None:
    writer = TieredCache(redis_url=redis_server.url, engine=engine)
    writer.set("k", VALUE, tags=("transactions",), version="transactions=1.x")
    redis_server.stop()
    reader = TieredCache(redis_url=redis_server.url, engine=engine, l2_backoff_s=3600)
    assert reader.get("k") == VALUE
    assert reader.stats[("l2", "error")] == 1
    assert reader.stats[("l3", "hit")] == 1
    with engine.connect() as conn:
        row = conn.execute(sa.select(cache_entries).where(cache_entries.c.key == "k")).one()
    assert row.domains == "|transactions|"
    assert row.data_version == "transactions=1.x"


def test_l3_only_without_redis(engine: Any) -> None:
    TieredCache(engine=engine).set("k", VALUE)
    reader = TieredCache(engine=engine)
    assert reader.get("k") == VALUE
    assert reader.stats[("l3", "hit")] == 1
    assert ("l2", "error") not in reader.stats


def test_ttl_expiry_at_every_level(redis_server: RedisServer, engine: Any) -> None:
    cache = TieredCache(redis_url=redis_server.url, engine=engine, l1_ttl_s=0.2, l2_ttl_s=2.0)
    cache.set("k", VALUE)
    assert cache.get("k") == VALUE
    time.sleep(0.4)  # past the L1 TTL, not the L2 one
    assert cache.get("k") == VALUE
    assert cache.stats[("l2", "hit")] == 1
    time.sleep(2.0)  # past the L2/L3 TTL as well
    other = TieredCache(redis_url=redis_server.url, engine=engine, l1_ttl_s=0.2, l2_ttl_s=2.0)
    assert other.get("k") is None
    assert other.stats[("l2", "miss")] == 1
    assert other.stats[("l3", "miss")] == 1
    assert other.purge_expired() == 1


def test_circuit_breaker_stops_hammering_and_reconnects(redis_server: RedisServer, engine: Any) -> None:
    cache = TieredCache(redis_url=redis_server.url, engine=engine, l2_backoff_s=3600)
    for i in range(5):
        cache.set(f"k{i}", {"i": i})
    redis_server.stop()
    cache.clear_local()  # only L2/L3 could answer now
    values = [cache.get(f"k{i}") for i in range(5)] + [cache.get_or_compute("new", lambda: {"fresh": True})]
    assert values == [{"i": i} for i in range(5)] + [{"fresh": True}]
    assert cache.stats[("l2", "error")] == 1  # one failed attempt opened the breaker...
    assert cache.stats[("l2", "skipped")] == 5  # ...the other lookups did not touch Redis
    assert cache.stats[("l3", "hit")] == 5
    assert not cache.l2_available

    redis_server.start()
    cache.reset_l2_breaker()  # the back-off is over
    cache.set("after", {"back": True})
    assert redis_server.client().get("gtm:cache:after") == b'{"back":true}'  # type: ignore[attr-defined]
    cache.clear_local()
    assert cache.get("after") == {"back": True}
    assert cache.stats[("l2", "hit")] == 1


def test_drop_stale_removes_old_versions_from_l1_and_l2(redis_server: RedisServer) -> None:
    cache = TieredCache(redis_url=redis_server.url)
    cache.set("tool:x@transactions=1.a", {"v": 1}, tags=("transactions",))
    cache.set("tool:x@transactions=2.a", {"v": 2}, tags=("transactions",))
    cache.set("tool:y@channels=1.b", {"v": 3}, tags=("channels",))
    cache.observe_versions({"transactions": "1.a"})
    cache.observe_versions({"transactions": "2.a"})
    assert cache.get_local("tool:x@transactions=1.a") is None
    assert cache.get_local("tool:x@transactions=2.a") == {"v": 2}
    assert cache.get_local("tool:y@channels=1.b") == {"v": 3}
    raw = redis_server.client()
    assert raw.exists("gtm:cache:tool:x@transactions=1.a") == 0  # type: ignore[attr-defined]
    assert raw.exists("gtm:cache:tool:x@transactions=2.a") == 1  # type: ignore[attr-defined]


def test_bump_deletes_l3_rows_of_the_domain_and_changes_the_version(engine: Any) -> None:
    cache = TieredCache(engine=engine)
    cache.set("a", 1, tags=("transactions",))
    cache.set("b", 2, tags=("channels",))
    before = read_data_versions(engine)
    with engine.begin() as conn:
        bump_data_versions(conn, "transactions")
    after = read_data_versions(engine)
    assert after["transactions"] != before.get("transactions")
    assert after["transactions"].startswith("1.")
    with engine.begin() as conn:
        bump_data_versions(conn, "transactions")
    assert read_data_versions(engine)["transactions"] == "2." + after["transactions"].split(".")[1]
    with engine.connect() as conn:
        keys = set(conn.execute(sa.select(cache_entries.c.key)).scalars())
    assert keys == {"b"}


def test_long_keys_are_hashed(engine: Any) -> None:
    cache = TieredCache(engine=engine)
    key = "llm:" + "x" * 500
    cache.set(key, [1])
    assert TieredCache(engine=engine).get(key) == [1]
    assert TieredCache.storage_key(key).startswith("h:")


async def test_async_variants_answer_from_every_level(redis_server: RedisServer, engine: Any) -> None:
    cache = TieredCache(redis_url=redis_server.url, engine=engine)

    async def compute() -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"async": True}

    assert await cache.aget_or_compute("a", compute) == {"async": True}
    other = TieredCache(redis_url=redis_server.url, engine=engine)
    assert await other.aget("a") == {"async": True}
    assert other.stats[("l2", "hit")] == 1
    await other.aset("b", [1, 2])
    assert await cache.aget("b") == [1, 2]


def test_concurrent_misses_of_one_key_compute_once() -> None:
    from concurrent.futures import ThreadPoolExecutor

    cache = TieredCache()
    release = threading.Event()
    calls: list[int] = []

    def compute() -> dict[str, int]:
        calls.append(1)
        release.wait(5)
        return {"v": 1}

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(cache.get_or_compute, "k", compute) for _ in range(4)]
        release.set()
        assert [f.result() for f in futures] == [{"v": 1}] * 4
    assert calls == [1]


def test_errors_are_not_cached() -> None:
    cache = TieredCache()
    attempts: list[int] = []

    def flaky() -> int:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("database busy")
        return 7

    with pytest.raises(RuntimeError):
        cache.get_or_compute("k", flaky)
    assert cache.get_or_compute("k", flaky) == 7
    assert len(attempts) == 2


def test_prometheus_counters_per_level_and_result() -> None:
    from app.monitoring import process_metrics

    metrics = process_metrics()

    def value(level: str, result: str) -> float:
        sample = metrics.registry.get_sample_value("gtm_cache_requests_total", {"level": level, "result": result})
        return sample or 0.0

    hits, misses = value("l1", "hit"), value("l1", "miss")
    cache = TieredCache()
    cache.set("k", 1)
    cache.get("k")
    cache.get("k")
    cache.get("other")
    assert value("l1", "hit") == hits + 2
    assert value("l1", "miss") == misses + 1
    assert b'gtm_cache_requests_total{level="l1",result="hit"}' in metrics.exposition()
