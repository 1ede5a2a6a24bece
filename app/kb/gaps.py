"""What a question asks that the evidence does not cover: shown to reviewers beside an escalation.

A support question escalates when the confidence model doubts the passages answer it. Its strongest
signals are lexical (`unknown_terms`, `missing_rarest` in `app.kb.retrieval`): words the knowledge base
never mentions, and rare words the best document lacks. Naming those words lets a reviewer see at a
glance whether the knowledge base has a gap to fill ("add to knowledge base") or the question was
phrased in words the documents do not use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.kb.bm25 import BM25Index, term_words, tokenize

MAX_WORDS = 6
"""Most words named in each list."""


@dataclass(frozen=True, slots=True)
class QuestionGaps:
    """Words of a question the evidence does not cover, rarest first."""

    unknown: list[str]
    """Words the knowledge base never mentions."""
    unmatched: list[str]
    """Words the knowledge base mentions, but none of the given passages does."""

    def to_json(self) -> dict[str, list[str]]:
        """Plain data (for JSON and templates)."""
        return {"unknown": list(self.unknown), "unmatched": list(self.unmatched)}


def question_gaps(question: str, passages: Sequence[str], index: BM25Index, limit: int = MAX_WORDS) -> QuestionGaps:
    """The question's words missing from the knowledge base (`index`) and from `passages`, rarest first."""
    covered = {term for text in passages for term in tokenize(text)}
    unseen = index.unseen_idf()
    words = sorted(term_words(question).items(), key=lambda item: -(index.idf_of(item[0]) or unseen))
    unknown = [word for term, word in words if index.idf_of(term) is None]
    unmatched = [word for term, word in words if index.idf_of(term) is not None and term not in covered]
    return QuestionGaps(unknown[:limit], unmatched[:limit])
