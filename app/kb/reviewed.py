"""Reviewed answers as knowledge-base documents: "add to knowledge base" in the console, the CLI and the API.

An approved or edited answer is written as a markdown document titled with the question it answers and
indexed at once, so the same question no longer escalates.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.settings import Settings

HELPFUL_TAIL = re.compile(r"\s*Was this helpful\?\s*$", re.IGNORECASE)
OFFLINE_TAG = re.compile(r"^\s*\[offline model\]\s*", re.IGNORECASE)


def knowledge_text(question: str, answer: str) -> str:
    """The markdown document for a reviewed answer: the question as its title, the answer as its body."""
    body = HELPFUL_TAIL.sub("", OFFLINE_TAG.sub("", answer)).strip()
    return f"# {' '.join(question.split())}\n\n{body}\n"


async def add_reviewed_answer(settings: Settings, review_id: str, question: str, answer: str) -> str:
    """Write the reviewed answer as a KB document and index it (in a worker thread); returns its name."""
    from app.kb.service import get_knowledge_base

    kb = await asyncio.to_thread(get_knowledge_base, settings)
    doc: str = await asyncio.to_thread(kb.add_document, f"{review_id} {question}", knowledge_text(question, answer))
    return doc
