"""Multi-agent detection: explicit, high-precision patterns that override the classifier.

Two plans need several agents: the win-back (Insights picks the customers, Marketing drafts, Finance costs
it) and the multi-domain report (all agents in parallel). Both are recognised here by phrase patterns
so they stay deterministic and explainable; anything vaguer is left to the intent classifier, which has
its own examples of both. One single-agent rule lives here too: a bare calculation ("What is 2+2?",
"1.2e6 / 250") goes to Finance, whose calculator computes it (the classifier, trained on sentences, sent
such messages to Support, which escalated them to a reviewer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from graph.routing.routes import PARALLEL, SEQUENTIAL_WINBACK, Route


def _words(pattern: str) -> re.Pattern[str]:
    """Compile `pattern` to match whole words only, ignoring case."""
    return re.compile(rf"(?<![\w-])(?:{pattern})(?![\w-])", re.IGNORECASE)


# --- win-back -----------------------------------------------------------------------------------------
_WINBACK_TERM: Final = _words(
    r"win[- ]?backs?|win (?:them|it|\w+(?: \w+){0,2}) back|win (?:over|back)"
    r"|re-?engag\w*|re-?activat\w*|we miss you|come-?back(?: offers?)?|revive|reignite|rekindle"
    r"|get(?: \w+){1,4} (?:buying|ordering|purchasing|renewing) (?:from us )?again"
    r"|(?:recover|rescue|save|reclaim)(?: \w+){0,2} (?:accounts|customers|buyers|clients|subscribers)"
    r" (?:we(?: have|'ve)? lost|that (?:churned|left|lapsed)|who (?:churned|left|lapsed))"
)
_PEOPLE: Final = r"(?:ex-)?(?:them|customers?|accounts?|buyers?|clients?|subscribers?|users?|people|subscriptions?)"
_RETURN_VERB: Final = _words(
    rf"(?:bring|get|lure|woo|entice|tempt|coax|recover|win)(?: \w+){{0,3}} {_PEOPLE}(?: \w+){{0,3}}"
    r" (?:back|to return|returning)"
    rf"|(?:bring|get|lure|woo|win|recover) back(?: \w+){{0,3}} {_PEOPLE}|back into the fold"
)
_LAPSED: Final = _words(
    r"lapsed|dormant|churned|inactive|former|previous (?:buyers|customers)|ex-?customers?|lost customers?"
    r"|(?:customers|accounts|buyers|clients|subscribers|users) (?:we|that we|who) lost|we lost|cancell?ed"
    r"|hibernating|went (?:quiet|dark|silent)|gone (?:quiet|dark|silent)|drifted away|silent|stopped \w+ing"
    r"|haven'?t (?:bought|ordered|purchased|placed)|(?:customers|accounts) (?:who|that) left"
)
"""Customers who are gone. At-risk customers ("at risk", "about to churn") are still customers: a campaign for
them is Marketing's and a list of them Insights' (the win-back policy covers cancelled accounts only)."""
_OUTREACH: Final = _words(
    r"campaigns?|e-?mails?|outreach|offers?|messag\w*|sequences?|discounts?|coupons?|incentives?|promos?"
    r"|deals?|drip|reach(?:ing)? out|write (?:to )?(?:them|\w+)|nudge|draft\w*|send (?:them|something|a)"
)
_CONTACT_DETAILS: Final = _words(
    r"(?:their|with|and|plus|incl(?:uding)?|show(?:ing)?) (?:their |the )?(?:e-?mail(?: address(?:es)?)?s?"
    r"|contact (?:details|info)|phone numbers?)|e-?mail addresses"
)
"""Columns asked for in a list ("... with their emails"): data, not outreach."""
# Questions about past win-backs are analysis (Insights/Finance), not a new win-back plan.
_RETROSPECTIVE: Final = _words(
    r"how many|how (?:much|well) did|did (?:the|our|last|that|it|we)|(?:rate|results?|performance|roi) of"
    r"|(?:re-?activation|re-?engagement|win-?back) (?:rates?|results?|performance)|re-?activated|(?<!never )came back"
)

# A customer asking about their own account ("can I reactivate my subscription?") is a Support question.
_SELF_SERVICE: Final = _words(
    r"(?:my|our) (?:subscription|account|plan|workspace|seat|user|login|api key|order)"
    r"|(?:can|do|how do) (?:i|we) re-?(?:activate|enable)"
)

# --- multi-domain report ------------------------------------------------------------------------------
_PERIODIC_REPORT: Final = _words(
    r"(?:weekly|wkly|monthly|daily|quarterly|biweekly|bi-weekly|monday|friday|morning"
    r"|end[- ]of[- ](?:the[- ])?(?:week|month|quarter))(?: \w+){0,2}"
    r" (?:report|rpt|digest|summary|roundup|round-up|recap|wrap-?up|briefing|update|review|rundown|analysis"
    r"|numbers|kpis|metrics|highlights)"
    r"|the weekly|weekly report|wkly rpt"
)
_AUDIENCE: Final = _words(r"exec(?:utive)?s?|board|leadership|investors?|ceo|all-hands|management|c-suite")
_REPORT: Final = _words(
    r"reports?|rpt|digest|summary|summari[sz]e|roundup|recap|wrap-?up|briefing|update|rundown|overview|snapshot"
    r"|scorecard|review|pack|deck|dashboard|picture|view"
)
_EVERYTHING: Final = _words(
    r"(?:overview|summary|snapshot|report|picture|view) of everything|everything at a glance|across the board"
    r"|all (?:teams|agents|fronts|departments|functions|areas)|every (?:team|agent|department|function)"
    r"|(?:whole|entire) (?:business|company)|state of the (?:business|company)|business review"
    r"|(?:gtm|go-to-market) (?:digest|report|summary|health|review|overview|performance)|big picture"
    r"|(?:summary|overview|review|report|digest|health) of (?:gtm|go-to-market|the business|the company)"
    r"|full picture|complete picture"
    r"|bird'?s[- ]eye|at a glance|cross-(?:team|functional)|run (?:all|every) agents?|all agents"
)
_ACROSS: Final = _words(
    r"across|covering|combined|overall|together|in one (?:update|view|place)|state of play|health|status|numbers"
    r"|highlights|kpis|metrics|pulse|how (?:did|are|is|was|were)"
)
# Words that tie a report to one domain ("weekly churn report" is Insights, not a multi-agent report).
_DOMAINS: Final[dict[str, re.Pattern[str]]] = {
    "marketing": _words(
        r"marketing|campaigns?|channels?|ads?|advertising|social|seo|e-?mails?|newsletters?|content|ctr"
        r"|impressions|clicks|acquisition|funnel|pipeline"
    ),
    "finance": _words(
        r"financ\w*|revenue|money|cash|burn|runway|margins?|budget|p&l|mrr|arr|cac|ltv|roas|unit economics|income"
    ),
    "insights": _words(r"customers?|retention|churn\w*|segments?|cohorts?|rfm|at-risk|leads?|insights"),
    "support": _words(r"support|tickets?|help ?desk"),
}


_DOMAIN_ROUTES: Final[dict[str, Route]] = {
    "marketing": "marketing",
    "finance": "finance",
    "insights": "insights",
    "support": "support",
}


# --- arithmetic ---------------------------------------------------------------------------------------
_NUMBER: Final = r"\(*[$€£]?\d[\d,]*(?:\.\d+)?(?:e[+-]?\d+)?\s*(?:%|[kmb]\b)?\)*"
_OPERATOR: Final = r"\s*(?:\*\*|[-+*/×÷^x])\s*|(?<=%)\s+of\s+"
_EXPRESSION: Final = re.compile(rf"{_NUMBER}(?:(?:{_OPERATOR}){_NUMBER})+", re.IGNORECASE)
"""Numbers joined by operators: "2+2", "1.2e6 / 250", "12,000 * 1.15 - 3,000", "15% of 2,400"."""
_DATE_LIKE: Final = re.compile(r"^\d{1,4}[-/]\d{1,2}(?:[-/]\d{1,4})?$|^24/7$")
"""A date or "24/7", not a calculation."""
_CALCULATION_WORDS: Final = frozenset(
    "what whats what's is are was calculate calc compute work out how much please the result of equals equal to"
    " solve evaluate tell me quick quickly can you could do math maths answer".split()
)
"""Words that may frame a bare calculation ("what is", "calculate", "please")."""


def arithmetic(text: str) -> RuleMatch | None:
    """A message that is a calculation and nothing else goes to Finance (it has the calculator).

    Only the expression and a few framing words ("what is", "calculate") may appear: "What's 20% of our Q3
    budget?" needs Finance's data and is left to the classifier.

    Args:
        text: The (normalised) request.

    Returns:
        A match routing to Finance, or None.
    """
    found = _EXPRESSION.search(text)
    if found is None or _DATE_LIKE.match(found.group(0).strip()):
        return None
    rest = (text[: found.start()] + " " + text[found.end() :]).lower()
    if any(word not in _CALCULATION_WORDS for word in re.findall(r"[a-z']+", rest)):
        return None
    return RuleMatch("finance", "arithmetic", (found.group(0).strip(),))


@dataclass(frozen=True)
class RuleMatch:
    """A multi-agent pattern found in a request."""

    route: Route
    """The multi-agent route the rule selects."""
    rule: str
    """Which rule fired (`win-back`, `report`, `single-domain report` or `arithmetic`)."""
    phrases: tuple[str, ...]
    """The phrases that triggered it, lower-cased."""


def mentioned_domains(text: str) -> set[str]:
    """Which agent domains a request names (marketing, finance, insights, support).

    Args:
        text: The request.

    Returns:
        The domains with at least one telltale word in `text`.
    """
    return {domain for domain, pattern in _DOMAINS.items() if pattern.search(text)}


def single_domain_report(text: str) -> RuleMatch | None:
    """A periodic report about exactly one domain ("weekly churn report") belongs to that domain's agent.

    Args:
        text: The (normalised) request.

    Returns:
        A match routing to the single named domain, or None.
    """
    periodic = _PERIODIC_REPORT.search(text)
    domains = mentioned_domains(text)
    if periodic is None or len(domains) != 1:
        return None
    (domain,) = domains
    return RuleMatch(_DOMAIN_ROUTES[domain], "single-domain report", (periodic.group(0).lower(), domain))


def detect_multi_agent(text: str) -> RuleMatch | None:
    """Apply the multi-agent rules (win-back first, then multi-domain reports).

    Win-back: an explicit win-back/re-engagement/reactivation term, a "bring/get/lure ... back" phrase,
    or lapsed customers together with an outreach word ("email the dormant accounts an offer").
    Report: a periodic or executive report, or an "everything / across the board" request, unless it
    names exactly one domain ("weekly marketing report" stays with the classifier); a report-like request
    naming three or more domains is always multi-agent.

    Args:
        text: The (normalised) request.

    Returns:
        The matching rule, or None when no multi-agent pattern applies.
    """
    winback = _match_winback(text)
    if winback is not None:
        return winback
    return _match_report(text)


def _match_winback(text: str) -> RuleMatch | None:
    """The win-back rule (see `detect_multi_agent`)."""
    if _RETROSPECTIVE.search(text) or _SELF_SERVICE.search(text):
        return None
    for pattern in (_WINBACK_TERM, _RETURN_VERB):
        found = pattern.search(text)
        if found:
            return RuleMatch(SEQUENTIAL_WINBACK, "win-back", (found.group(0).lower(),))
    lapsed, outreach = _LAPSED.search(text), _OUTREACH.search(_CONTACT_DETAILS.sub(" ", text))
    if lapsed and outreach:
        return RuleMatch(SEQUENTIAL_WINBACK, "win-back", (lapsed.group(0).lower(), outreach.group(0).lower()))
    return None


def _match_report(text: str) -> RuleMatch | None:
    """The multi-domain report rule (see `detect_multi_agent`)."""
    domains = mentioned_domains(text)
    report = _REPORT.search(text) or _ACROSS.search(text)
    if report and len(domains) >= 3:
        return RuleMatch(PARALLEL, "report", (report.group(0).lower(), *sorted(domains)))
    if len(domains) == 1:
        return None
    periodic = _PERIODIC_REPORT.search(text)
    if periodic:
        return RuleMatch(PARALLEL, "report", (periodic.group(0).lower(),))
    everything = _EVERYTHING.search(text)
    if everything:
        return RuleMatch(PARALLEL, "report", (everything.group(0).lower(),))
    audience, report_word = _AUDIENCE.search(text), _REPORT.search(text)
    if audience and report_word:
        return RuleMatch(PARALLEL, "report", (audience.group(0).lower(), report_word.group(0).lower()))
    return None
