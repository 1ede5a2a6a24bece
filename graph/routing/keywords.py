"""Keyword signals for routing: the seed's baseline router and an improved phrase analyser.

`seed_keyword_route` reproduces the seed's `SupervisorAgent.route_task` decision tree and is kept only
as the baseline to beat. `keyword_scores` is the analyser the supervisor actually uses: whole-word
matching, inflected variants and multi-word phrases, weighted per route. Its scores feed the intent
classifier as features and explain decisions (`keyword_matches`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from graph.routing.routes import ROUTES, SEQUENTIAL_WINBACK, Route

_SEED_TOKEN = re.compile(r"[a-z0-9]+")

SEED_KEYWORDS: Final = (
    "campaign",
    "email",
    "content",
    "revenue",
    "budget",
    "cac",
    "churn",
    "segment",
    "cohort",
    "question",
    "help",
    "policy",
    "weekly",
    "all",
)
"""Every keyword the seed's routing section names (decision tree and code)."""

_SEED_KEYWORD_PATTERN = re.compile(
    r"\b(?:campaigns?|e-?mails?|contents?|revenues?|budget\w*|cacs?|churn\w*|segment\w*|cohorts?|questions?"
    r"|help\w*|polic(?:y|ies)|weekly|all)\b",
    re.IGNORECASE,
)


def _seed_extract_keywords(user_input: str) -> set[str]:
    """The seed leaves `_extract_keywords` undefined; its `k in keywords` tests imply lower-cased word tokens."""
    return set(_SEED_TOKEN.findall(user_input.lower()))


def seed_keyword_route(text: str) -> Route:
    """Route `text` exactly as the seed's `SupervisorAgent.route_task` does (the baseline).

    The seed checks exact lower-cased words in this order: "weekly"/"all" → parallel, "campaign" →
    the sequential win-back plan, "revenue"/"cac"/"ltv" → finance, "churn"/"segment"/"rfm" → insights,
    "help"/"question"/"policy" → support, anything else → marketing. Its intent-classification step
    has no effect on the returned route, so it is omitted.

    Args:
        text: The user request.

    Returns:
        The seed's route for `text`.
    """
    keywords = _seed_extract_keywords(text)
    if "weekly" in keywords or "all" in keywords:
        return "parallel"
    if "campaign" in keywords:
        return SEQUENTIAL_WINBACK
    if any(k in keywords for k in ("revenue", "cac", "ltv")):
        return "finance"
    if any(k in keywords for k in ("churn", "segment", "rfm")):
        return "insights"
    if any(k in keywords for k in ("help", "question", "policy")):
        return "support"
    return "marketing"


def has_seed_keyword(text: str) -> bool:
    """Whether `text` contains any of `SEED_KEYWORDS`, counting plurals and inflections (a strict test).

    Args:
        text: A request.

    Returns:
        True when a seed keyword (e.g. "campaigns", "churned", "helpful") occurs as a word.
    """
    return _SEED_KEYWORD_PATTERN.search(text) is not None


# Each route's phrases: (regular expression matched on word boundaries, case-insensitive; weight).
_PHRASES: Final[dict[Route, tuple[tuple[str, float], ...]]] = {
    "marketing": (
        (r"campaigns?", 1.0),
        (r"e-?mails?|newsletters?|subject lines?|open rates?|unsubscrib\w*", 1.2),
        (r"(?:ad|landing page|website|web) copy|copy(?:writing)?|headlines?|taglines?|slogans?|hooks?", 1.5),
        (r"ads?|adverts?|advertising|creatives?|banners?|retargeting|ad sets?", 1.2),
        (r"blog(?: posts?)?|articles?|press releases?|case stud(?:y|ies)|customer stor(?:y|ies)|one-pager", 1.2),
        (r"linkedin|instagram|facebook|twitter|tweets?|youtube|tiktok|podcast|social(?: media)?", 1.0),
        (r"contents?|editorial|seo|organic(?: search| traffic)?|keywords? ideas", 1.0),
        (r"ctr|click[- ]?through(?: rates?)?|clicks?|impressions?|engagement|reach|cpc|cost per (?:click|lead)", 1.5),
        (r"channels?|paid (?:search|social)|display|partners? channel|channel mix", 1.0),
        (r"webinars?|events?|trade ?shows?|booth|summit|expo|sponsor\w*", 0.8),
        (r"launch(?:es|ing)?|promos?|promotions?|announc\w*|brand(?: voice)?|messaging|tone|positioning", 1.0),
        (r"draft|write|rewrite|brainstorm|compose|punch up|catchy|captions?|scripts?|invites?", 0.7),
        (r"a/b tests?|cta|call to action|nurture|funnel|attribution|touchpoints?|mqls? by source|signups?", 1.0),
    ),
    "finance": (
        (r"cac|customer acquisition costs?|acquisition costs?|cost per acquisition|cpa|blended cac", 2.0),
        (r"ltv ?: ?cac|ltv to cac|ltv/cac|unit economics|break-?even|magic number|burn multiple", 2.0),
        (r"ltv|lifetime value", 0.8),
        (r"roas|return on ad spend|roi|return on investment", 1.5),
        (r"payback(?: period)?|pays? for itself|earn back", 2.0),
        (r"burn(?: rate)?|runway|cash(?: flow)?|bank|series [a-d]|raise \$?\d", 2.0),
        (r"nrr|ndr|net (?:revenue|dollar) retention|gross (?:revenue )?retention|expansion mrr", 2.0),
        (r"(?:gross |contribution )?margins?|gross profit|cogs|ebitda|p&l|opex|operating expenses?|profit\w*", 2.0),
        (r"budget\w*|(?:vs|versus|against) (?:the )?plan|planned spend|variance|overspen\w*|on track", 1.5),
        (r"revenues?|mrr|arr|bookings|income|topline|top-line|arpa|arpu|aov|average order value", 1.5),
        (r"sales", 0.6),
        (r"spreadsheets?|sheets?|csv|xlsx|excel|uploaded|attached|columns?|rows?", 1.5),
        (r"total(?: it| this)?|sum(?: up)?|add up|average|median", 0.8),
        (r"forecast\w*|project(?:ed|ion)?|projections?", 1.2),
        (r"calculat\w*|compute|what if|scenario|percent|%|divided|convert|multiple|afford\w*", 1.0),
        (r"spend(?:ing)?|spent|costs?|outlay|expenses?|money|make money|\$\d[\d,.]*[kmb]?", 0.6),
    ),
    "insights": (
        (r"rfm|recency|frequency|monetary", 2.0),
        (r"segment\w*|cluster\w*|groups?|lookalikes?", 1.2),
        (r"churn\w*|at[- ]risk|about to leave|likely to (?:leave|cancel|stop|churn)|probability alive", 2.0),
        (r"cohorts?|retention (?:curve|matrix|heatmap|by)|still (?:active|around)|signup month|signed in", 2.0),
        (r"lead scor\w*|(?:scor|rank|rat|prioriti[sz])\w*(?: [\w']+){0,3} (?:leads|mqls|prospects|demo requests)", 2.0),
        (r"hot leads|sales-ready|most likely to (?:buy|close|convert)|likely to close", 2.0),
        (r"(?:how many|number of|count of)(?: new| open| inbound)? leads|leads? (?:volume|count)", 1.5),
        (r"clv|customer lifetime value|predicted (?:lifetime value|spend)|expected (?:purchases|orders|spend)", 2.0),
        (r"purchase patterns?|repeat purchases?|buy again|reorder\w*|bought together|buying behaviou?r", 1.5),
        (r"come back for more|buy more|(?:repeat|second|follow-on) (?:orders?|purchases?)", 1.5),
        (r"order frequency|time between purchases|one-time buyers|one-and-done|returning buyers", 1.5),
        (r"champions|loyal\w*|hibernating|dormant|lapsed|gone quiet|slipping|drifting", 1.5),
        (r"propensity|likelihood|likely to|predict\w*|probability|bg/nbd|gamma-gamma", 1.2),
        (r"customers?|accounts?|buyers?", 0.4),
        (r"c\d{4,6}|(?:customer|account|acct) #?\d{2,}", 1.5),  # one customer's data: "customer C00042"
    ),
    "support": (
        (r"refunds?|money back|return (?:window|policy|label|it|them|unused|\d+)|returns? policy", 2.0),
        (r"billing|invoices?|vat|charged|pay by|payment|credit card|card", 1.5),
        (r"ship\w*|deliver\w*|tracking|po box(?:es)?|express", 2.0),
        (r"sso|saml|okta|azure ad|entra|scim|single sign-on|onelogin|google workspace", 2.0),
        (r"api(?: keys?)?|rate limits?|429|tokens?|webhooks?|endpoints?|base url", 1.5),
        (r"not working|offline|disconnected|blinking|error\w*|broken|stuck|won't|can'?t log ?in|login|log in", 1.5),
        (r"password|reset|troubleshoot\w*|fix|readings?|dashboard shows", 1.0),
        (r"security|soc ?2|iso ?27001|encrypt\w*|gdpr|dpa|data residency|sub-?processors?|privacy", 2.0),
        (r"controller|processor|data subject|certifi\w*|compliant|compliance|delet\w*|erasure|retention period", 1.5),
        (r"tickets?|escalate|support hours|support", 2.0),
        (r"warranty|free trial|trial|cancel(?:lation)?|downgrade|upgrade|seats?|sla|uptime|status page", 1.5),
        (r"integrat\w*|works? with|sync with|connect(?:or)?|calendars?|teams|slack|zapier|power bi|tableau", 0.8),
        (r"how do (?:i|we)|do you|can (?:i|we)|is there|are you|does lumio|does it", 1.0),
        (r"plans?|pricing|price|how much is|how much does|cost of|discount", 0.6),
        (
            r"(?:how much|price|cost|pricing)(?: \w+){0,5} (?:plan|tier|seats?|hub|sensors?|kit|tag|installation"
            r"|sense(?: pro)?|air|battery pack)|(?:plan|tier|seat|hub|sensor|kit|tag|installation|sense pro|air"
            r"|starter|growth|enterprise)"
            r" (?:cost|price|pricing)",
            2.0,
        ),
        (r"how many (?:sensors|seats|users|requests)|(?:hub|sensor|api) (?:handle|limits?)", 1.5),
        (r"hosted|hosting|stored|data location|where is (?:our |customer |my )?data", 1.5),
        (r"questions?|help\w*|polic(?:y|ies)", 1.0),
    ),
    "parallel": (
        (
            r"(?:weekly|wkly|monthly|daily|quarterly|biweekly|monday|friday|morning"
            r"|end[- ]of[- ](?:week|month|quarter))"
            r" (?:gtm |exec |business |leadership )?(?:report|rpt|digest|summary|roundup|round-up|recap|wrap-?up"
            r"|briefing|update|review|rundown|analysis)",
            3.0,
        ),
        (r"reports?|rpt|digest|roundup|recap|wrap-?up|briefing|rundown|overview|snapshot|scorecard|dashboard", 1.5),
        (r"exec(?:utive)?s?|board|leadership|investors?|ceo|all-hands|management", 1.5),
        (
            r"everything|across the board|all (?:teams|agents|fronts|metrics|things considered)|every (?:team|agent)",
            2.0,
        ),
        (r"overall|big picture|full picture|complete picture|bird'?s[- ]eye|360|at a glance|state of", 2.0),
        (r"business review|qbr|kpi review|health check|pulse check|cross-(?:team|functional)|weekly|the weekly", 2.0),
        (r"(?:whole|entire) (?:business|company|funnel)|how(?:'s| is| are) (?:the business|the company|we)", 1.5),
    ),
    SEQUENTIAL_WINBACK: (
        (r"win[- ]?backs?|win (?:them|it|\w+(?: \w+)?) back|win (?:over|back)", 3.0),
        (r"re-?engag\w*|re-?activat\w*|revive|reignite|rekindle|we miss you|come-?back", 3.0),
        (r"(?:bring|get|lure|woo|entice|tempt|coax)(?: \w+){0,3} back|back into the fold|to return", 2.5),
        (
            r"lapsed|dormant|churned|inactive|former|ex-customers?|lost customers?|customers we lost"
            r"|went (?:quiet|dark)",
            1.0,
        ),
        (r"stopped (?:buying|ordering|renewing|using)|haven'?t (?:bought|ordered|purchased)|drifted away|silent", 1.0),
        (r"outreach|offers?|discount|coupon|incentive|deal|reach out|nudge", 0.7),
        (r"cost it(?: out)?|what it (?:would )?costs?|price it out|expected (?:return|roi|payback)|pays? off", 0.7),
    ),
}

_COMPILED: Final[dict[Route, tuple[tuple[re.Pattern[str], float], ...]]] = {
    route: tuple((re.compile(rf"(?<![\w-])(?:{pattern})(?![\w-])", re.IGNORECASE), weight) for pattern, weight in rows)
    for route, rows in _PHRASES.items()
}


def keyword_matches(text: str) -> dict[Route, list[str]]:
    """Find each route's keywords and phrases in `text`.

    Args:
        text: The user request.

    Returns:
        For every route (in `ROUTES` order), the distinct matched phrases, lower-cased, in order of appearance.
    """
    found: dict[Route, list[str]] = {}
    for route in ROUTES:
        hits: list[tuple[int, str]] = []
        for pattern, _weight in _COMPILED[route]:
            hits.extend((m.start(), m.group(0).lower()) for m in pattern.finditer(text))
        found[route] = _unique(phrase for _pos, phrase in sorted(hits))
    return found


def keyword_scores(text: str) -> dict[Route, float]:
    """Score how strongly the words of `text` point at each route.

    Each phrase group counts once per request (repeating a word does not add weight).

    Args:
        text: The user request.

    Returns:
        A non-negative score for every route; 0.0 when none of its phrases occur.
    """
    return {
        route: float(sum(weight for pattern, weight in _COMPILED[route] if pattern.search(text))) for route in ROUTES
    }


def keyword_route(text: str, default: Route = "marketing") -> Route:
    """Route by keyword scores alone (the analyser as a stand-alone router, for comparison).

    Args:
        text: The user request.
        default: The route when no phrase matches (the seed defaults to marketing).

    Returns:
        The route with the highest keyword score, or `default`.
    """
    scores = keyword_scores(text)
    best = max(ROUTES, key=lambda route: scores[route])
    return best if scores[best] > 0 else default


def _unique(items: Iterable[str]) -> list[str]:
    """Keep the first occurrence of each item, preserving order."""
    return list(dict.fromkeys(items))
