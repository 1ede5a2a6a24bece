"""Parallel report: fan out to every agent with `Send`, then aggregate.

Each branch runs its agent's tools and then has the agent's own model write its section of the report
(one model call per branch), all under the branch's own timeout; one failing branch does not fail the
report: its error shows in its section. Seed: `weekly_gtm_run()` with
`asyncio.gather(..., return_exceptions=True)`.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import Command, Send

from graph.context import Context, Services
from graph.nodes.common import results_json, task_message, text_of
from graph.state import AGENTS, REPORT_SECTIONS, AgentName, BranchState, GraphState
from graph.tools.executor import call_with_retries

REPORT_PERIOD = "the last 7 days"
"""The period the weekly report covers (as the report's prompts name it)."""

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


async def write_section(services: Services, agent: AgentName, results: list[dict[str, Any]]) -> str:
    """The agent's own model writes its section of the report from its tool results."""
    values = {
        "agent": agent,
        "section_title": REPORT_SECTIONS[agent],
        "period": REPORT_PERIOD,
        "results_json": results_json(results),
    }
    reply = await services.model(agent).ainvoke(
        [task_message("supervisor.report_section", values)],
        config={"tags": ["section", "nostream"]},
    )
    return text_of(reply).strip()


async def run_branch(state: BranchState, runtime: Runtime[Context]) -> dict[str, Any]:
    """One agent's section of the report, with a timeout; failures become the section's error."""
    services = runtime.context.services
    agent = state["agent"]

    async def work() -> tuple[list[dict[str, Any]], str | None, list[str]]:
        results = [await _run_task(services, agent, name, args) for name, args in REPORT_TASKS[agent]]
        if agent == "support" and services.reviews is not None:
            pending = await services.reviews.pending_escalations()
            results.append({"headline": f"{pending} escalation(s) waiting for a reviewer", "facts": []})
        try:
            return results, await write_section(services, agent, results), []
        except Exception as exc:  # noqa: BLE001 - without its summary the section still shows its results
            error = " ".join(str(exc).split())[:300] or type(exc).__name__
            return results, None, [f"{agent}: the section summary failed ({error}); showing the tool results"]

    try:
        results, summary, notes = await asyncio.wait_for(work(), timeout=services.settings.branch_timeout_s)
    except TimeoutError:
        error = f"timed out after {services.settings.branch_timeout_s:g}s"
        return {"results": {agent: {"ok": False, "error": error}}, "errors": [f"{agent}: {error}"]}
    except Exception as exc:  # noqa: BLE001 - one branch's failure must not fail the report
        error = " ".join(str(exc).split())[:300] or type(exc).__name__
        return {"results": {agent: {"ok": False, "error": error}}, "errors": [f"{agent}: {error}"]}
    charts = [r["chart"] for r in results if r.get("chart")]
    section = {"ok": True, "results": results, "summary": summary}
    return {"results": {agent: section}, "charts": charts, "errors": notes}


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
