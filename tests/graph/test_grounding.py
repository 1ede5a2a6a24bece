"""The grounding check: with an OpenAI-compatible model, the support agent asks its model whether the passages
answer the question, checks the quoted evidence against them, and mixes the verdict into the confidence.

The model is a scripted OpenAI-compatible server on loopback (`tests.fake_openai`); the knowledge base,
retrieval and the offline confidence model are the real ones."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from langgraph.checkpoint.memory import InMemorySaver

from app.reviews import ReviewStore
from app.runtime import AskResult, Copilot
from app.services import build_services, business_engine
from app.settings import Settings
from graph.llm.grounding import Grounding, evidence_in_passages, grounded_confidence
from tests.fake_openai import FakeOpenAI, Fault, call_kind

PASSAGES = [
    {
        "doc": "a.md",
        "section": "Limits",
        "text": "The **Starter** plan allows 1,000 API requests per day.\n- Burst: 10/s",
    },
    {"doc": "b.md", "section": "Refunds", "text": "Annual plans are refunded pro rata within 30 days."},
]

# Answerable, but the offline confidence is below the threshold (0.55-0.6): retrieval alone would escalate it.
HUB_QUESTION = "our hub was unplugged for 3 weeks during the office refurb. can we get all that data back?"
HUB_EVIDENCE = (
    "If a hub was offline for more than 14 days, readings older than 14 days were overwritten on the hub and "
    "cannot be recovered."
)
HUB_ANSWER = (
    "Readings older than 14 days were overwritten on the hub and cannot be recovered "
    "[troubleshooting-data-gaps.md]. Was this helpful?"
)
STARTER_QUESTION = "What is the API rate limit on the Starter plan?"


def test_evidence_is_found_despite_markdown_case_and_spacing():
    assert evidence_in_passages("the starter plan allows 1,000 API requests  per day.", PASSAGES)
    assert evidence_in_passages("Annual plans are refunded pro rata within 30 days", PASSAGES)
    # one changed word in ten still matches (0.8 of the words in order)
    assert evidence_in_passages("Annual plans are refunded pro rata within 30 calendar days.", PASSAGES)


def test_invented_or_stitched_evidence_is_not_found():
    assert not evidence_in_passages("The Starter plan allows 5,000 API requests per hour and free refunds.", PASSAGES)
    assert not evidence_in_passages("Enterprise plans get a dedicated account manager.", PASSAGES)
    # words of two passages put together are in no single passage
    assert not evidence_in_passages("The Starter plan allows refunds pro rata within 30 days.", PASSAGES)
    assert not evidence_in_passages("", PASSAGES) and not evidence_in_passages("Starter", PASSAGES)


def test_verdict_mixing():
    yes = Grounding(answerable=True, evidence="x y", verified=True)
    no = Grounding(answerable=False, evidence="", verified=False)
    invented = Grounding(answerable=True, evidence="x y", verified=False)
    assert grounded_confidence(0.5, yes, 0.5) == pytest.approx(0.75)
    assert grounded_confidence(0.9, no, 0.5) == pytest.approx(0.45)
    assert grounded_confidence(0.5, invented, 0.5) == 0.5  # a quote not in the passages is no verdict
    assert grounded_confidence(0.5, None, 0.5) == 0.5
    assert grounded_confidence(0.9, no, 0.0) == 0.9  # weight 0 turns the check off
    assert grounded_confidence(0.2, yes, 1.0) == 1.0


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


def _openai(settings: Settings, server: FakeOpenAI, **update: object) -> Settings:
    return settings.model_copy(
        update={"llm_provider": "openai", "openai_api_key": "sk-test", "openai_base_url": server.base_url, **update}
    )


async def _ask(s: Settings, question: str) -> tuple[AskResult, dict, list[str]]:
    tokens: list[str] = []
    async with Copilot.open(s, services=build_services(s), checkpointer=InMemorySaver()) as copilot:
        result = await copilot.ask(question, on_token=tokens.append)
        state = (await copilot.graph.aget_state({"configurable": {"thread_id": result.thread_id}})).values
    return result, state, tokens


def _grading_requests(server: FakeOpenAI) -> list[dict]:
    return [r for r in server.requests if call_kind(r) == "grade"]


async def test_a_supported_yes_answers_what_retrieval_alone_would_escalate(settings: Settings, server: FakeOpenAI):
    server.route_json = {"route": "support", "reason": "a product question"}
    server.answer_text = HUB_ANSWER
    offline, _, _ = await _ask(_openai(settings, server, grounding_weight=0.0), HUB_QUESTION)
    assert offline.escalated and offline.confidence is not None and 0.4 <= offline.confidence < 0.7
    assert not _grading_requests(server)  # weight 0: no grading call

    server.grade_json = {"answerable": True, "evidence": HUB_EVIDENCE}
    s = _openai(settings, server)
    result, state, tokens = await _ask(s, HUB_QUESTION)
    assert not result.escalated and "cannot be recovered" in result.answer
    w = s.grounding_weight
    assert result.confidence == pytest.approx((1 - w) * offline.confidence + w, abs=1e-3)
    assert state["grounding"] == {"answerable": True, "evidence": HUB_EVIDENCE, "verified": True}
    assert result.to_json()["grounding"] == state["grounding"]  # `gtm ask --json` shows it
    (grading,) = _grading_requests(server)
    prompt = grading["messages"][-1]["content"]
    assert HUB_QUESTION in prompt and "troubleshooting-data-gaps.md" in prompt and HUB_EVIDENCE in prompt
    assert grading["model"] == settings.support.model
    assert "answerable" not in "".join(tokens)  # the verdict's JSON never streams into the chat


async def test_servers_without_json_schema_get_forced_tool_calls(settings: Settings, server: FakeOpenAI):
    server.route_json = {"route": "support", "reason": "a product question"}
    server.answer_text = HUB_ANSWER
    server.grade_json = {"answerable": True, "evidence": HUB_EVIDENCE}
    result, state, _ = await _ask(_openai(settings, server, structured_output="function_calling"), HUB_QUESTION)
    assert not result.escalated and state["grounding"]["verified"] is True
    structured = [r for r in server.requests if call_kind(r) in ("route", "grade")]
    assert [r["tool_choice"]["function"]["name"] for r in structured] == ["RouteChoice", "ContextGrade"]
    assert not any("response_format" in r for r in server.requests)
    assert state["route_reason"] == "a product question"  # the router's forced tool call was read, not a fallback


async def test_a_yes_with_invented_evidence_changes_nothing(settings: Settings, server: FakeOpenAI):
    server.route_json = {"route": "support", "reason": "a product question"}
    server.answer_text = HUB_ANSWER
    server.grade_json = {"answerable": True, "evidence": "Lumio restores every reading from its cloud backup."}
    result, state, _ = await _ask(_openai(settings, server), HUB_QUESTION)
    assert result.escalated and result.confidence is not None and 0.4 <= result.confidence < 0.7
    assert state["grounding"]["verified"] is False


async def test_a_no_escalates_a_question_retrieval_finds_confident(settings: Settings, server: FakeOpenAI):
    server.route_json = {"route": "support", "reason": "a product question"}
    server.answer_text = "The Starter plan allows 1,000 API requests per day [api-access-and-rate-limits.md]."
    offline, _, _ = await _ask(_openai(settings, server, grounding_weight=0.0), STARTER_QUESTION)
    assert not offline.escalated and offline.confidence is not None and offline.confidence >= 0.7

    server.grade_json = {"answerable": False, "evidence": ""}
    s = _openai(settings, server)
    result, state, _ = await _ask(s, STARTER_QUESTION)
    w = s.grounding_weight
    assert result.escalated and result.confidence == pytest.approx((1 - w) * offline.confidence, abs=1e-3)
    assert "no passage I found states the answer" in result.answer and result.review_id in result.answer
    assert state["grounding"] == {"answerable": False, "evidence": "", "verified": False}
    assert result.review_id is not None
    review = await ReviewStore(business_engine(s)).get(result.review_id)
    assert review is not None and review["grounding"] == state["grounding"]  # kept for the reviewer console


async def test_a_failing_grading_call_leaves_the_offline_confidence(settings: Settings, server: FakeOpenAI):
    server.route_json = {"route": "support", "reason": "a product question"}
    server.answer_text = "The Starter plan allows 1,000 API requests per day [api-access-and-rate-limits.md]."
    server.faults += [Fault("500", when="grade") for _ in range(3)]
    result, state, _ = await _ask(_openai(settings, server), STARTER_QUESTION)
    # one attempt: the answer never waits for the retries of an optional check
    assert server.served == [("500", "grade")] and len(_grading_requests(server)) == 1
    assert not result.escalated and "1,000" in result.answer
    assert result.confidence is not None and result.confidence >= 0.7 and state["grounding"] is None


async def test_a_reviews_table_of_an_earlier_version_gains_the_grounding_column(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'business.db'}")
    await ReviewStore(engine).list("pending")  # creates the tables
    with engine.begin() as conn:  # as an earlier version made it
        conn.execute(sa.text("ALTER TABLE reviews DROP COLUMN grounding_json"))
    fields = dict(thread_id="t", question="Do you have SOC 1?", draft="", confidence=0.3, passages=[], requester="sam")
    store = ReviewStore(engine)
    old = await store.open_review(request_message_id="m-1", **fields)
    new = await store.open_review(request_message_id="m-2", grounding={"answerable": False}, **fields)
    assert (await store.get(old) or {})["grounding"] is None
    assert (await store.get(new) or {})["grounding"] == {"answerable": False}
