"""Graph level: the weekly report's second run answers its analytics from the cache."""

from __future__ import annotations

from pathlib import Path

from langgraph.checkpoint.memory import InMemorySaver

from app.cache.tiered import TieredCache
from app.report import weekly_report
from app.runtime import Copilot
from app.services import build_services
from graph.nodes.parallel import REPORT_TASKS
from graph.routing.decide import RouteDecision
from tests.cache.conftest import make_settings

CACHED_REPORT_TOOLS = {"channel_performance", "compute_metric", "forecast_revenue", "rfm_segments", "churn_risk"}


class ReportRouter:
    """Sends everything to the parallel report (the classifier is tested elsewhere)."""

    async def __call__(self, text: str, previous_route: str | None) -> RouteDecision:
        return RouteDecision(route="parallel", confidence=1.0, method="keywords", reason="weekly report")

    async def split(self, text: str) -> None:
        return None  # never two requests in one


async def test_second_weekly_report_hits_the_cache(tmp_path: Path, db_url: str) -> None:
    assert CACHED_REPORT_TOOLS == {name for tasks in REPORT_TASKS.values() for name, _ in tasks} - {"ticket_stats"}
    settings = make_settings(tmp_path, db_url)
    services = build_services(settings, router=ReportRouter())
    cache = services.extras["cache"]
    assert isinstance(cache, TieredCache)
    async with Copilot.open(settings, services=services, checkpointer=InMemorySaver()) as copilot:
        first = await weekly_report(copilot)
        computed = cache.stats[("compute", "miss")]
        hits = cache.stats[("l1", "hit")]
        assert computed == len(CACHED_REPORT_TOOLS)
        second = await weekly_report(copilot)
    assert cache.stats[("compute", "miss")] == computed  # nothing recomputed
    assert cache.stats[("l1", "hit")] == hits + len(CACHED_REPORT_TOOLS)
    assert second.markdown == first.markdown
    assert second.charts == first.charts
    assert any(first.charts.values())
