"""Response: write the answer the user sees (the only node whose tokens stream into the reply).

A support answer is the draft `confidence_check` already wrote (its tokens streamed into the chat's
Support step while it was written); `respond` runs for it only once the confidence passed (or a
reviewer decided), so a low-confidence draft never reaches the reply.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage
from langgraph.runtime import Runtime

from graph.context import Context
from graph.llm.factory import ModelRole
from graph.llm.resilience import LLMCallFailed, fallback_text
from graph.nodes.common import results_json, system_message, task_message, text_of
from graph.nodes.parallel import REPORT_PERIOD
from graph.nodes.parts import finish_part
from graph.state import AGENTS, CLARIFY_ROUTE, WINBACK_ROUTE, GraphState
from graph.tools.base import without_chart


def _successes(state: GraphState) -> list[dict[str, Any]]:
    return [r["result"] for r in state.get("tool_calls", []) if r["ok"] and isinstance(r["result"], dict)]


def _failures(state: GraphState) -> list[dict[str, Any]]:
    return [
        {"tool": r["name"], "error": f"{r['error']} (skipped)" if r["error_kind"] == "auth" else r["error"]}
        for r in state.get("tool_calls", [])
        if not r["ok"]
    ]


async def respond(state: GraphState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Write the final answer for the current route and append it to the conversation.

    For a part of a compound message before its last, the answer is kept for the combined reply
    instead (`graph.nodes.parts.finish_part`).
    """
    return finish_part(state, await _answer(state, runtime))


async def _answer(state: GraphState, runtime: Runtime[Context]) -> dict[str, Any]:
    """The current request's answer and its message."""
    services = runtime.context.services
    route = state.get("route")
    charts: list[dict[str, Any]] = []
    messages: list[BaseMessage]
    model_role: ModelRole
    # Written already: the supervisor's reply to a message that is no request, or a knowledge-base answer
    # (ticket requests use tools).
    if route == CLARIFY_ROUTE or (route == "support" and not state.get("tool_calls")):
        answer, name = state.get("answer", ""), "supervisor" if route == CLARIFY_ROUTE else "support"
        return {"answer": answer, "messages": [AIMessage(answer, name=name)]}
    if route == "parallel":
        report = state.get("results", {}).get("report", {})
        sections = {
            a: {k: ([without_chart(r) for r in v] if k == "results" else v) for k, v in s.items()}
            for a, s in report.get("sections", {}).items()
        }
        values = {"period": REPORT_PERIOD, "sections_json": json.dumps(sections, default=str, indent=1)}
        name, model_role = "supervisor", "supervisor"
        messages = [task_message("supervisor.weekly_report", values)]
    elif route == WINBACK_ROUTE:
        # After the outbox: what was sent, dropped or failed. Without drafts: what Insights found.
        results = state.get("results", {})
        parts = (
            [results["outbox"]]
            if "outbox" in results
            else [results[a] for a in ("insights", "marketing", "finance") if a in results]
        )
        values = {"request": state["request"], "results_json": results_json(parts)}
        name, model_role = "marketing", "marketing"
        messages = [
            system_message("marketing", services, services.tools.get("marketing", [])),
            task_message("marketing.analysis_answer", values),
        ]
    else:
        agent = state.get("current_agent") or route
        assert agent in AGENTS, f"respond: unexpected agent {agent!r}"
        direct = state.get("results", {}).get(agent, {}).get("direct_answer")
        if direct:
            return {"answer": direct, "messages": [AIMessage(direct, name=agent)]}
        successes = _successes(state)
        charts = [r["chart"] for r in successes if r.get("chart")]
        only = successes[0] if len(successes) == 1 and not _failures(state) else None
        if only and only.get("template") and only.get("prompt_vars"):
            task, values = only["template"], dict(only["prompt_vars"])
        else:
            task = f"{agent}.analysis_answer"
            values = {"request": state["request"], "results_json": results_json([*successes, *_failures(state)])}
        name, model_role = agent, agent
        messages = [system_message(agent, services, services.tools.get(agent, [])), task_message(task, values)]
    try:
        reply = await services.model(model_role).ainvoke(messages, config={"tags": ["answer"]})
    except LLMCallFailed as exc:  # the model is unavailable: a clear message and what the tools found
        headlines = [str(r["headline"]) for r in _successes(state) if r.get("headline")]
        answer = fallback_text(exc, headlines)
        return {
            "answer": answer,
            "messages": [AIMessage(answer, name=name)],
            "charts": charts,
            "results": {name: {"ok": False, "error": str(exc)}},
        }
    answer = text_of(reply)
    return {"answer": answer, "messages": [AIMessage(answer, name=name, id=reply.id)], "charts": charts}
