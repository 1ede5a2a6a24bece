"""Supervisor: read the request, reset the turn, decide the route (seed: Supervisor → RouteDecision)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from langgraph.config import get_config
from langgraph.runtime import Runtime

from graph.context import Context
from graph.nodes.common import last_human_text
from graph.routing.small_talk import small_talk, small_talk_reply
from graph.state import CLARIFY_ROUTE, WINBACK_ROUTE, GraphState

NextAfterSupervisor = Literal["marketing", "finance", "insights", "support", "parallel", "winback_insights", "respond"]

_SMALL_TALK_REASONS = {
    "greeting": "a greeting, not a request: the supervisor answers with what it can do",
    "thanks": "thanks or an acknowledgement, not a request",
    "help": "a question about the copilot itself: the supervisor answers with what it can do",
    "no_words": "no words in the message: the supervisor asks for a question",
    "keyboard_mash": "no recognisable words in the message: the supervisor asks for a question",
}


async def supervise(state: GraphState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Decide where the newest request goes and clear the previous turn's working fields."""
    request = last_human_text(state["messages"]).strip()
    if not request:
        raise ValueError("the request is empty: send some text")
    kind = small_talk(request)
    if kind is not None:
        route, confidence, reason, answer = (
            CLARIFY_ROUTE,
            1.0,
            _SMALL_TALK_REASONS[kind],
            small_talk_reply(kind, request),
        )
    else:
        router = runtime.context.services.router
        if router is None:
            raise RuntimeError("no router configured: Services.router is required")
        previous = state.get("route")
        decision = await router(request, None if previous == CLARIFY_ROUTE else previous)
        route, confidence, reason, answer = decision.route, decision.confidence, decision.reason, ""
    return {
        "request": request,
        "route": route,
        "route_confidence": confidence,
        "route_reason": reason,
        "current_agent": None,
        "next_agent": None,
        "results": None,
        "errors": None,
        "charts": None,
        "tool_calls": [],
        "retry_count": 0,
        "answer": answer,
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

    A message that is not a request (`CLARIFY_ROUTE`) goes straight to `respond` with the supervisor's
    own answer.

    Raises:
        ValueError: the state holds a route that is not one of the known routes.
    """
    route = state.get("route")
    if route in ("marketing", "finance", "insights", "support", "parallel"):
        return route
    if route == WINBACK_ROUTE:
        return "winback_insights"
    if route == CLARIFY_ROUTE:
        return "respond"
    raise ValueError(
        f"unknown route {route!r}: expected marketing, finance, insights, support, parallel, {WINBACK_ROUTE}"
        f" or {CLARIFY_ROUTE}"
    )
