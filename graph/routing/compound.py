"""A message that asks two agents two things: "what's the refund policy, and what was our CAC last quarter?".

Routed whole, such a message reached one agent and half of it went unanswered. The supervisor splits it
at a conjunction when both sides are requests of their own that the router sends, confidently, to two
different agents; the graph then answers the parts one after another in the same run and the reply
holds both, each under its request. A support part goes last, so that a part that escalates to a
reviewer never holds up the others.

Two questions for the same tool agent are split too when each side is a question of its own ("What was CAC
for paid search and what is our runway?"): answered whole, the agent planned both from the whole message and
carried "paid search" into the runway, which has no channel breakdown. Each part is now planned from its own
text.

The split is deliberately strict: a short side ("CAC and LTV"), a side that leans on the other ("... and
their revenue"), a story told before the question ("our churn went up and ..."), what to put in a draft
("write a newsletter ... and mention the warranty"), two sides for the same agent that are not both questions
("show CAC by channel and what it was last year"), two Support questions (one search answers both), or an
unsure route keeps the message whole. `bench/eval_routing.py` reports how often single requests are split (they should not
be) and how often the compound examples are.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from graph.routing.decide import RouteDecision
from graph.routing.routes import AGENTS, Route

MIN_LEFT_WORDS: Final = 2
"""Fewest words before the conjunction ("CAC and LTV" stays one finance request)."""
MIN_RIGHT_WORDS: Final = 3
"""Fewest words after it ("RFM segments with counts and average spend" stays one request)."""
MIN_PART_CONFIDENCE: Final = 0.7
"""Least router confidence for each side."""
MAX_SPLITS_TRIED: Final = 3
"""Most conjunctions tried, from the left (each costs two route decisions)."""

_BOUNDARY: Final = re.compile(
    r"\s*[;?.!]\s+(?:(?:and|also|plus)[,]?\s+)?|,?\s+(?:and also|and then|and|also|plus|as well as)[,]?\s+",
    re.IGNORECASE,
)
_LEANS_ON_THE_OTHER: Final = re.compile(
    r"^(?:that|this|the same|each|both|per|by|for|vs\.?|versus|compared|then|so|or|with|without)\b"
    r"|\b(?:it|its|it's|they|their|theirs|them|those|these|ones)\b",
    re.IGNORECASE,
)
"""The second side refers back to the first ("... and resell it", "... and their revenue", "... and which ones
are slipping?") or only qualifies it ("... and by channel")."""
_CONTEXT: Final = re.compile(
    r"^(?:we|i)(?:['’](?:re|ve|m|d))?\b"
    r"|^(?:our|my)\b.*\b(?:is|was|are|were|has|have|had|went|got|keeps?|kept|started|stopped|dropped|rose|fell)\b",
    re.IGNORECASE,
)
"""The first side tells the story rather than asks ("we paid by bank transfer and the refund was approved...",
"our churn went up last month and ...")."""
_DRAFT: Final = re.compile(
    r"^(?:please\s+)?(?:draft|write|compose|create|prepare|put together|make|produce|generate|plan|design|outline)\b",
    re.IGNORECASE,
)
_EDIT: Final = re.compile(
    r"^(?:please\s+)?(?:add|include|mention|explain|highlight|cover|cite|reference|use|keep|end|start|close|open"
    r"|finish|link|feature|emphasi[sz]e|focus|describe|list|note|point out|remind|tell (?:them|readers|customers))\b",
    re.IGNORECASE,
)
"""After a request for a draft, a side that says what to put in it ("... and add a section on the warranty")."""
_WORD: Final = re.compile(r"[\w$%'’-]+")
_QUESTION: Final = re.compile(
    r"^(?:(?:and|also|plus)[,]?\s+)?(?:what|what's|whats|how|which|who|when|where|why)\b", re.I
)
"""A side that is a question of its own (both sides must be, for two questions to the same agent)."""
SAME_AGENT_SPLITS: Final[frozenset[Route]] = frozenset({"marketing", "finance", "insights"})
"""Agents whose two questions are split: each is planned on its own (Support searches once for both)."""


@dataclass(frozen=True)
class Part:
    """One request of a compound message and where it goes."""

    request: str
    decision: RouteDecision
    asked: int = 0
    """Its place in the message (0 = first asked): answers are shown in the order asked, whatever order runs."""


Decide = Callable[[str], Awaitable[RouteDecision]]
"""Decides one part's route (the supervisor's router, with no previous route)."""


def split_points(text: str) -> list[tuple[str, str]]:
    """The ways to cut `text` in two at a conjunction, both sides long enough and standing on their own."""
    out: list[tuple[str, str]] = []
    for match in _BOUNDARY.finditer(text):
        left, right = text[: match.start()].strip(" ,;"), text[match.end() :].strip(" ,;")
        if len(_WORD.findall(left)) < MIN_LEFT_WORDS or len(_WORD.findall(right)) < MIN_RIGHT_WORDS:
            continue
        if _LEANS_ON_THE_OTHER.search(right) or _CONTEXT.match(left) or (_DRAFT.match(left) and _EDIT.match(right)):
            continue
        out.append((left, right))
        if len(out) >= MAX_SPLITS_TRIED:
            break
    return out


async def split_compound(text: str, route: Decide) -> list[Part] | None:
    """The two parts of a message that asks two things, support last; None for a single request.

    Args:
        text: The whole message (already known not to be a multi-agent plan such as the weekly report).
        route: Decides a part's route.
    """
    for left, right in split_points(text):
        first, second = await route(left), await route(right)
        if not {first.route, second.route} <= set(AGENTS):
            continue
        if first.route == second.route and not _two_questions_for(first.route, left, right):
            continue
        if min(first.confidence, second.confidence) < MIN_PART_CONFIDENCE:
            continue
        if "follow-up" in (first.method, second.method):
            continue
        parts = [Part(_as_request(left), first, 0), Part(_as_request(right), second, 1)]
        return sorted(parts, key=lambda p: p.decision.route == "support")  # support last; stable otherwise
    return None


def _two_questions_for(route: Route, left: str, right: str) -> bool:
    """Both sides are questions of their own for one tool agent, to be planned separately."""
    return route in SAME_AGENT_SPLITS and bool(_QUESTION.match(left)) and bool(_QUESTION.match(right))


def _as_request(part: str) -> str:
    """A part as a request of its own: no leading "and"/"also", capitalised, its question mark kept."""
    part = re.sub(r"^(?:and|also|plus)[,]?\s+", "", part.strip(), flags=re.IGNORECASE)
    return part[:1].upper() + part[1:]
