"""A message that asks two agents two things is answered in full, through the real graph and router."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage
from langchain_core.tools import StructuredTool
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import BaseModel

from app.runtime import Copilot
from app.services import build_services
from app.settings import Settings
from graph.llm.writers import OFFLINE_TAG
from graph.review import ReviewDecision


async def _turn_messages(copilot: Copilot, thread_id: str) -> list[Any]:
    state = (await copilot.graph.aget_state({"configurable": {"thread_id": thread_id}})).values
    return state["messages"]


async def test_both_halves_are_answered_each_under_its_request(copilot: Copilot):
    tokens: list[str] = []
    result = await copilot.ask("what's the refund policy and what was our CAC last quarter", on_token=tokens.append)
    assert result.agents == ["finance", "support"]  # support runs last: an escalation never holds up the rest
    cac, refund = (
        result.answer.index("**What was our CAC last quarter**"),
        result.answer.index("**What's the refund policy**"),
    )
    assert refund < cac  # but the answers read in the order asked
    assert "Formula" in result.answer[cac:] and "$" in result.answer[cac:]
    assert "[refund-policy.md]" in result.answer[refund:cac] and "30 days" in result.answer[refund:cac]
    assert result.answer.startswith(OFFLINE_TAG) and result.answer.count(OFFLINE_TAG) == 1
    assert not result.escalated
    messages = await _turn_messages(copilot, result.thread_id)
    assert [type(m).__name__ for m in messages] == ["HumanMessage", "AIMessage"]  # one reply, not one per part
    assert messages[-1].content == result.answer
    assert "".join(tokens)  # the finance half streamed as it was written

    follow = await copilot.ask("and the quarter before?", thread_id=result.thread_id)
    assert follow.agents == ["finance"] and not follow.escalated  # a follow-up continues the first part, not support
    state = (await copilot.graph.aget_state({"configurable": {"thread_id": result.thread_id}})).values
    assert "follow-up" in state["route_reason"], state["route_reason"]
    fresh = await copilot.ask("how many seats does Growth include?", thread_id=result.thread_id)
    assert fresh.agents == ["support"] and "25" in fresh.answer  # the next message starts afresh


async def test_an_escalating_half_keeps_the_other_answer_and_the_review_gets_only_its_question(copilot: Copilot):
    result = await copilot.ask("Which customers are likely to churn? Also, is Lumio FedRAMP authorized?")
    assert result.agents == ["insights", "support"] and result.escalated and result.review_id
    assert "**Which customers are likely to churn**" in result.answer and "P(alive)" in result.answer
    assert "**Is Lumio FedRAMP authorized?**" in result.answer and result.review_id in result.answer
    assert result.charts  # the churn chart survives the second part
    review = await copilot.reviews.get(result.review_id)
    assert review is not None and review["question"] == "Is Lumio FedRAMP authorized?"

    decided = await copilot.decide(
        result.review_id, ReviewDecision(action="edit", text="Lumio is not FedRAMP authorized.", reviewer="maria")
    )
    assert decided.answer == "Lumio is not FedRAMP authorized."  # what "add to knowledge base" would ingest
    messages = await _turn_messages(copilot, result.thread_id)
    assert isinstance(messages[-1], AIMessage) and messages[-1].content == decided.answer
    assert "P(alive)" in str(messages[-2].content)  # the churn answer stays in the thread, in the notice


class _NoArgs(BaseModel):
    """No arguments."""


async def test_a_failing_first_half_still_lets_the_second_be_answered(settings: Settings):
    async def broken(**_: Any) -> dict[str, Any]:
        raise RuntimeError("the warehouse is down")

    tool = StructuredTool.from_function(
        coroutine=broken,
        name="compute_metric",
        description="Compute CAC, the customer acquisition cost, for a period.",
        args_schema=_NoArgs,
    )
    services = build_services(settings)
    services.tools = {
        **services.tools,
        "finance": [tool, *[t for t in services.tools["finance"] if t.name != tool.name]],
    }
    async with Copilot.open(settings, services=services, checkpointer=InMemorySaver()) as copilot:
        result = await copilot.ask("what was our CAC last quarter and how long do refunds take")
    assert result.agents == ["finance", "support"]
    assert "I couldn't complete this finance request" in result.answer
    assert "**How long do refunds take**" in result.answer and "[refund-policy.md]" in result.answer


async def test_single_requests_with_a_conjunction_stay_whole(copilot: Copilot):
    router = copilot.services.router
    assert router is not None
    for request in (
        "CAC and LTV last quarter",
        "RFM segments with counts and average spend",
        "can we white-label Lumio Cloud and resell it to our clients",
        "we paid the annual invoice by bank transfer and the refund was approved. how long till the money lands?",
        "draft an email and a LinkedIn post for the Lumio Air launch",
        "Draft a newsletter about Lumio Air and add a section on the 2-year warranty",
        "Write a welcome email for new customers and explain how to install the sensors",
        "Write a campaign email for VIP customers and mention the refund policy",
        "Our churn went up last month and I want to know how to cancel a subscription",
    ):
        assert await router.split(request) is None, request
    winback = await copilot.ask("list customers at risk of churning and write them a win-back email")
    assert winback.route == "sequential:insights,marketing,finance"  # a multi-agent plan is never split
