"""Win-back pipeline (seed: sequential Insights → Marketing → Finance, `WinBackState`).

Follows the win-back policy in `knowledge_base/brand-voice.md`. Insights picks the accounts the policy
allows (`churn_risk` with `winback_eligible`: Starter and Growth accounts cancelled in the 90 days up to
the data's last date, no win-back in the last 12 months, most valuable first); Marketing drafts one email
each with one incentive (a free month of the plan the account had, valid 14 days, the real deadline),
a named sender, the address and an unsubscribe link; Finance costs each account's free month at its
plan price. `customer_ids`, `churned_customers`, `email_drafts`, `campaign_cost` and `roi_estimate`
carry the real values from one agent to the next. When no account qualifies, nothing is drafted and
the reply says why.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.runtime import Runtime

from graph.context import Context
from graph.llm.resilience import LLMCallFailed
from graph.nodes.common import system_message, task_message, text_of
from graph.state import AgentName, GraphState
from graph.tools.executor import call_with_retries
from graph.tools.marketing import email_values

MAX_DRAFTS = 25
"""Drafts written per run (the rest of the list can be drafted on approval)."""
DRAFT_CONCURRENCY = 5
"""Drafts written at once with a hosted model."""


async def _call(runtime: Runtime[Context], agent: AgentName, name: str, args: dict[str, Any]) -> dict[str, Any]:
    services = runtime.context.services
    settings = services.settings
    return await call_with_retries(
        services.tool(agent, name), agent, args, attempts=settings.max_tool_attempts, timeout_s=settings.tool_timeout_s
    )


async def winback_insights(state: GraphState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Insights: select the accounts the win-back policy allows, most valuable first."""
    result = await _call(runtime, "insights", "churn_risk", {"top_n": MAX_DRAFTS, "winback_eligible": True})
    customers = list(result.get("data", {}).get("customers", []))
    return {
        "current_agent": "insights",
        "next_agent": "marketing",
        "churned_customers": customers,
        "customer_ids": [str(c["customer_id"]) for c in customers],
        "results": {"insights": result},
        "charts": [result["chart"]] if result.get("chart") else [],
    }


async def winback_marketing(state: GraphState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Marketing: one personalised email per selected account, with the offer the policy allows."""
    services = runtime.context.services
    if not state.get("customer_ids"):
        skipped = {
            "headline": "No win-back emails drafted: no account qualifies under the win-back policy",
            "facts": ["Win-backs go only to Starter and Growth accounts cancelled in the last 90 days, once a year."],
            "data": {"drafts": 0, "failed": 0},
        }
        return {"current_agent": "marketing", "next_agent": "finance", "results": {"marketing": skipped}}
    contexts = await _call(
        runtime, "marketing", "customer_context", {"customer_ids": state.get("customer_ids", [])[:MAX_DRAFTS]}
    )
    model = services.model("marketing")
    system = system_message("marketing", services, services.tools.get("marketing", []))
    gate = asyncio.Semaphore(DRAFT_CONCURRENCY)

    async def draft(ctx: dict[str, Any]) -> tuple[str, str | LLMCallFailed]:
        values = email_values(ctx, tone="warm")
        async with gate:
            try:
                reply = await model.ainvoke(
                    [system, task_message("marketing.email_draft", values)], config={"tags": ["nostream"]}
                )
            except LLMCallFailed as exc:  # this customer gets no draft; the others still do
                return str(ctx["customer_id"]), exc
        return str(ctx["customer_id"]), text_of(reply)

    written = await asyncio.gather(*(draft(c) for c in contexts.get("data", {}).get("customers", [])))
    drafts = {cid: text for cid, text in written if isinstance(text, str)}
    failures = [text for _, text in written if isinstance(text, LLMCallFailed)]
    result: dict[str, Any] = {
        "headline": f"{len(drafts)} personalised win-back emails drafted",
        "facts": [f"{len(failures)} could not be drafted: {failures[0].user_message}"] if failures else [],
        "data": {"drafts": len(drafts), "failed": len(failures)},
    }
    if failures:
        result.update(ok=False, error=str(failures[0]))
    return {
        "current_agent": "marketing",
        "next_agent": "finance",
        "email_drafts": drafts,
        "send_status": {cid: False for cid in drafts},
        "results": {"marketing": result},
    }


async def winback_finance(state: GraphState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Finance: campaign cost (each account's free month × expected redemptions + sending) and ROI."""
    customers = state.get("churned_customers", [])
    drafted = set(state.get("email_drafts", {}))
    if not drafted:
        skipped = {"headline": "Nothing to cost: no win-back emails were drafted", "facts": [], "data": {}}
        return {
            "current_agent": "finance",
            "next_agent": None,
            "campaign_cost": 0.0,
            "roi_estimate": 0.0,
            "results": {"finance": skipped},
        }
    result = await _call(
        runtime,
        "finance",
        "campaign_economics",
        {"customers": [c for c in customers if str(c["customer_id"]) in drafted]},
    )
    data = result.get("data", {})
    return {
        "current_agent": "finance",
        "next_agent": None,
        "campaign_cost": float(data.get("campaign_cost", 0.0)),
        "roi_estimate": float(data.get("roi", 0.0)),
        "results": {"finance": result},
    }
