"""Win-back pipeline (seed: sequential Insights → Marketing → Finance, `WinBackState`).

Insights picks churned or at-risk valuable customers, Marketing drafts one personalised email each,
Finance estimates the campaign cost and ROI. `customer_ids`, `churned_customers`, `email_drafts`,
`campaign_cost` and `roi_estimate` carry the real values from one agent to the next.
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
    """Insights: select churned / at-risk customers worth winning back."""
    result = await _call(runtime, "insights", "churn_risk", {"top_n": MAX_DRAFTS, "valuable_only": True})
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
    """Marketing: one personalised email per selected customer, from their purchase history."""
    services = runtime.context.services
    contexts = await _call(
        runtime, "marketing", "customer_context", {"customer_ids": state.get("customer_ids", [])[:MAX_DRAFTS]}
    )
    model = services.model("marketing")
    system = system_message("marketing", services, services.tools.get("marketing", []))
    gate = asyncio.Semaphore(DRAFT_CONCURRENCY)

    async def draft(ctx: dict[str, Any]) -> tuple[str, str | LLMCallFailed]:
        values = {
            "customer_name": ctx.get("name", "there"),
            "last_purchase_date": ctx.get("last_order_date", "unknown"),
            "last_product": ctx.get("last_product", "your last order"),
            "rfm_segment": ctx.get("segment", "At Risk"),
            "channel": ctx.get("channel", "email"),
            "recommended_product": ctx.get("recommended_product", "Lumio Air"),
            "incentive": ctx.get("incentive", "20% off your next order"),
            "tone": "warm",
        }
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
    """Finance: campaign cost (incentive × expected redemptions + sending) and ROI from expected value."""
    customers = state.get("churned_customers", [])
    drafted = set(state.get("email_drafts", {}))
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
