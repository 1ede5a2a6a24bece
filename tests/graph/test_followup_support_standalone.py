"""A support follow-up fragment ("and for hardware?") is asked as the standalone question it continues: for
retrieval, the confidence, the draft and the review record (the question a reviewer reads, the KB title)."""

from __future__ import annotations

import pytest

from app.kb.reviewed import knowledge_text
from app.runtime import Copilot
from graph.llm.support_follow_up import modifier, resolve, standalone_question

FIRST = "How long do refunds take?"
STANDALONE = "How long do refunds take for hardware?"


@pytest.mark.parametrize(
    ("question", "fragment", "expected"),
    [
        (FIRST, "and for hardware?", STANDALONE),
        (FIRST, "what about hardware?", STANDALONE),
        (FIRST, "And for hardware, too?", STANDALONE),
        (FIRST, "and the Pro plan?", "How long do refunds take for the Pro plan?"),
        ("What is the refund policy?", "how about for hardware?", "What is the refund policy for hardware?"),
        # a modifier of the same kind as the question's last phrase takes its place
        (
            "What is the API rate limit on the Starter plan?",
            "and the Growth plan?",
            "What is the API rate limit on the Growth plan?",
        ),
        (
            "What is the API rate limit on the Starter plan?",
            "what about Enterprise?",
            "What is the API rate limit on Enterprise?",
        ),
        ("Do you ship to Australia?", "and New Zealand?", "Do you ship to New Zealand?"),
        ("Can I get a refund after 3 weeks?", "and after 6 weeks?", "Can I get a refund after 6 weeks?"),
        # ... one of another kind is added
        (
            "How do I export data to CSV?",
            "and for hardware orders?",
            "How do I export data to CSV for hardware orders?",
        ),
    ],
)
def test_a_fragment_is_resolved_against_the_question_before_it(question: str, fragment: str, expected: str):
    assert resolve(question, fragment) == expected
    assert standalone_question([question, fragment]) == expected


def test_later_fragments_change_the_question_so_far():
    assert (
        standalone_question([FIRST, "and for hardware?", "and for software?"])
        == "How long do refunds take for software?"
    )


@pytest.mark.parametrize(
    "fragment", ["and how long for hardware?", "does that apply to them?", "and?", "what about it?"]
)
def test_a_fragment_that_names_no_modifier_is_left_alone(fragment: str):
    assert modifier(fragment) is None
    assert standalone_question([FIRST, fragment]) is None


def test_without_a_standalone_question_before_it_nothing_is_resolved():
    assert standalone_question(["and for hardware?"]) is None
    assert standalone_question(["and for software?", "and for hardware?"]) is None


async def test_follow_up_is_answered_as_the_standalone_question(copilot: Copilot):
    first = await copilot.ask(FIRST)
    assert first.route == "support" and not first.escalated
    second = await copilot.ask("and for hardware?", thread_id=first.thread_id)
    assert second.route == "support"
    assert not second.escalated and second.confidence is not None and second.confidence >= 0.7
    assert "hardware refunds" in second.answer.lower()  # the rule for hardware, not only card refunds
    assert set(second.citations) & {"refund-policy.md", "returns-and-warranty.md"}
    state = (await copilot.graph.aget_state({"configurable": {"thread_id": first.thread_id}})).values
    assert state["request"] == STANDALONE


async def test_an_escalated_follow_up_is_reviewed_as_the_standalone_question(copilot: Copilot):
    first = await copilot.ask(FIRST)
    assert not first.escalated
    # every answer now escalates: the review record is what a reviewer of the follow-up reads
    services = copilot.services
    services.settings = services.settings.model_copy(update={"confidence_threshold": 1.0})
    second = await copilot.ask("and for hardware?", thread_id=first.thread_id, user_id="sam@lumio.io")
    assert second.escalated and second.review_id
    pending = await copilot.pending_reviews()
    assert [(r["review_id"], r["question"]) for r in pending] == [(second.review_id, STANDALONE)]
    assert "hardware" in pending[0]["draft"].lower()
    record = await copilot.reviews.get(second.review_id)
    assert record is not None and record["question"] == STANDALONE  # the title "add to knowledge base" uses
    document = knowledge_text(record["question"], pending[0]["draft"])
    assert document.startswith(f"# {STANDALONE}\n")
    assert "[refund-policy.md]" in pending[0]["draft"]  # the draft cites its sources...
    assert ".md]" not in document and "hardware" in document.lower()  # ... the KB document does not


def test_the_reviewed_answer_document_has_no_citation_markers():
    """Found by testers: `gtm review approve … --add-to-kb` wrote "[reviewed-answers/r-00002-….md]" into the text."""
    answer = (
        "[offline model] Hardware refunds are issued after inspection [refund-policy.md]. Card refunds take "
        "5–10 business days [reviewed-answers/r-00002-how-long-do-refunds-take.md] [returns-and-warranty.md]\n\n"
        "- Returns start in Settings [returns-and-warranty.md]; see the [guide](setup.md).\n\nWas this helpful?"
    )
    assert knowledge_text(STANDALONE, answer) == (
        f"# {STANDALONE}\n\nHardware refunds are issued after inspection. Card refunds take 5–10 business days\n\n"
        "- Returns start in Settings; see the [guide](setup.md).\n"
    )


async def test_a_fragment_after_another_agent_is_not_rewritten(copilot: Copilot):
    first = await copilot.ask("What was our CAC last quarter?")
    assert first.route != "support"
    second = await copilot.ask("and for hardware?", thread_id=first.thread_id)
    state = (await copilot.graph.aget_state({"configurable": {"thread_id": first.thread_id}})).values
    assert state["request"] == "and for hardware?"
    assert second.thread_id == first.thread_id
