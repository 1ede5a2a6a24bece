"""Supervisor: read the request, reset the turn, decide the route (seed: Supervisor → RouteDecision)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from langgraph.config import get_config
from langgraph.runtime import Runtime

from graph.context import Context
from graph.nodes.common import last_human_text
from graph.nodes.parts import last_human_id, next_part
from graph.routing.small_talk import SmallTalk, small_talk, small_talk_reply
from graph.state import AGENTS, CLARIFY_ROUTE, WINBACK_ROUTE, GraphState

NextAfterSupervisor = Literal["marketing", "finance", "insights", "support", "parallel", "winback_insights", "respond"]

_SMALL_TALK_REASONS: dict[SmallTalk, str] = {
    "greeting": "a greeting, not a request: the supervisor answers with what it can do",
    "thanks": "thanks or an acknowledgement, not a request",
    "help": "a question about the copilot itself: the supervisor answers with what it can do",
    "no_words": "no words in the message: the supervisor asks for a question",
    "keyboard_mash": "no recognisable words in the message: the supervisor asks for a question",
    "instructions": "an attempt to change the copilot's rules, not a request: no agent runs, nothing is escalated",
    "vague": "a request for numbers that names none: the supervisor asks which, instead of running every agent",
    "off_topic": "outside the copilot's work (travel, weather): no agent runs, nothing is escalated",
    "data_change": "an order to delete records, which no agent does: no agent runs, nothing is escalated",
    "not_english": "not in English, the language of the knowledge base and the router: the supervisor asks for English",
}


async def supervise(state: GraphState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Decide where the newest request goes and clear the previous turn's working fields.

    A compound message ("the refund policy, and our CAC last quarter") is split into its parts here;
    the supervisor is entered again for each further part (`graph.nodes.parts`), which keeps the charts
    and errors of the parts before it.
    """
    part = next_part(state)
    if part is not None:
        return {**_working_fields(runtime), **part, "answer": ""}
    request = last_human_text(state["messages"]).strip()
    if not request:
        raise ValueError("the request is empty: send some text")
    fresh: dict[str, Any] = {"charts": None, "errors": None, "parts": [], "part_answers": [], "parts_of": ""}
    kind = small_talk(request)
    if kind is not None:
        chosen = {
            "request": request,
            "route": CLARIFY_ROUTE,
            "route_confidence": 1.0,
            "route_reason": _SMALL_TALK_REASONS[kind],
        }
        return {**_working_fields(runtime), **fresh, **chosen, "answer": small_talk_reply(kind, request)}
    router = runtime.context.services.router
    if router is None:
        raise RuntimeError("no router configured: Services.router is required")
    previous = state.get("follow_up_route", state.get("route"))  # checkpoints from before the field: the route
    decision = await router(request, None if previous == CLARIFY_ROUTE else previous)
    chosen = {
        "request": request,
        "route": decision.route,
        "route_confidence": decision.confidence,
        "route_reason": decision.reason,
        "follow_up_route": decision.route,
    }
    if decision.route in AGENTS and decision.method != "follow-up":
        parts = await router.split(request)
        if parts is not None:
            described = "; ".join(f"“{p.request}” → {p.decision.route}" for p in parts)
            planned: list[dict[str, Any]] = [
                {
                    "request": p.request,
                    "route": p.decision.route,
                    "route_confidence": p.decision.confidence,
                    "route_reason": f"two requests in one message, answered in turn: {described}",
                    "asked": p.asked,
                }
                for p in parts
            ]
            fresh |= {"parts": planned, "parts_of": last_human_id(state["messages"])}
            chosen = {**planned[0], "follow_up_route": planned[0]["route"]}
    return {**_working_fields(runtime), **fresh, **chosen, "answer": ""}


def _working_fields(runtime: Runtime[Context]) -> dict[str, Any]:
    """The fields every request starts from (its route and answer are set by the caller)."""
    return {
        "current_agent": None,
        "next_agent": None,
        "results": None,
        "tool_calls": [],
        "retry_count": 0,
        "citations": [],
        "passages": [],
        "confidence": None,
        "grounding": None,
        "escalated": False,
        "review_id": None,
        "review_outcome": None,
        "review_note": None,
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
