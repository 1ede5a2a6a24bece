"""A support follow-up fragment as the standalone question it asks.

"and for hardware?" after "How long do refunds take?" asks "How long do refunds take for hardware?".

Deterministic and model-free: retrieval, the confidence, the draft and the review record (the question a
reviewer reads, and the title "add to knowledge base" files the answer under) all need a question that
stands on its own, which a fragment is not. The rewrite reads the fragment as a modifier of the question
before it (`for hardware`, `the Growth plan`, `after 6 weeks`): a modifier whose preposition (or, for a
bare noun phrase, whose kind: "the Growth plan" after "on the Starter plan") matches the question's last
phrase replaces that phrase; any other is added at the end.
"""

from __future__ import annotations

import re
from typing import Final

from graph.routing.decide import is_follow_up
from graph.routing.text import normalize_request

_LEADS: Final = re.compile(
    r"^(?:and|but|also|plus|or|so|then|now|ok|okay|well|what\s+about|how\s+about|same\s+(?:goes\s+)?(?=for\b)"
    r"|same\s+(?:question|thing)\s+(?=for\b))\s*,?\s*",
    re.IGNORECASE,
)
"""Words a fragment opens with that carry no content ("and", "what about"), stripped one after another."""
_TAILS: Final = re.compile(r"(?:\s*,?\s*\b(?:too|as\s+well|then|though|also|instead|please))+$", re.IGNORECASE)
"""Words a fragment ends with that carry no content ("… too", "… as well")."""
_QUESTION_OPENERS: Final = frozenset(
    "what which who whom whose when where why how is are was were do does did can could should would will may "
    "might must shall have has had i we you".split()
)
"""A remainder opening with one of these is a question (or clause) of its own, not a modifier: not rewritten."""
_REFERENCES: Final = re.compile(r"\b(?:it|its|that|this|those|these|them|they|the\s+same)\W*$", re.IGNORECASE)
"""A fragment that points back ("does that apply to them?") names nothing to put in the question."""
PREPOSITIONS: Final = frozenset(
    "for on in to with from under after within during before over at via by without through between across "
    "outside inside beyond".split()
)
"""Prepositions a modifier may open with ("for hardware", "on the Growth plan", "after 6 weeks")."""
_DETERMINERS: Final = frozenset("the a an our my your their this that these those".split())
MAX_MODIFIER_WORDS: Final = 6
"""Longest modifier read from a fragment; a longer remainder is a request of its own."""
MAX_PHRASE_WORDS: Final = 4
"""Longest object of the question's last prepositional phrase that a modifier may replace."""
DEFAULT_PREPOSITION: Final = "for"
"""The preposition a bare noun phrase ("and hardware?", "the Growth plan?") is added with."""
_WORDS: Final = re.compile(r"\S+")


def is_fragment(text: str) -> bool:
    """Whether `text` reads as a continuation fragment rather than a standalone question ("and for hardware?")."""
    return is_follow_up(normalize_request(text))


def modifier(fragment: str) -> tuple[str | None, str] | None:
    """The preposition (None for a bare noun phrase) and the object a fragment adds, or None when it adds none.

    "and for hardware?" → ("for", "hardware"); "what about the Growth plan?" → (None, "the Growth plan");
    "and how long for hardware?" and "does that apply to them?" → None (a question of their own, a reference).
    """
    text = fragment.strip().rstrip("?.!… ").strip()
    if _REFERENCES.search(text):
        return None
    while True:
        stripped = _LEADS.sub("", text, count=1).strip()
        if stripped == text:
            break
        text = stripped
    text = _TAILS.sub("", text).strip(" ,;:")
    words = text.split()
    if not words or len(words) > MAX_MODIFIER_WORDS or words[0].lower().strip(",") in _QUESTION_OPENERS:
        return None
    first = words[0].lower()
    if first in PREPOSITIONS:
        return (first, " ".join(words[1:])) if len(words) > 1 else None
    return None, text


def _last_phrase(tokens: list[str]) -> tuple[int, str, str] | None:
    """Where the question's last prepositional phrase starts, its preposition and its object ("on the Starter plan")."""
    for i in range(len(tokens) - 2, 0, -1):
        word = tokens[i].lower()
        if word in PREPOSITIONS:
            if len(tokens) - i - 1 > MAX_PHRASE_WORDS:
                return None
            return i, word, " ".join(tokens[i + 1 :])
        if word in _QUESTION_OPENERS or word.endswith(","):
            return None  # a clause of its own ("… after I cancel"), or a list: no phrase to replace
    return None


def _content(phrase: str) -> list[str]:
    return [w for w in phrase.split() if w.lower() not in _DETERMINERS]


def _parallel(old: str, new: str) -> bool:
    """Whether two noun phrases name things of one kind, so the new one takes the old one's place.

    Same head noun ("the Starter plan" / "the Growth plan"), both opening with a name ("Australia" / "New
    Zealand", "the Starter plan" / "Enterprise"), or both amounts ("3 weeks" / "6 weeks").
    """
    a, b = _content(old), _content(new)
    if not a or not b:
        return False
    if a[-1].lower() == b[-1].lower():
        return True
    if a[0][:1].isupper() and b[0][:1].isupper():  # names: "Australia" / "New Zealand", "Starter plan" / "Enterprise"
        return True
    return any(ch.isdigit() for ch in old) and any(ch.isdigit() for ch in new)


def resolve(question: str, fragment: str) -> str | None:
    """`question` with what `fragment` adds or changes, or None when the fragment is no modifier of it.

    Args:
        question: The standalone question the fragment continues ("How long do refunds take?").
        fragment: The follow-up ("and for hardware?", "what about the Growth plan?", "and the Y plan?").
    """
    found = modifier(fragment)
    base = question.strip().rstrip("?.!… ").strip()
    if found is None or not base:
        return None
    preposition, obj = found
    tokens = _WORDS.findall(base)
    last = _last_phrase(tokens)
    if preposition is None:
        preposition = last[1] if last is not None and _parallel(last[2], obj) else DEFAULT_PREPOSITION
    if last is not None and last[1] == preposition:  # "on the Starter plan" → "on the Growth plan"
        return f"{' '.join(tokens[: last[0]])} {preposition} {obj}?"
    return f"{base} {preposition} {obj}?"


def standalone_question(thread: list[str]) -> str | None:
    """The standalone question the last of `thread` asks, or None when it cannot be resolved.

    Args:
        thread: The support requests of the conversation, oldest first: a standalone question, then the
            fragments that followed it (the newest last). Each fragment is applied to the question so far,
            so "and for software?" after "… for hardware?" asks about software instead.
    """
    if len(thread) < 2 or is_fragment(thread[0]) or modifier(thread[-1]) is None:
        return None
    question = thread[0].strip()
    for fragment in thread[1:]:
        question = resolve(question, fragment) or question  # a fragment that adds nothing changes nothing
    return question
