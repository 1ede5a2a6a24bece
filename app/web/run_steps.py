"""The chat's steps: one per agent, tool call, report branch and support stage, built from a run's events.

`RunSteps` receives the runtime's `RunEvent`s (`Copilot.ask(..., on_event=...)`): a node's state update
when it finishes, and the tokens of models that write inside a node but not the reply (the support
draft). Updates only arrive when a node is done, so a step opens as soon as the run is known to reach
it (the agent's step when the supervisor routes, a tool's step when the agent plans the call) and is
completed by the update that carries its result. A parallel branch's step is created when that
branch's update arrives, so the weekly report's sections show up in the order they finish.
"""

from __future__ import annotations

import json
from typing import Any

import chainlit as cl
from chainlit.context import local_steps
from chainlit.utils import utc_now

from app.runtime import RunEvent
from app.web.token_batches import TokenBatches
from graph.nodes.parallel import REPORT_TASKS
from graph.state import AGENTS, REPORT_SECTIONS, WINBACK_ROUTE

TOOL_AGENTS = ("marketing", "finance", "insights")
"""Agents that plan tool calls and run them in `execute_tools`."""

WINBACK_STAGES = {
    "winback_insights": ("Insights", "churn_risk"),
    "winback_marketing": ("Marketing", "customer_context"),
    "winback_finance": ("Finance", "campaign_economics"),
}
"""Win-back nodes: the agent that works in each and the tool it calls."""

MAX_OUTPUT_CHARS = 1200
"""Longest text shown as a step's output."""


def _clip(text: str, limit: int = MAX_OUTPUT_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _args(args: Any) -> str:
    return json.dumps(args, default=str, indent=1, ensure_ascii=False)


def tool_outcome(record: dict[str, Any]) -> str:
    """A tool call's result headline (or error) and its attempts, as a step output."""
    attempts = int(record.get("attempts") or 0)
    tries = f" (attempt {attempts})" if attempts > 1 else ""
    if record.get("ok"):
        result = record.get("result")
        headline = result.get("headline") if isinstance(result, dict) else None
        return f"{headline or 'ok'}{tries}"
    return f"failed{tries} — {record.get('error_kind') or 'error'}: {record.get('error') or 'no detail'}"


def retrieval_summary(passages: list[dict[str, Any]], confidence: float | None) -> str:
    """The retrieved passages (document, section, score) and the retrieval confidence."""
    lines = [f"- {p.get('doc')} — {p.get('section')} (score {float(p.get('score') or 0):.3f})" for p in passages]
    head = f"retrieval confidence {float(confidence or 0):.2f}"
    return "\n".join([head, *lines]) if lines else f"{head}\n(nothing found)"


class RunSteps:
    """The steps of one request in one chat, updated from the run's events (see the module docstring)."""

    def __init__(self, request: str, confidence_threshold: float) -> None:
        """Steps for `request`; `confidence_threshold` is where support answers instead of escalating."""
        self.request = request
        self.threshold = confidence_threshold
        self.parent_id: str | None = None
        current = local_steps.get() or []
        if current:
            self.parent_id = current[-1].id
        self.route: str | None = None
        self.current = request
        """The request being answered: the message, or the current part of a compound message."""
        self.main: cl.Step | None = None
        """The step of the agent (or the report, or the campaign) that works on the request."""
        self.tools: dict[str, cl.Step] = {}
        """Tool-call steps by tool-call id."""
        self.draft: cl.Step | None = None
        self.draft_tokens: TokenBatches | None = None
        """The draft's streamed tokens, batched (see `app.web.token_batches`)."""
        self.open: list[cl.Step] = []

    async def _step(self, name: str, kind: str, parent: cl.Step | None = None, **fields: Any) -> cl.Step:
        step = cl.Step(
            name=name,
            type=kind,  # type: ignore[arg-type]
            parent_id=parent.id if parent else self.parent_id,
            show_input="json" if kind == "tool" else "text",
        )
        step.start = utc_now()
        for key, value in fields.items():
            setattr(step, key, value)
        await step.send()
        self.open.append(step)
        return step

    async def _instant(
        self, name: str, kind: str, parent: cl.Step | None, output: str, *, error: bool = False, **fields: Any
    ) -> cl.Step:
        """A step that is already finished when it is shown: sent (and stored) once, complete."""
        step = cl.Step(
            name=name,
            type=kind,  # type: ignore[arg-type]
            parent_id=parent.id if parent else self.parent_id,
            show_input="json" if kind == "tool" else "text",
        )
        for key, value in fields.items():
            setattr(step, key, value)
        step.start = step.start or utc_now()
        step.end = utc_now()
        step.output = _clip(output)
        step.is_error = error
        await step.send()
        return step

    async def _done(self, step: cl.Step, output: str | None = None, *, error: bool = False) -> None:
        if output is not None:
            step.output = _clip(output)
        step.is_error = error
        step.end = utc_now()
        await step.update()
        if step in self.open:
            self.open.remove(step)

    async def on_event(self, event: RunEvent) -> None:
        """Show one run event (the runtime's `on_event` callback)."""
        if event.kind == "token":
            await self._token(event.node, str(event.data))
            return
        update = event.data if isinstance(event.data, dict) else {}
        handler = getattr(self, f"_on_{event.node.strip('_')}", None)
        if handler is not None:
            await handler(update)
        elif event.node in TOOL_AGENTS:
            await self._on_plan(update)
        elif event.node in WINBACK_STAGES:
            await self._on_winback_stage(event.node, update)

    async def start(self, name: str, request: str = "") -> None:
        """Open the step the run's other steps go under (for a resumed run, which has no supervisor step)."""
        self.main = await self._step(name, "run", input=request or self.request)

    async def finish(self, error: str | None = None) -> None:
        """Close every step still open (at the end of the run, or when it failed)."""
        for step in list(reversed(self.open)):
            await self._done(step, error if error and step is self.main else None, error=bool(error))

    # Supervisor and the agents' own steps.

    async def _on_supervisor(self, update: dict[str, Any]) -> None:
        self.route = route = str(update.get("route") or "")
        self.current = request = str(update.get("request") or self.request)  # a compound message's part, or all
        confidence = update.get("route_confidence")
        how = f" ({float(confidence):.2f})" if confidence is not None else ""
        output = f"route: {route}{how} — {update.get('route_reason') or ''}".rstrip(" —")
        await self._instant("Supervisor", "run", None, output, input=request)
        self.tools, self.draft, self.draft_tokens = {}, None, None  # a compound message's next part starts afresh
        if route in AGENTS:
            self.main = await self._step(f"{route.capitalize()} agent", "run", input=request)
        elif route == "parallel":
            self.main = await self._step("Weekly report", "run", input=self.request)
        elif route == WINBACK_ROUTE:
            self.main = await self._step("Win-back campaign", "run", input=self.request)

    async def _on_plan(self, update: dict[str, Any]) -> None:
        for record in update.get("tool_calls") or []:
            step = await self._step(str(record["name"]), "tool", self.main, input=_args(record.get("args")))
            self.tools[str(record["id"])] = step

    async def _on_execute_tools(self, update: dict[str, Any]) -> None:
        for record in update.get("tool_calls") or []:
            step = self.tools.get(str(record["id"]))
            if step is None:
                continue
            step.input = _args(record.get("args"))  # a corrected retry may have changed them
            retrying = not record.get("ok") and record.get("error_kind") not in ("auth", "fatal")
            if retrying:
                step.output = tool_outcome(record)
                await step.update()
            else:
                await self._done(step, tool_outcome(record), error=not record.get("ok"))

    async def _on_respond(self, update: dict[str, Any]) -> None:
        if self.main is None:
            return
        for step in [s for s in self.open if s.parent_id == self.main.id]:
            await self._done(step)
        done = [s for s in self.tools.values() if s.output]
        summary = "; ".join(s.output.splitlines()[0] for s in done) if done else self.main.output
        await self._done(self.main, summary or _clip(str(update.get("answer") or ""), 400))

    async def _on_handle_error(self, update: dict[str, Any]) -> None:
        for step in [s for s in self.tools.values() if s in self.open]:
            await self._done(step, error=True)
        if self.main is not None:
            await self._done(self.main, str(update.get("answer") or "the tools failed"), error=True)

    # Support: retrieval, the draft (streamed), the confidence check, the escalation.

    async def _on_rag_search(self, update: dict[str, Any]) -> None:
        passages = list(update.get("passages") or [])
        summary = retrieval_summary(passages, update.get("confidence"))
        await self._instant("Retrieval", "retrieval", self.main, summary, input=self.current)

    async def _token(self, node: str, token: str) -> None:
        if node != "confidence_check":
            return
        if self.draft is None:
            self.draft = await self._step("Draft answer", "llm", self.main)
        if self.draft_tokens is None:
            self.draft_tokens = TokenBatches(self.draft.stream_token)
        await self.draft_tokens(token)

    async def _on_confidence_check(self, update: dict[str, Any]) -> None:
        draft = str(update.get("answer") or "")
        if self.draft_tokens is not None:
            self.draft_tokens.discard()  # the whole draft replaces what was streamed
        if self.draft is None:
            self.draft = await self._step("Draft answer", "llm", self.main)
        await self._done(self.draft, draft)
        confidence = float(update.get("confidence") or 0.0)
        confident = confidence >= self.threshold
        verdict = (
            f"{confidence:.2f} ≥ {self.threshold:.2f}: answer"
            if confident
            else f"{confidence:.2f} < {self.threshold:.2f}: escalate to a specialist"
        )
        cited = ", ".join(update.get("citations") or []) or "none"
        await self._instant("Confidence check", "run", self.main, f"{verdict} (cited: {cited})")

    async def _on_escalate(self, update: dict[str, Any]) -> None:
        await self._instant("Escalation", "run", self.main, f"review {update.get('review_id')} opened for a specialist")

    async def _on_interrupt(self, update: Any) -> None:
        if self.main is not None:
            waiting = "a specialist's review" if self.route == "support" else "approval of the emails"
            await self._done(self.main, f"paused: waiting for {waiting}")

    # The weekly report: one step per branch, created when the branch finishes.

    async def _on_run_branch(self, update: dict[str, Any]) -> None:
        for agent, section in (update.get("results") or {}).items():
            title = REPORT_SECTIONS.get(agent, agent)
            results = section.get("results") or []
            output = (
                str(section.get("summary") or f"{len(results)} result(s)")
                if section.get("ok")
                else f"failed: {section.get('error')}"
            )
            started = {"start": self.main.start} if self.main is not None and self.main.start else {}
            step = await self._instant(
                f"{agent.capitalize()} branch",
                "run",
                self.main,
                output,
                error=not section.get("ok"),
                input=title,
                **started,
            )
            for (name, args), result in zip(REPORT_TASKS.get(agent, []), results, strict=False):
                headline = result.get("headline") if isinstance(result, dict) else None
                await self._instant(name, "tool", step, str(headline or "ok"), input=_args(args), language="json")

    async def _on_aggregate(self, update: dict[str, Any]) -> None:
        report = (update.get("results") or {}).get("report") or {}
        if self.main is not None:
            self.main.output = f"{len(report.get('succeeded') or [])} of {len(AGENTS)} sections ready" + (
                f"; failed: {', '.join(report['failed'])}" if report.get("failed") else ""
            )
            await self.main.update()

    # The win-back campaign and its outbox.

    async def _on_winback_stage(self, node: str, update: dict[str, Any]) -> None:
        agent, tool = WINBACK_STAGES[node]
        results: dict[str, Any] = update.get("results") or {}
        result: dict[str, Any] = next(iter(results.values()), {})
        await self._instant(f"{agent} agent", "run", self.main, str(result.get("headline") or "done"), input=tool)

    async def _on_stage_outbox(self, update: dict[str, Any]) -> None:
        statuses = update.get("outbox_status") or {}
        await self._instant("Outbox", "run", self.main, f"{len(statuses)} email(s) staged; nothing sent until approved")

    async def _on_approve_send(self, update: dict[str, Any]) -> None:
        decision = (update.get("results") or {}).get("outbox_decision") or {}
        if decision:
            await self._instant("Approval", "run", self.main, f"{decision.get('action')} by {decision.get('reviewer')}")

    async def _on_send_emails(self, update: dict[str, Any]) -> None:
        report = (update.get("results") or {}).get("outbox") or {}
        facts = "\n".join([str(report.get("headline") or ""), *report.get("facts", [])])
        await self._instant("Send emails", "tool", self.main, facts)
