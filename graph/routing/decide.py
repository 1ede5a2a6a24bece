"""The supervisor's route decision: keywords → intent classifier → multi-agent rules, plus follow-ups.

`decide_route` is the offline path (no LLM): it always answers with one of `ROUTES` and says why.
`decide_route_llm` asks a configured chat model for a structured `RouteChoice` and falls back to the
offline path when the call fails or the answer is not a valid route.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any, Final, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from graph.routing.classifier import IntentClassifier, Prediction
from graph.routing.keywords import keyword_matches, keyword_scores
from graph.routing.routes import AGENTS, PARALLEL, ROUTES, SEQUENTIAL_WINBACK, Route
from graph.routing.rules import RuleMatch, arithmetic, detect_multi_agent, single_domain_report
from graph.routing.text import normalize_request

logger = logging.getLogger(__name__)

Method = Literal["multi-agent rule", "classifier", "keywords", "llm", "follow-up"]
"""Which step settled the route."""

RULE_CONFIDENCE: Final = 0.95
"""Confidence reported when an explicit multi-agent rule decides."""
LLM_CONFIDENCE: Final = 0.9
"""Confidence reported for a valid structured answer from the LLM (it gives no probability)."""
LOW_CONFIDENCE: Final = 0.4
"""Below this classifier probability, a clear keyword winner decides instead."""
MIN_PLAN_CONFIDENCE: Final = 0.5
"""Least classifier probability for a multi-agent plan (four agents, or a win-back that stages emails); below it
the closest single agent answers ("show me the numbers" ran the whole weekly report at 0.30)."""
FOLLOW_UP_MAX_WORDS: Final = 7
"""Longest request (in words) that can be a follow-up fragment."""

_FOLLOW_UP_START = re.compile(
    r"^(?:and|but|also|plus|or|so|what about|how about|what if|same|now|then|ok|okay|vs\.?|versus|compared|only"
    r"|just|instead|break (?:it|that|this) down|by|for|in|per|drill|more|why|show (?:me )?(?:those|that|them|more))\b",
    re.IGNORECASE,
)
_ENDS_WITH_REFERENCE = re.compile(r"\b(?:those|these|them|that|it|the same)\W*$", re.IGNORECASE)
_WORD = re.compile(r"[\w$%'-]+")

_ROUTE_LABELS: Final[dict[Route, str]] = {
    "marketing": "Marketing",
    "finance": "Finance",
    "insights": "Insights",
    "support": "Support",
    "parallel": "a parallel multi-agent report",
    SEQUENTIAL_WINBACK: "the win-back sequence (Insights → Marketing → Finance)",
}


class RouteDecision(BaseModel):
    """Where a request goes and why."""

    model_config = ConfigDict(frozen=True)

    route: Route
    """The chosen route."""
    confidence: float = Field(ge=0.0, le=1.0)
    """How sure the deciding step is (classifier probability, or a fixed level for rules and LLM)."""
    method: Method
    """Which step decided."""
    keywords: list[str] = Field(default_factory=list)
    """Keywords and phrases matched in the request (for the chosen route first)."""
    reason: str
    """One short sentence a person can read."""


class RouteChoice(BaseModel):
    """The structured answer requested from an LLM router."""

    route: Route = Field(description="Exactly one of: " + ", ".join(ROUTES))
    reason: str = Field(description="One short sentence explaining the choice")


class StructuredOutputModel(Protocol):
    """A chat model with LangChain's `with_structured_output` (e.g. `ChatOpenAI`)."""

    def with_structured_output(self, schema: Any, **kwargs: Any) -> Any:
        """Return a runnable whose `invoke`/`ainvoke` yields an instance of `schema`."""
        ...


ROUTER_SYSTEM_PROMPT: Final = """You route requests from go-to-market staff at Lumio to one destination.
- marketing: campaigns, email drafts and copy, content, channel analytics (CTR, impressions, which channel works).
- finance: CAC, LTV, ROAS, payback, burn, runway, NRR, margin, budget variance, revenue numbers, forecasts,
  spreadsheet or uploaded CSV questions, ad-hoc calculations and what-ifs.
- insights: RFM segments, churn prediction and at-risk customers, cohort retention, lead scoring,
  per-customer lifetime value, purchase patterns.
- support: questions about Lumio itself, its product and policies (plans and pricing, billing, refunds, shipping, SSO,
  API limits, troubleshooting, security, GDPR) and support tickets.
- parallel: a report spanning several domains (weekly report, exec summary, overview of everything).
- sequential:insights,marketing,finance: win-back / re-engagement of churned or lapsed customers (pick them,
  draft the outreach, cost it). A campaign that does not target lapsed customers is marketing, including one
  for at-risk customers (they have not left); a list of customers with their emails is insights.
One customer's account (plan, status, orders: "customer C00042") is insights, not support; a bare
calculation ("2+2", "1.2e6 / 250") is finance.
Answer with the route and one short reason."""
"""System prompt for `decide_route_llm` (the lead may substitute the supervisor prompt file)."""


def decide_route(text: str, classifier: IntentClassifier, previous_route: Route | None = None) -> RouteDecision:
    """Decide the route of a request offline.

    Steps: keyword analysis; multi-agent rules (win-back, multi-domain report), which override; a periodic
    report about a single domain ("weekly churn report") goes to that domain, a bare calculation ("2+2")
    to Finance; a short follow-up fragment ("and last month?") keeps `previous_route`; otherwise the intent
    classifier decides, or the keywords when the classifier is unsure (probability < 0.4) and the keywords
    are clear. A multi-agent plan the classifier gives less than `MIN_PLAN_CONFIDENCE` goes to the closest
    single agent instead.

    Args:
        text: The user request.
        classifier: The fitted intent classifier (`load_default()`).
        previous_route: The route of the previous turn in the same thread, if any.

    Returns:
        The decision; `route` is always one of `ROUTES`.

    Raises:
        ValueError: If `text` is empty or only whitespace.
    """
    cleaned = normalize_request(text)
    early = _decide_without_classifier(cleaned, previous_route)
    if early is not None:
        return early
    return _decide_with_prediction(cleaned, classifier.predict(cleaned), previous_route)


def decide_routes(
    texts: Sequence[str], classifier: IntentClassifier, previous_route: Route | None = None
) -> list[RouteDecision]:
    """`decide_route` for many requests with one batched encoder call (evaluation, `gtm route -`).

    Args:
        texts: The user requests.
        classifier: The fitted intent classifier.
        previous_route: The previous turn's route, applied to every request.

    Returns:
        One decision per request, in order.

    Raises:
        ValueError: If any request is empty or only whitespace.
    """
    cleaned = [normalize_request(text) for text in texts]
    decisions = [_decide_without_classifier(text, previous_route) for text in cleaned]
    pending = [index for index, decision in enumerate(decisions) if decision is None]
    predictions = classifier.predict_batch([cleaned[index] for index in pending])
    for index, prediction in zip(pending, predictions, strict=True):
        decisions[index] = _decide_with_prediction(cleaned[index], prediction, previous_route)
    return [decision for decision in decisions if decision is not None]


async def adecide_route(text: str, classifier: IntentClassifier, previous_route: Route | None = None) -> RouteDecision:
    """`decide_route` for async code: the embedding runs in a worker thread.

    Args:
        text: The user request.
        classifier: The fitted intent classifier.
        previous_route: The route of the previous turn in the same thread, if any.

    Returns:
        The decision.

    Raises:
        ValueError: If `text` is empty or only whitespace.
    """
    cleaned = normalize_request(text)
    early = _decide_without_classifier(cleaned, previous_route)
    if early is not None:
        return early
    return _decide_with_prediction(cleaned, await classifier.apredict(cleaned), previous_route)


def decide_route_llm(
    text: str,
    llm: StructuredOutputModel,
    classifier: IntentClassifier,
    previous_route: Route | None = None,
    system_prompt: str = ROUTER_SYSTEM_PROMPT,
) -> RouteDecision:
    """Ask an LLM for the route (structured output), falling back to `decide_route` on any failure.

    Args:
        text: The user request.
        llm: A chat model supporting `with_structured_output`.
        classifier: The offline classifier used for the fallback.
        previous_route: The route of the previous turn, passed to the model as context.
        system_prompt: Instructions describing the routes.

    Returns:
        The LLM's decision (`method="llm"`), or the offline decision when the LLM fails.

    Raises:
        ValueError: If `text` is empty or only whitespace.
    """
    cleaned = normalize_request(text)
    try:
        raw = llm.with_structured_output(RouteChoice).invoke(_llm_messages(cleaned, previous_route, system_prompt))
        return _llm_decision(cleaned, raw)
    except Exception as exc:  # any provider or validation error: route offline instead
        return _llm_fallback(exc, decide_route(cleaned, classifier, previous_route))


async def adecide_route_llm(
    text: str,
    llm: StructuredOutputModel,
    classifier: IntentClassifier,
    previous_route: Route | None = None,
    system_prompt: str = ROUTER_SYSTEM_PROMPT,
) -> RouteDecision:
    """Async `decide_route_llm` (uses the model's `ainvoke`; the fallback embeds in a worker thread).

    Args:
        text: The user request.
        llm: A chat model supporting `with_structured_output`.
        classifier: The offline classifier used for the fallback.
        previous_route: The route of the previous turn, passed to the model as context.
        system_prompt: Instructions describing the routes.

    Returns:
        The LLM's decision, or the offline decision when the LLM fails.

    Raises:
        ValueError: If `text` is empty or only whitespace.
    """
    cleaned = normalize_request(text)
    try:
        runnable = llm.with_structured_output(RouteChoice)
        raw = await runnable.ainvoke(_llm_messages(cleaned, previous_route, system_prompt))
        return _llm_decision(cleaned, raw)
    except Exception as exc:  # any provider or validation error: route offline instead
        return _llm_fallback(exc, await adecide_route(cleaned, classifier, previous_route))


def is_follow_up(text: str) -> bool:
    """Whether a request reads like a continuation fragment ("and last month?", "what about paid social?").

    Args:
        text: The normalised request.

    Returns:
        True for short requests that open with a continuation word or end by pointing back ("... of those").
    """
    if len(_WORD.findall(text)) > FOLLOW_UP_MAX_WORDS:
        return False
    return _FOLLOW_UP_START.match(text) is not None or _ENDS_WITH_REFERENCE.search(text) is not None


def _decide_without_classifier(text: str, previous_route: Route | None) -> RouteDecision | None:
    """Steps that need no embedding: multi-agent rules, then marked follow-ups."""
    rule = detect_multi_agent(text)
    if rule is not None:
        return _rule_decision(text, rule)
    single = single_domain_report(text)
    if single is not None:
        return RouteDecision(
            route=single.route,
            confidence=RULE_CONFIDENCE,
            method="keywords",
            keywords=list(single.phrases),
            reason=f"A {single.phrases[0]} about {single.phrases[1]} only, so {_ROUTE_LABELS[single.route]} runs it.",
        )
    calculation = arithmetic(text)
    if calculation is not None:
        return RouteDecision(
            route=calculation.route,
            confidence=RULE_CONFIDENCE,
            method="keywords",
            keywords=list(calculation.phrases),
            reason=f"A calculation ({_quote(list(calculation.phrases))}), so Finance's calculator works it out.",
        )
    if previous_route is not None and is_follow_up(text):
        return RouteDecision(
            route=previous_route,
            confidence=0.8,
            method="follow-up",
            keywords=_matched(text, previous_route),
            reason=f"A short follow-up to the previous request, so it stays with {_ROUTE_LABELS[previous_route]}.",
        )
    return None


def _decide_with_prediction(text: str, prediction: Prediction, previous_route: Route | None) -> RouteDecision:
    """Combine the classifier's prediction with keywords and the conversation."""
    short = len(_WORD.findall(text)) <= FOLLOW_UP_MAX_WORDS
    if previous_route is not None and short and prediction.confidence < LOW_CONFIDENCE:
        return RouteDecision(
            route=previous_route,
            confidence=max(prediction.scores[previous_route], prediction.confidence),
            method="follow-up",
            keywords=_matched(text, previous_route),
            reason=(
                f"A short fragment the classifier is unsure about ({prediction.confidence:.2f}), "
                f"so it continues with {_ROUTE_LABELS[previous_route]}."
            ),
        )
    if prediction.confidence < LOW_CONFIDENCE:
        keyword_choice = _clear_keyword_winner(text)
        if keyword_choice is not None and keyword_choice != prediction.route:
            words = _matched(text, keyword_choice)
            return RouteDecision(
                route=keyword_choice,
                confidence=max(prediction.scores[keyword_choice], prediction.confidence),
                method="keywords",
                keywords=words,
                reason=(
                    f"The classifier was unsure ({prediction.confidence:.2f}); the keywords "
                    f"{_quote(words)} point clearly to {_ROUTE_LABELS[keyword_choice]}."
                ),
            )
    if prediction.route in (PARALLEL, SEQUENTIAL_WINBACK) and prediction.confidence < MIN_PLAN_CONFIDENCE:
        agent = max(AGENTS, key=lambda route: prediction.scores[route])
        return RouteDecision(
            route=agent,
            confidence=prediction.scores[agent],
            method="classifier",
            keywords=_matched(text, agent),
            reason=(
                f"Closest to {_ROUTE_LABELS[prediction.route]} with probability only {prediction.confidence:.2f}, "
                f"too unsure to start several agents; {_ROUTE_LABELS[agent]} is the closest single agent."
            ),
        )
    words = _matched(text, prediction.route)
    because = f" (keywords: {_quote(words)})" if words else ""
    return RouteDecision(
        route=prediction.route,
        confidence=prediction.confidence,
        method="classifier",
        keywords=words,
        reason=(
            f"Closest to example requests for {_ROUTE_LABELS[prediction.route]} "
            f"with probability {prediction.confidence:.2f}{because}."
        ),
    )


def _rule_decision(text: str, rule: RuleMatch) -> RouteDecision:
    """A decision settled by a multi-agent rule."""
    if rule.rule == "win-back":
        reason = f"A win-back request ({_quote(list(rule.phrases))}): Insights picks customers, Marketing drafts, "
        reason += "Finance costs it."
    else:
        reason = f"A multi-domain report ({_quote(list(rule.phrases))}), so all agents run in parallel."
    words = list(dict.fromkeys([*rule.phrases, *_matched(text, rule.route)]))
    return RouteDecision(
        route=rule.route, confidence=RULE_CONFIDENCE, method="multi-agent rule", keywords=words, reason=reason
    )


def _clear_keyword_winner(text: str) -> Route | None:
    """The route whose keyword score is at least 2 and three times the runner-up's, if any."""
    scores = keyword_scores(text)
    ranked = sorted(ROUTES, key=lambda route: scores[route], reverse=True)
    best, second = scores[ranked[0]], scores[ranked[1]]
    return ranked[0] if best >= 2.0 and best >= 3 * second else None


def _matched(text: str, route: Route) -> list[str]:
    """Matched keywords, those of `route` first."""
    matches = keyword_matches(text)
    ordered = [*matches[route], *(word for other in ROUTES if other != route for word in matches[other])]
    return list(dict.fromkeys(ordered))


def _quote(words: list[str]) -> str:
    """Render a few keywords for a reason sentence."""
    return ", ".join(f"'{word}'" for word in words[:4])


def _llm_messages(text: str, previous_route: Route | None, system_prompt: str) -> list[tuple[str, str]]:
    """The chat messages for the LLM router."""
    system = system_prompt
    if previous_route is not None:
        system += f"\nThe previous request in this conversation went to {previous_route}; keep it for follow-ups."
    return [("system", system), ("human", text)]


def _llm_decision(text: str, raw: object) -> RouteDecision:
    """Validate the LLM's structured answer (a `RouteChoice` or a dict) into a decision."""
    choice = raw if isinstance(raw, RouteChoice) else RouteChoice.model_validate(raw)
    reason = choice.reason.strip() or f"The LLM chose {_ROUTE_LABELS[choice.route]}."
    return RouteDecision(
        route=choice.route,
        confidence=LLM_CONFIDENCE,
        method="llm",
        keywords=_matched(text, choice.route),
        reason=reason,
    )


def _llm_fallback(exc: Exception, offline: RouteDecision) -> RouteDecision:
    """Log an LLM routing failure and annotate the offline decision."""
    logger.warning("LLM routing failed (%s: %s); using the offline classifier", type(exc).__name__, exc)
    return offline.model_copy(update={"reason": f"LLM routing failed ({type(exc).__name__}); {offline.reason}"})
