"""Supervisor: read the request, reset the turn, decide the route (seed: Supervisor → RouteDecision)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from langgraph.config import get_config
from langgraph.runtime import Runtime

from graph.context import Context
from graph.nodes.common import last_human_text
from graph.state import WINBACK_ROUTE, GraphState

NextAfterSupervisor = Literal["marketing", "finance", "insights", "support", "parallel", "winback_insights"]


async def supervise(state: GraphState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Decide where the newest request goes and clear the previous turn's working fields."""
    request = last_human_text(state["messages"]).strip()
    if not request:
        raise ValueError("the request is empty: send some text")
    router = runtime.context.services.router
    if router is None:
        raise RuntimeError("no router configured: Services.router is required")
    decision = await router(request, state.get("route"))
    return {
        "request": request,
        "route": decision.route,
        "route_confidence": decision.confidence,
        "route_reason": decision.reason,
        "current_agent": None,
        "next_agent": None,
        "results": None,
        "errors": None,
        "charts": None,
        "tool_calls": [],
        "retry_count": 0,
        "answer": "",
        "citations": [],
        "passages": [],
        "confidence": None,
        "grounding": None,
        "escalated": False,
        "review_id": None,
        "review_outcome": None,
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "user_id": runtime.context.user_id,
        "session_id": str(get_config().get("configurable", {}).get("thread_id", "")),
    }


def route_decision(state: GraphState) -> NextAfterSupervisor:
    """The seed's RouteDecision: map the supervisor's route to the next node.

    Raises:
        ValueError: the state holds a route that is not one of the six known routes.
    """
    route = state.get("route")
    if route in ("marketing", "finance", "insights", "support", "parallel"):
        return route
    if route == WINBACK_ROUTE:
        return "winback_insights"
    raise ValueError(
        f"unknown route {route!r}: expected marketing, finance, insights, support, parallel or {WINBACK_ROUTE}"
    )
