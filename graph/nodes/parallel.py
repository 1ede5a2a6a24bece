"""Parallel report: fan out to every agent with `Send`, then aggregate.

Each branch runs under its own timeout; one failing branch does not fail the report: its error
shows in its section. Seed: `weekly_gtm_run()` with `asyncio.gather(..., return_exceptions=True)`.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import Command, Send

from graph.context import Context, Services
from graph.state import AGENTS, AgentName, BranchState, GraphState
from graph.tools.executor import call_with_retries

REPORT_TASKS: dict[AgentName, list[tuple[str, dict[str, Any]]]] = {
    "marketing": [("channel_performance", {"period": "last 7 days"})],
    "finance": [
        ("compute_metric", {"metric": "cac", "period": "last 30 days"}),
        ("forecast_revenue", {"horizon_months": 3}),
    ],
    "insights": [("rfm_segments", {}), ("churn_risk", {"top_n": 10})],
    "support": [("ticket_stats", {"period": "last 7 days"})],
}
"""The tool calls behind each section of the weekly report."""


async def dispatch_parallel(state: GraphState) -> Command[Literal["run_branch"]]:
    """Parallel: one branch per agent, all at once."""
    return Command(goto=[Send("run_branch", BranchState(agent=a, request=state["request"])) for a in AGENTS])


async def _run_task(services: Services, agent: AgentName, name: str, args: dict[str, Any]) -> dict[str, Any]:
    settings = services.settings
    tool = services.tool(agent, name)
    return await call_with_retries(
        tool, agent, args, attempts=settings.max_tool_attempts, timeout_s=settings.tool_timeout_s
    )


async def run_branch(state: BranchState, runtime: Runtime[Context]) -> dict[str, Any]:
    """One agent's section of the report, with a timeout; failures become the section's error."""
    services = runtime.context.services
    agent = state["agent"]

    async def work() -> list[dict[str, Any]]:
        results = [await _run_task(services, agent, name, args) for name, args in REPORT_TASKS[agent]]
        if agent == "support" and services.reviews is not None:
            pending = await services.reviews.pending_escalations()
            results.append({"headline": f"{pending} escalation(s) waiting for a reviewer", "facts": []})
        return results

    try:
        results = await asyncio.wait_for(work(), timeout=services.settings.branch_timeout_s)
    except TimeoutError:
        error = f"timed out after {services.settings.branch_timeout_s:g}s"
        return {"results": {agent: {"ok": False, "error": error}}, "errors": [f"{agent}: {error}"]}
    except Exception as exc:  # noqa: BLE001 - one branch's failure must not fail the report
        error = " ".join(str(exc).split())[:300] or type(exc).__name__
        return {"results": {agent: {"ok": False, "error": error}}, "errors": [f"{agent}: {error}"]}
    charts = [r["chart"] for r in results if r.get("chart")]
    return {"results": {agent: {"ok": True, "results": results}}, "charts": charts}


async def aggregate(state: GraphState) -> dict[str, Any]:
    """Aggregator: collect the sections in report order and count what succeeded."""
    results = state.get("results", {})
    sections = {agent: results.get(agent, {"ok": False, "error": "branch did not report"}) for agent in AGENTS}
    succeeded = [a for a, s in sections.items() if s.get("ok")]
    return {
        "results": {
            "report": {
                "sections": sections,
                "succeeded": succeeded,
                "failed": [a for a in AGENTS if a not in succeeded],
            }
        }
    }
