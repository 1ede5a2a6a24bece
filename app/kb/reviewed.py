"""Reviewed answers as knowledge-base documents: "add to knowledge base" in the console, the CLI and the API.

An approved or edited answer is written as a markdown document titled with the question it answers and
indexed at once, so the same question no longer escalates; the other pending reviews of the same question
get the same answer (`answer_same_questions`).
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.runtime import AskResult, Copilot
    from app.settings import Settings

HELPFUL_TAIL = re.compile(r"\s*Was this helpful\?\s*$", re.IGNORECASE)
OFFLINE_TAG = re.compile(r"^\s*\[offline model\]\s*", re.IGNORECASE)
CITATION = re.compile(r"[ \t]*\[[^\[\]\n]{1,200}?\.md\](?!\()")
"""An inline citation of a document (`[refund-policy.md]`, `[reviewed-answers/r-00002-….md]`)."""


def without_citations(text: str) -> str:
    """`text` without its inline citation markers, and without the spaces they leave before punctuation."""
    stripped = CITATION.sub("", text)
    stripped = re.sub(r"[ \t]+([.,;:!?])", r"\1", stripped)
    return "\n".join(line.rstrip() for line in stripped.split("\n"))


def knowledge_text(question: str, answer: str) -> str:
    """The markdown document for a reviewed answer: the question as its title, the answer as its body.

    The body is the answer without the offline tag, the "Was this helpful?" tail and its citation markers: a
    document that cites documents would be cited, marker and all, by every answer quoting it.
    """
    body = without_citations(HELPFUL_TAIL.sub("", OFFLINE_TAG.sub("", answer))).strip()
    return f"# {' '.join(question.split())}\n\n{body}\n"


async def add_reviewed_answer(settings: Settings, review_id: str, question: str, answer: str) -> str:
    """Write the reviewed answer as a KB document and index it (in a worker thread); returns its name."""
    from app.kb.service import get_knowledge_base

    kb = await asyncio.to_thread(get_knowledge_base, settings)
    doc: str = await asyncio.to_thread(kb.add_document, f"{review_id} {question}", knowledge_text(question, answer))
    return doc


def same_question(a: str, b: str) -> bool:
    """Two questions that are the same words (case, spacing and end punctuation aside)."""

    def norm(text: str) -> str:
        return " ".join(text.lower().split()).strip(" ?!.")

    return norm(a) == norm(b)


async def answer_same_questions(
    copilot: Copilot, review_id: str, question: str, answer: str, reviewer: str
) -> list[tuple[str, AskResult]]:
    """Send a reviewed answer, just added to the knowledge base, to the other pending reviews of the same question.

    Asked again, the question no longer escalates; those asked before the answer existed were still waiting in
    the queue for the same decision. Each is decided as an edit with the reviewed text, by `reviewer`, noting
    which review it came from. One another reviewer decided meanwhile is skipped.

    Returns:
        (review id, outcome) of every review answered here.
    """
    from app.reviews import ReviewConflict
    from app.runtime import UnknownReview
    from graph.review import ReviewDecision

    text = HELPFUL_TAIL.sub("", OFFLINE_TAG.sub("", answer)).strip()
    done: list[tuple[str, AskResult]] = []
    for pending in await copilot.pending_reviews():
        other = str(pending["review_id"])
        if other == review_id or not same_question(str(pending["question"]), question):
            continue
        decision = ReviewDecision(action="edit", text=text, note=f"Same question as {review_id}", reviewer=reviewer)
        try:
            done.append((other, await copilot.decide(other, decision)))
        except (ReviewConflict, UnknownReview):
            continue  # decided by someone else in the meantime
    return done
