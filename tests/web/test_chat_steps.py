"""The chat's steps from the runtime's events: agents, tool calls with arguments, report branches, support stages.

The graph, tools, knowledge base and offline model are real; the websocket is replaced by an emitter
that records what Chainlit would send to the browser (the browser tests check the real page).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from chainlit.context import init_http_context
from chainlit.emitter import BaseChainlitEmitter

from app.runtime import RunEvent
from app.web.run_steps import RunSteps


class RecordingEmitter(BaseChainlitEmitter):
    """Keeps the latest version of every step sent to the page, and the streamed tokens."""

    def __init__(self, session: Any) -> None:
        super().__init__(session)
        self.steps: dict[str, dict[str, Any]] = {}
        self.order: list[str] = []
        self.tokens: dict[str, list[str]] = {}

    def _keep(self, step: dict[str, Any]) -> None:
        if step["id"] not in self.steps:
            self.order.append(step["id"])
        self.steps[step["id"]] = dict(step)

    async def send_step(self, step_dict):  # type: ignore[no-untyped-def]
        self._keep(step_dict)

    async def update_step(self, step_dict):  # type: ignore[no-untyped-def]
        self._keep(step_dict)

    async def stream_start(self, step_dict):  # type: ignore[no-untyped-def]
        self._keep(step_dict)
        self.tokens.setdefault(step_dict["id"], []).append(step_dict["output"])  # the stream's first text

    async def send_token(self, id, token, is_sequence=False, is_input=False):  # type: ignore[no-untyped-def]  # noqa: A002
        self.tokens.setdefault(id, []).append(token)

    def named(self, name: str) -> list[dict[str, Any]]:
        return [self.steps[i] for i in self.order if self.steps[i]["name"] == name]

    def children(self, parent: dict[str, Any]) -> list[dict[str, Any]]:
        return [self.steps[i] for i in self.order if self.steps[i]["parentId"] == parent["id"]]


async def _ask(web: Any, text: str, *, streams_whole: bool = True) -> tuple[RecordingEmitter, list[RunEvent], Any]:
    copilot = await web.copilot()
    thread_id = uuid.uuid4().hex
    context = init_http_context(thread_id=thread_id)
    emitter = RecordingEmitter(context.session)
    context.emitter = emitter
    events: list[RunEvent] = []
    steps = RunSteps(text, copilot.settings.confidence_threshold)

    async def on_event(event: RunEvent) -> None:
        events.append(event)
        await steps.on_event(event)

    answer: list[str] = []
    result = await copilot.ask(text, thread_id=thread_id, user_id="staff", on_token=answer.append, on_event=on_event)
    await steps.finish()
    if streams_whole:  # a compound message's reply is put together from its parts at the end
        assert "".join(answer) == result.answer or not answer
    return emitter, events, result


async def test_a_finance_question_shows_the_agent_and_its_tool_calls(web):
    emitter, events, result = await _ask(web, "What was our CAC by channel last quarter?")
    assert [e.node for e in events if e.kind == "update"][:2] == ["supervisor", "finance"]
    supervisor = emitter.named("Supervisor")[0]
    assert supervisor["output"].startswith("route: finance")
    agent = emitter.named("Finance agent")[0]
    assert agent["input"] == "What was our CAC by channel last quarter?"
    tools = [s for s in emitter.children(agent) if s["type"] == "tool"]
    assert tools, "no tool step under the Finance agent"
    tool = tools[0]
    assert tool["name"] == "cac_by_channel"
    args = json.loads(tool["input"])
    assert "quarter" in args["period"], args
    assert "CAC" in tool["output"] and not tool["isError"]
    assert tool["end"] and agent["end"], "a step was left running"
    assert tool["output"].split(" (attempt")[0] in agent["output"]


async def test_the_weekly_report_shows_one_step_per_branch_with_its_tools(web):
    emitter, events, result = await _ask(web, "Give me the weekly report")
    report = emitter.named("Weekly report")[0]
    branches = [s for s in emitter.children(report) if s["name"].endswith(" branch")]
    assert sorted(b["name"] for b in branches) == [
        "Finance branch",
        "Insights branch",
        "Marketing branch",
        "Support branch",
    ]
    finance = next(b for b in branches if b["name"] == "Finance branch")
    assert [t["name"] for t in emitter.children(finance)] == ["compute_metric", "forecast_revenue"]
    assert all(b["output"] and b["end"] for b in branches)
    assert report["output"] == "4 of 4 sections ready"
    # Each branch's step is created when its own update arrives, before the report is aggregated.
    updates = [e.node for e in events if e.kind == "update"]
    assert updates.count("run_branch") == 4 and updates.index("aggregate") > max(
        i for i, n in enumerate(updates) if n == "run_branch"
    )


async def test_each_part_of_a_compound_message_gets_its_own_agent_step(web):
    emitter, events, result = await _ask(
        web, "what was our CAC last quarter and how long do refunds take", streams_whole=False
    )
    assert result.agents == ["finance", "support"]
    supervisors = emitter.named("Supervisor")
    assert [s["input"] for s in supervisors] == ["What was our CAC last quarter", "How long do refunds take"]
    assert all("two requests in one message" in s["output"] for s in supervisors)
    finance, support = emitter.named("Finance agent")[0], emitter.named("Support agent")[0]
    assert finance["input"] == "What was our CAC last quarter" and support["input"] == "How long do refunds take"
    assert [s["name"] for s in emitter.children(support)] == ["Retrieval", "Draft answer", "Confidence check"]
    assert emitter.named("Retrieval")[0]["input"] == "How long do refunds take"
    assert "compute_metric" not in support["output"]  # the finance tools stay with the finance step
    assert finance["end"] and support["end"], "a step was left running"


async def test_a_support_answer_shows_retrieval_the_streamed_draft_and_the_confidence(web):
    emitter, events, result = await _ask(web, "How long do I have to return a sensor I don't need?")
    assert result.route == "support" and not result.escalated
    agent = emitter.named("Support agent")[0]
    names = [s["name"] for s in emitter.children(agent)]
    assert names == ["Retrieval", "Draft answer", "Confidence check"]
    retrieval = emitter.named("Retrieval")[0]
    assert "returns-and-warranty.md" in retrieval["output"] and "score" in retrieval["output"]
    draft = emitter.named("Draft answer")[0]
    drafted = [e.data for e in events if e.kind == "token" and e.node == "confidence_check"]
    assert len(drafted) >= 3, "the support draft was not streamed"
    streamed = emitter.tokens.get(draft["id"]) or []
    assert streamed and streamed[0], "the draft's tokens did not reach its step"
    # Batched (app.web.token_batches): the first token goes at once, later ones joined, none lost or reordered.
    assert len(streamed) <= len(drafted) and result.answer.startswith("".join(streamed))
    assert draft["output"] == result.answer
    assert "≥" in emitter.named("Confidence check")[0]["output"]


async def test_an_escalated_draft_stays_in_its_step_and_never_streams_as_the_answer(web):
    emitter, events, result = await _ask(web, "Do you offer a white-label version of Lumio for resellers?")
    assert result.escalated and result.review_id
    check = emitter.named("Confidence check")[0]
    assert "escalate" in check["output"]
    assert result.review_id in emitter.named("Escalation")[0]["output"]
    agent = emitter.named("Support agent")[0]
    assert agent["output"].startswith("paused") and agent["end"]


async def test_only_reviewers_and_admins_get_the_outbox_buttons(web):
    import chainlit as cl

    from app.web.chat import APPROVE_ACTION, REJECT_ACTION, _outbox_actions

    assert await _outbox_actions("a-thread", cl.User(identifier="staff")) == []
    assert await _outbox_actions("a-thread", None) == []
    for who in ("reviewer", "admin"):
        actions = await _outbox_actions("a-thread", cl.User(identifier=who))
        assert [(a.name, a.label) for a in actions] == [
            (APPROVE_ACTION, "Approve all and send"),
            (REJECT_ACTION, "Reject"),
        ]
        assert all(a.payload == {"thread_id": "a-thread", "campaign_id": ""} for a in actions)
