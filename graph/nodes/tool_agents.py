"""Marketing, Finance and Insights: plan tool calls, execute, validate, retry, handle errors.

Seed: Agent → ToolExecution → ResultValidation → Response | Retry → ToolExecution (attempt < 3) |
ErrorHandler (attempt ≥ 3).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime
from langgraph.types import Command

from graph.context import Context
from graph.llm.resilience import LLMCallFailed, fallback_text, invalid_tool_call_feedback
from graph.nodes.common import history, system_message, text_of
from graph.nodes.parts import finish_part
from graph.state import AgentName, GraphState, ToolCallRecord
from graph.tools.executor import RETRYABLE, backoff_seconds, correct_arguments, new_record, run_call

ToolAgent = Literal["marketing", "finance", "insights", "support"]
"""Agents that answer by planning tool calls (Support only for its ticket requests)."""


def make_planner(agent: ToolAgent) -> Callable[..., Awaitable[dict[str, Any]]]:
    """The agent node: its model, bound to its tools, decides which tools to call."""

    async def plan(state: GraphState, runtime: Runtime[Context]) -> dict[str, Any]:
        services = runtime.context.services
        tools = [t for t in services.tools.get(agent, []) if not (t.metadata or {}).get("internal")]
        model = services.model(agent).bind_tools(tools)
        messages = [system_message(agent, services, tools), *history(state["messages"]), HumanMessage(state["request"])]
        config: RunnableConfig = {"tags": ["plan", "nostream"]}
        try:
            reply = await model.ainvoke(messages, config=config)
            feedback = invalid_tool_call_feedback(reply)
            if feedback:  # arguments that are not even JSON: the model corrects them once
                reply = await model.ainvoke([*messages, *feedback], config=config)
        except LLMCallFailed as exc:  # the model is unavailable: answer clearly, no stack trace
            text = fallback_text(exc)
            return {
                "current_agent": agent,
                "retry_count": 0,
                "tool_calls": [],
                "results": {agent: {"ok": False, "error": str(exc), "direct_answer": text}},
            }
        calls = list(getattr(reply, "tool_calls", []) or [])
        update: dict[str, Any] = {"current_agent": agent, "retry_count": 0}
        update["tool_calls"] = [new_record(agent, call) for call in calls] + [
            unparsable_record(agent, call) for call in getattr(reply, "invalid_tool_calls", []) or []
        ]
        if not update["tool_calls"]:  # the model answered without tools
            update["results"] = {agent: {"direct_answer": text_of(reply)}}
        return update

    plan.__name__ = f"plan_{agent}"
    return plan


def unparsable_record(agent: AgentName, call: Any) -> ToolCallRecord:
    """A tool call whose arguments were still not JSON after the model's correction: fails, not retried."""
    record = new_record(agent, {"id": call.get("id"), "name": call.get("name") or "unknown_tool", "args": {}})
    error = f"the model's arguments were not valid JSON even after one correction: {call.get('args')!r:.120}"
    return {**record, "attempts": 1, "error": error, "error_kind": "fatal", "corrected": True}


async def execute_tools(state: GraphState, runtime: Runtime[Context]) -> dict[str, Any]:
    """ToolExecution: run every call that has not succeeded yet, concurrently."""
    services = runtime.context.services
    records = list(state.get("tool_calls", []))

    async def run(record: ToolCallRecord) -> ToolCallRecord:
        if record["ok"] or record["error_kind"] in ("auth", "fatal"):
            return record
        try:
            tool = services.tool(record["agent"], record["name"])
        except KeyError as exc:
            return {**record, "attempts": record["attempts"] + 1, "error": str(exc), "error_kind": "invalid_input"}
        return await run_call(tool, record, services.settings.tool_timeout_s)

    updated = await asyncio.gather(*(run(r) for r in records))
    return {"tool_calls": list(updated), "retry_count": state.get("retry_count", 0) + 1}


def validate_results(state: GraphState) -> dict[str, Any]:
    """ResultValidation: log each failed call of this attempt in the turn's error list."""
    attempt = state.get("retry_count", 0)
    failed = [r for r in state.get("tool_calls", []) if not r["ok"]]
    errors = [f"{r['agent']}.{r['name']} attempt {attempt}: {r['error_kind']}: {r['error']}" for r in failed]
    return {"errors": errors}


def after_validation(state: GraphState) -> Literal["respond", "retry", "handle_error"]:
    """Valid → Response; retryable failures → Retry; nothing usable → ErrorHandler."""
    records = state.get("tool_calls", [])
    if any(not r["ok"] and r["error_kind"] in RETRYABLE for r in records):
        return "retry"
    if records and not any(r["ok"] for r in records):
        return "handle_error"
    return "respond"


async def retry(
    state: GraphState, runtime: Runtime[Context]
) -> Command[Literal["execute_tools", "respond", "handle_error"]]:
    """Retry: below the attempt limit, back off exponentially, correct invalid input once, run again.

    Invalid input is run again only when the correction changed its arguments: the same arguments would
    fail the same way (a period the user mistyped, "Q5 2026").
    """
    services = runtime.context.services
    settings = services.settings
    attempt = state.get("retry_count", 0)
    if attempt >= settings.max_tool_attempts:
        return Command(goto="handle_error")
    records: list[ToolCallRecord] = []
    for record in state.get("tool_calls", []):
        if not record["ok"] and record["error_kind"] == "invalid_input" and not record["corrected"]:
            try:
                tool = services.tool(record["agent"], record["name"])
                corrected = correct_arguments(tool, record)
            except KeyError:
                record = {**record, "error_kind": "fatal"}
            else:  # arguments the correction cannot change would only fail again: given up at once
                same = corrected == record["args"]
                record = {
                    **record,
                    "args": corrected,
                    "corrected": True,
                    "error_kind": "fatal" if same else "invalid_input",
                }
        elif not record["ok"] and record["error_kind"] == "invalid_input":
            record = {**record, "error_kind": "fatal"}  # corrected once already: the seed retries once
        records.append(record)
    if not any(not r["ok"] and r["error_kind"] in RETRYABLE for r in records):  # nothing worth running again
        if any(r["ok"] for r in records):
            return Command(goto="respond", update={"tool_calls": records})
        return Command(goto="handle_error", update={"tool_calls": records})
    delay = backoff_seconds(attempt, settings.retry_wait_min_s, settings.retry_wait_max_s)
    if delay > 0:
        await asyncio.sleep(delay)
    return Command(goto="execute_tools", update={"tool_calls": records})


REPHRASE_EXAMPLES: dict[AgentName, str] = {
    "finance": "CAC last quarter",
    "marketing": "email click rate by channel last month",
    "insights": "churn risk of our top customers",
    "support": "status of ticket 12",
}
"""A request each agent's tools can serve, suggested when a request lacked the inputs a tool needs."""


async def handle_error(state: GraphState) -> dict[str, Any]:
    """ErrorHandler: degrade gracefully with a clear message; never a stack trace."""
    records = state.get("tool_calls", [])
    agent: AgentName = state.get("current_agent") or "finance"
    failed = [r for r in records if not r["ok"]]
    kinds = {str(r["error_kind"]) for r in failed}
    if kinds <= {"fatal"}:  # the request cannot be done as asked (no such ticket...): say why, once
        lines = [f"I couldn't complete this {agent} request:"]
    else:
        attempts = state.get("retry_count", 0)
        lines = [f"I couldn't complete this {agent} request: the tools failed after {attempts} attempt(s)."]
    for r in failed:
        hint = {
            "auth": "access was refused; an admin has been alerted",
            "transient": "the service did not respond in time",
            "invalid_input": "the request did not give the inputs this tool needs",
            "invalid_result": "the tool returned unusable data",
        }.get(str(r["error_kind"]))
        lines.append(f"- `{r['name']}`: {hint} ({r['error']})" if hint else f"- `{r['name']}`: {r['error']}")
    ok = [r for r in records if r["ok"]]
    if ok:
        lines.append("Partial results that did succeed:")
        lines += [f"- {r['result'].get('headline')}" for r in ok if isinstance(r["result"], dict)]
    if "invalid_input" in kinds:
        lines.append(f"Try rephrasing with what the tool needs (e.g. '{REPHRASE_EXAMPLES[agent]}').")
    if kinds & {"transient", "invalid_result"}:
        lines.append("Try again in a minute.")
    text = "\n".join(lines)
    update = {
        "answer": text,
        "messages": [AIMessage(text, name=agent)],
        "results": {
            agent: {
                "ok": False,
                "error": failed[0]["error"] if failed else "no result",
                # every failed call was the tool refusing the request as asked: the user's to fix, not an outage
                "declined": bool(failed) and all(r.get("declined", False) for r in failed),
            }
        },
    }
    return finish_part(state, update)  # a compound message's other parts are still answered
