"""Grounding check: the support agent's model reads the passages and says whether they answer the question.

The offline confidence model (`app.kb.confidence`) sees retrieval scores, lexical gaps and word-piece
alignment. It cannot read: a question that shares every word with a passage but one fact ("SOC 1" where the
passage says SOC 2) looks answerable to it. A language model can tell, so with a hosted or local
OpenAI-compatible model (`GTM_LLM_PROVIDER=openai` or `OPENAI_API_KEY`) the support agent also asks its
model, with structured output, whether the passages answer the question and which sentence does. This is
the retrieval grader of corrective and adaptive RAG.

The model's "yes" counts only with evidence: the sentence it quotes must be found in a passage
(`evidence_in_passages`), so a model that invents a supporting sentence does not raise the confidence. The
final confidence mixes the two: `(1 − w) · offline + w · verdict`, with the verdict 1 for a supported "yes"
and 0 for "no"; a "yes" whose quote is not in the passages (a paraphrase, or an invention), a failed call or
an invalid reply is no verdict, and the offline confidence stands alone.

At the default `w = 0.6` and the 0.7 threshold, a "no" always escalates and a supported "yes" answers when
the offline confidence is at least 0.25. The weight was chosen on the dev questions
(`bench/eval_support.py`), from the ceiling a verdict that is always right would reach: the answerable
questions still escalated because their offline confidence is too low are 22.3 % at w = 0.3, 8.2 % at 0.5,
1.8 % at 0.6 and none at 0.7, where the verdict alone decides (test: 21.4 %, 9.2 %, 4.6 %, 0). 0.6 is the
lowest weight under the goal of 5 %, and keeps an offline gate against passages that are not about the
question at all.
`bench/eval_support.py --grounding` measures the check with the configured model; `GTM_GROUNDING_WEIGHT`
sets `w` (0 turns it off). The offline model cannot read, so offline runs never call it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from graph.prompts import render

log = logging.getLogger(__name__)

MIN_EVIDENCE_MATCH = 0.8
"""Share of the quoted evidence's words that must appear, in order, in one passage."""
MAX_EVIDENCE_CHARS = 600
"""Longest evidence quote that is checked (longer quotes are cut)."""
_WORDS = re.compile(r"[^\W_]+(?:[.,'’][^\W_]+)*", re.UNICODE)


class ContextGrade(BaseModel):
    """The model's structured verdict on one question and its passages."""

    answerable: bool = Field(description="true only if the passages state the answer to the question")
    evidence: str = Field(
        default="",
        description="the sentence from the passages that answers the question, copied word for word; empty if none",
    )


@dataclass(frozen=True, slots=True)
class Grounding:
    """A verdict with its evidence checked against the passages."""

    answerable: bool
    """The model says the passages answer the question."""
    evidence: str
    """The sentence it quoted (may be empty)."""
    verified: bool
    """The quote was found in a passage (`evidence_in_passages`)."""

    def as_state(self) -> dict[str, Any]:
        """The form kept in the graph state and shown to reviewers."""
        return {"answerable": self.answerable, "evidence": self.evidence, "verified": self.verified}


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORDS.findall(text)]


def evidence_in_passages(evidence: str, passages: Sequence[dict[str, Any]]) -> bool:
    """Whether at least `MIN_EVIDENCE_MATCH` of the quote's words appear in order in one passage.

    Case, punctuation, markdown and spacing are ignored, so a quote that drops a bullet or a bold marker
    still matches; a paraphrase or an invented sentence does not.
    """
    quoted = _words(evidence[:MAX_EVIDENCE_CHARS])
    if len(quoted) < 2:
        return False
    for passage in passages:
        text = _words(f"{passage.get('section', '')} {passage.get('text', '')}")
        matcher = SequenceMatcher(None, quoted, text, autojunk=False)
        matched = sum(block.size for block in matcher.get_matching_blocks())
        if matched >= MIN_EVIDENCE_MATCH * len(quoted):
            return True
    return False


def grounded_confidence(offline: float, grounding: Grounding | None, weight: float) -> float:
    """`(1 − weight) · offline + weight · verdict`; the offline confidence alone without a verdict.

    The verdict is 1 for a "yes" with its quote found in the passages and 0 for a "no"; a "yes" with no
    quote found is no verdict.
    """
    if grounding is None or weight <= 0 or (grounding.answerable and not grounding.verified):
        return offline
    verdict = 1.0 if grounding.answerable else 0.0
    return (1.0 - weight) * offline + weight * verdict


def grading_messages(question: str, context: str) -> list[SystemMessage | HumanMessage]:
    """The grading request (`prompts/support_prompts.yaml`: `grade_context`)."""
    return [
        SystemMessage(render("support", "grade_system")),
        HumanMessage(render("support", "grade_context", query=question, context=context)),
    ]


def _single_attempt(model: BaseChatModel) -> BaseChatModel:
    """`model` with one attempt per call, when it retries (`ResilientChatOpenAI`)."""
    if getattr(model, "retry_attempts", 1) == 1:
        return model
    return model.model_copy(update={"retry_attempts": 1})


async def grade_context(
    model: BaseChatModel, question: str, context: str, passages: Sequence[dict[str, Any]]
) -> Grounding | None:
    """Ask `model` whether `context` answers `question`; `None` when the model gives no usable verdict.

    A failed call or an invalid reply is logged and ignored: the offline confidence then decides alone. The
    check is optional, so it makes one attempt: the answer never waits for its retries (a server without the
    requested structured output fails the same way every time). The call is tagged `nostream`, so its JSON
    never reaches the chat.
    """
    try:
        runnable = _single_attempt(model).with_structured_output(ContextGrade)
        raw = await runnable.ainvoke(grading_messages(question, context), config={"tags": ["nostream"]})
        grade = raw if isinstance(raw, ContextGrade) else ContextGrade.model_validate(raw)
    except Exception as exc:  # noqa: BLE001 - any provider or validation error: no verdict, never a crash
        log.warning("grounding check failed, using the offline confidence alone: %s", exc)
        return None
    evidence = grade.evidence.strip()
    return Grounding(grade.answerable, evidence, evidence_in_passages(evidence, passages))
