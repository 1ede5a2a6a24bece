"""The analytics tools read through the cache: identical results, invalidation by data version, Redis
outages that never fail a tool call."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from langchain_core.tools import BaseTool

from app.cache.tools import cache_for, reset_caches
from app.cache.versions import read_data_versions
from app.data.db import get_engine
from app.data.importer import import_transactions
from app.data.queries import data_bounds
from app.data.schema import cache_entries
from app.settings import Settings
from app.tickets import TicketStore
from graph.tools.registry import build_tools
from tests.cache.conftest import RedisServer, make_settings

CACHED_CALLS: list[tuple[str, str, dict[str, Any]]] = [
    ("insights", "rfm_segments", {}),
    ("insights", "churn_risk", {"top_n": 10}),
    ("insights", "cohort_retention", {"months": 6}),
    ("finance", "forecast_revenue", {"horizon_months": 3}),
    ("finance", "compute_metric", {"metric": "cac", "period": "last 30 days"}),
    ("finance", "cac_by_channel", {"period": "last quarter"}),
    ("marketing", "channel_performance", {"period": "last 7 days"}),
]


def tool(settings: Settings, agent: str, name: str) -> BaseTool:
    engine = get_engine(settings.business_db_url)
    return next(t for t in build_tools(engine, settings)[agent] if t.name == name)  # type: ignore[index]


async def call(settings: Settings, agent: str, name: str, args: dict[str, Any]) -> Any:
    return await tool(settings, agent, name).ainvoke(args)


async def test_cached_results_are_identical_to_fresh_ones(tmp_path: Path, db_url: str) -> None:
    cached = make_settings(tmp_path, db_url)
    uncached = make_settings(tmp_path, db_url, cache_enabled=False)
    for agent, name, args in CACHED_CALLS:
        first = await call(cached, agent, name, args)
        second = await call(cached, agent, name, args)
        fresh = await call(uncached, agent, name, args)
        assert first == second, name
        # The uncached tool returns numpy/date objects; the cached one their JSON form, as the graph stores them.
        from graph.tools.base import to_jsonable

        assert second == to_jsonable(fresh), name
        assert second["headline"] and second["facts"], name
    stats = cache_for(get_engine(db_url), cached).stats  # type: ignore[union-attr]
    assert stats[("compute", "miss")] == len(CACHED_CALLS)
    assert stats[("l1", "hit")] == len(CACHED_CALLS)


async def test_arguments_are_part_of_the_key(tmp_path: Path, db_url: str) -> None:
    settings = make_settings(tmp_path, db_url)
    ten = await call(settings, "insights", "churn_risk", {"top_n": 10})
    three = await call(settings, "insights", "churn_risk", {"top_n": 3})
    assert len(ten["data"]["customers"]) == 10
    assert len(three["data"]["customers"]) == 3
    default = await call(settings, "insights", "churn_risk", {"top_n": 10, "horizon_weeks": 13})
    assert default == ten  # explicit defaults hit the same entry
    stats = cache_for(get_engine(db_url), settings).stats  # type: ignore[union-attr]
    assert stats[("compute", "miss")] == 2


async def test_a_release_with_other_code_does_not_read_the_old_results(
    tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis and the database keep entries across restarts: a new release must not be served the old ones."""
    from app.cache import tools as tool_cache

    settings = make_settings(tmp_path, db_url)
    current = tool_cache.code_version()
    assert re.fullmatch(r"[0-9a-f]{12}", current)
    await call(settings, "insights", "churn_risk", {"top_n": 10})
    await call(settings, "insights", "churn_risk", {"top_n": 10})
    stats = cache_for(get_engine(db_url), settings).stats  # type: ignore[union-attr]
    assert stats[("compute", "miss")] == 1
    reset_caches()  # a restart...
    monkeypatch.setattr(tool_cache, "code_version", lambda: "0123456789ab")  # ...on other code
    await call(settings, "insights", "churn_risk", {"top_n": 10})
    stats = cache_for(get_engine(db_url), settings).stats  # type: ignore[union-attr]
    assert stats[("compute", "miss")] == 1 and stats.get(("l3", "hit"), 0) == 0  # computed again, not read back
    with get_engine(db_url).connect() as conn:
        keys = list(conn.execute(sa.select(cache_entries.c.key)).scalars())
    assert sorted(k.rsplit("~", 1)[1] for k in keys) == sorted([current, "0123456789ab"])


async def test_an_import_invalidates_rfm_and_churn(tmp_path: Path, db_url: str) -> None:
    settings = make_settings(tmp_path, db_url)
    engine = get_engine(db_url)
    rfm_before = await call(settings, "insights", "rfm_segments", {})
    churn_before = await call(settings, "insights", "churn_risk", {"top_n": 10})
    leads_before = await call(settings, "insights", "score_leads", {})
    versions = read_data_versions(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(cache_entries)).scalar_one() == 3

    _, last = data_bounds(engine)
    csv = tmp_path / "tx.csv"
    csv.write_text(
        "customer,date,amount\n"
        + "".join(
            f"NEW-{i},{last.isoformat()},{100 + i}.00\nNEW-{i},{last.isoformat()},{50 + i}.00\n" for i in range(5)
        )
    )
    import_transactions(engine, csv, "customer", "date", "amount")

    after = read_data_versions(engine)
    assert after["transactions"] != versions["transactions"]
    assert after["channels"] == versions["channels"]
    with engine.connect() as conn:  # the L3 rows that read transactions are gone, the leads one stays
        keys = list(conn.execute(sa.select(cache_entries.c.key)).scalars())
    assert len(keys) == 1 and keys[0].startswith("tool:insights.leads:")

    rfm_after = await call(settings, "insights", "rfm_segments", {})
    churn_after = await call(settings, "insights", "churn_risk", {"top_n": 10})
    assert rfm_after["data"]["total_customers"] == rfm_before["data"]["total_customers"] + 5
    assert churn_after != churn_before
    assert churn_after["data"]["bands"] != churn_before["data"]["bands"]
    assert await call(settings, "insights", "score_leads", {}) == leads_before
    stats = cache_for(engine, settings).stats  # type: ignore[union-attr]
    assert stats[("compute", "miss")] == 5  # 3 cold + rfm and churn again; leads came from L1


async def test_another_process_sees_the_import(tmp_path: Path, db_url: str, redis_server: RedisServer) -> None:
    settings = make_settings(tmp_path, db_url, redis_url=redis_server.url)
    engine = get_engine(db_url)
    before = await call(settings, "insights", "rfm_segments", {})
    reset_caches()  # "another process": empty L1, same Redis and database
    assert await call(settings, "insights", "rfm_segments", {}) == before
    assert cache_for(engine, settings).stats[("l2", "hit")] == 1  # type: ignore[union-attr]

    _, last = data_bounds(engine)
    csv = tmp_path / "one.csv"
    csv.write_text(f"customer,date,amount\nOTHER-1,{last.isoformat()},10.00\n")
    import_transactions(engine, csv, "customer", "date", "amount")
    after = await call(settings, "insights", "rfm_segments", {})
    assert after["data"]["total_customers"] == before["data"]["total_customers"] + 1


async def test_ticket_writes_bump_the_tickets_version(tmp_path: Path, db_url: str) -> None:
    engine = get_engine(db_url)
    before = read_data_versions(engine)["tickets"]
    store = TicketStore(engine)
    ticket = store.create("Sensor offline", "It blinks red")
    mid = read_data_versions(engine)["tickets"]
    store.update(int(ticket["id"]), status="solved")
    after = read_data_versions(engine)["tickets"]
    counters = [int(v.split(".")[0]) for v in (before, mid, after)]
    assert counters == [counters[0], counters[0] + 1, counters[0] + 2]


async def test_tools_keep_working_when_redis_stops(tmp_path: Path, db_url: str, redis_server: RedisServer) -> None:
    settings = make_settings(tmp_path, db_url, redis_url=redis_server.url, cache_l2_backoff_s=3600)
    engine = get_engine(db_url)
    warm = {name: await call(settings, agent, name, args) for agent, name, args in CACHED_CALLS[:3]}
    cache = cache_for(engine, settings)
    assert cache is not None
    assert redis_server.client().dbsize() > 0  # type: ignore[attr-defined]

    redis_server.stop()
    cache.clear_local()
    for agent, name, args in CACHED_CALLS[:3]:  # L1 empty, Redis gone: the database answers
        assert await call(settings, agent, name, args) == warm[name]
    # a never-seen call computes and still succeeds
    fresh = await call(settings, "insights", "cohort_retention", {"months": 3})
    assert fresh["headline"]
    for agent, name, args in CACHED_CALLS[:3]:
        assert await call(settings, agent, name, args) == warm[name]
    assert cache.stats[("l2", "error")] == 1  # the breaker opened after one failure...
    assert cache.stats[("l2", "skipped")] == 3  # ...and later misses did not hammer Redis
    assert cache.stats[("l3", "hit")] == 3

    redis_server.start()  # back, empty
    cache.reset_l2_breaker()
    assert await call(settings, "insights", "cohort_retention", {"months": 3}) == fresh  # from L1
    cache.clear_local()
    await call(settings, "insights", "cohort_retention", {"months": 4})  # computed, written through to Redis
    keys = redis_server.client().keys("gtm:cache:tool:*")  # type: ignore[attr-defined]
    assert any(k.startswith(b"gtm:cache:tool:insights.cohorts") for k in keys)
    assert await call(settings, "insights", "rfm_segments", {}) == warm["rfm_segments"]
    assert cache.stats[("l2", "miss")] >= 1  # Redis answered (empty after the restart) and L3 filled in
