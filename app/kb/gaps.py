"""What a question asks that the evidence does not cover: shown to reviewers beside an escalation.

A support question escalates when the confidence model doubts the passages answer it. Its strongest
signals are lexical (`unknown_terms`, `missing_rarest` in `app.kb.retrieval`): words the knowledge base
never mentions, and rare words the best document lacks. Naming those words lets a reviewer see at a
glance whether the knowledge base has a gap to fill ("add to knowledge base") or the question was
phrased in words the documents do not use.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from app.kb.bm25 import BM25Index, term_words, tokenize

MAX_WORDS = 6
"""Most words named in each list."""
MIN_STEM = 5
"""Shortest stem that matches longer forms of a word (`same_word`); shorter ones ("pass", "card") only match
themselves, so that "pass" is not taken as covered by "password"."""
GENERIC_WORDS = frozenset(
    """able allow allowed allows anyone anything around ask asking back best better come does done either else
    ever every exactly good great hello help hey hi know let like look looking lot lots make many maybe mean much
    need needed needs new okay ok one possible really right say see something still sure tell thing things think
    try trying want wanted wants way ways well wondering work works yes""".split()
)
"""Words of how a question is asked ("how many", "is it possible", "I was wondering") rather than what about:
a reviewer learns nothing from being told the knowledge base never uses them."""


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
    """The question's words missing from the knowledge base (`index`) and from `passages`, rarest first.

    Words that say how a question is asked rather than what about (`GENERIC_WORDS`) are never named, and a
    word counts as covered by another form of it (`same_word`: "allow" by "allowance").
    """
    covered = {term for text in passages for term in tokenize(text)}
    unseen = index.unseen_idf()
    asked = {term: word for term, word in term_words(question).items() if word not in GENERIC_WORDS}
    known = {term: index.idf_of(term) or _variant_idf(term, index) for term in asked}
    words = sorted(asked.items(), key=lambda item: -(known[item[0]] or unseen))
    unknown = [word for term, word in words if known[term] is None]
    unmatched = [
        word
        for term, word in words
        if known[term] is not None and term not in covered and not any(same_word(term, c) for c in covered)
    ]
    never = _as_written(unknown, question)
    missing = [word for word in _as_written(unmatched, question) if word not in never]
    return QuestionGaps(never[:limit], missing[:limit])


_COMPOUND = re.compile(r"\w+(?:[-'’]\w+)+")
"""A hyphenated word as written ("white-label", "e-commerce"): its parts are separate terms."""


def _as_written(words: list[str], question: str) -> list[str]:
    """`words` with a part of a hyphenated word replaced by the whole word, as the question writes it, once.

    "white-label" is indexed as "white" and "label"; telling a reviewer the knowledge base never mentions
    "white" reads as a mistake, where "white-label" says what is missing.
    """
    compounds = [whole for whole in _COMPOUND.findall(question) if "-" in whole]
    alone = set(re.findall(r"\w+", _COMPOUND.sub(" ", question).lower()))  # a part also written on its own stays
    wholes = {
        part.lower(): whole for whole in compounds for part in re.split(r"[-'’]", whole) if part.lower() not in alone
    }
    named = [wholes.get(word.lower(), word) for word in words]
    return list(dict.fromkeys(named))


def same_word(a: str, b: str) -> bool:
    """Whether two stemmed terms are forms of one word ("allow" / "allowance", "integrate" / "integration").

    Either one starts with the other, which has at least `MIN_STEM` letters, or they share all but the last
    two letters of the shorter one, and at least `MIN_STEM + 1`; numbers only match exactly.
    """
    short, long = sorted((a, b), key=len)
    if short.isdigit() or long.isdigit():
        return a == b
    if len(short) >= MIN_STEM and long.startswith(short):
        return True
    shared = len(os.path.commonprefix([short, long]))
    return shared >= max(MIN_STEM + 1, len(short) - 2)


def _variant_idf(term: str, index: BM25Index) -> float | None:
    """The IDF of the rarest other form of `term` in the knowledge base (`same_word`), or None."""
    if len(term) < MIN_STEM or term.isdigit():
        return None
    found = [index.idf_of(other) for other in index.vocabulary if same_word(term, other)]
    return max((f for f in found if f is not None), default=None)
