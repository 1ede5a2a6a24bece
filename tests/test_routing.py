"""Supervisor routing: the seed baseline, the keyword analyser, the intent classifier and `decide_route`."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Iterator

import numpy as np
import pytest
from langchain_core.runnables import RunnableLambda

from graph.routing import (
    AGENTS,
    ROUTES,
    SEQUENTIAL_WINBACK,
    IntentClassifier,
    RouteChoice,
    RouteDecision,
    adecide_route,
    adecide_route_llm,
    decide_route,
    decide_route_llm,
    decide_routes,
    detect_multi_agent,
    has_seed_keyword,
    keyword_matches,
    keyword_scores,
    load_default,
    load_examples,
    normalize_request,
    parse_route,
    seed_keyword_route,
)
from graph.routing.classifier import encode_cached
from graph.routing.compound import split_compound
from graph.routing.rules import arithmetic

slow = pytest.mark.slow


@pytest.fixture(scope="module")
def embedder() -> Iterator[object]:
    from app.embeddings import get_embedder

    yield get_embedder()


@pytest.fixture(scope="module")
def classifier(embedder: object) -> IntentClassifier:
    return load_default(embedder)  # type: ignore[arg-type]


# --- routes and data ---------------------------------------------------------------------------------


def test_routes_are_exactly_the_six_names() -> None:
    assert ROUTES == ("marketing", "finance", "insights", "support", "parallel", SEQUENTIAL_WINBACK)
    assert AGENTS == ("marketing", "finance", "insights", "support")
    assert parse_route(" Finance ") == "finance"
    with pytest.raises(ValueError, match="expected one of"):
        parse_route("sales")


def test_importing_routing_loads_no_model() -> None:
    code = "import sys, graph.routing; print('torch' in sys.modules or 'sentence_transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_datasets_are_big_varied_and_balanced() -> None:
    train, held_out = load_examples("train"), load_examples("eval")
    assert len(train) >= 300 and len(held_out) >= 150
    counts = Counter(e.route for e in train)
    assert set(counts) == set(ROUTES)
    assert counts["parallel"] >= 35 and counts[SEQUENTIAL_WINBACK] >= 35
    assert min(counts.values()) >= 35
    assert sum(not has_seed_keyword(e.text) for e in train) / len(train) >= 0.5
    assert sum(not has_seed_keyword(e.text) for e in held_out) / len(held_out) >= 0.5
    assert not {e.text.lower() for e in train} & {e.text.lower() for e in held_out}


# --- the seed baseline -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "route"),
    [
        ("give me the weekly report", "parallel"),  # "weekly" → parallel
        ("run all agents", "parallel"),  # "all" → parallel
        ("draft a win-back campaign", SEQUENTIAL_WINBACK),  # "campaign" → sequential
        ("what was revenue last quarter", "finance"),
        ("what is our CAC", "finance"),
        ("LTV by plan", "finance"),
        ("churn by month", "insights"),
        ("segment my customers", "insights"),
        ("RFM please", "insights"),
        ("I need help", "support"),
        ("a question about billing", "support"),
        ("refund policy", "support"),
        ("write a blog post", "marketing"),  # the default
        ("draft an email", "marketing"),  # "email" is only in the docstring: default marketing
        ("plan the budget", "marketing"),  # "budget" is only in the docstring too
        ("campaigns by channel", "marketing"),  # exact words: the plural does not match
    ],
)
def test_seed_router_follows_the_seed_code(text: str, route: str) -> None:
    assert seed_keyword_route(text) == route


# --- keyword analyser --------------------------------------------------------------------------------


def test_keyword_scores_use_word_boundaries_variants_and_phrases() -> None:
    assert keyword_scores("cacao and recap")["finance"] == 0.0  # no "cac" inside words
    assert keyword_scores("our campaigns")["marketing"] > 0  # plural variant
    assert keyword_scores("who churned")["insights"] > 0  # inflected variant
    assert keyword_scores("return on ad spend for display")["finance"] > 0  # multi-word phrase
    assert "win-back" in keyword_matches("draft a win-back campaign")[SEQUENTIAL_WINBACK]
    assert set(keyword_scores("anything")) == set(ROUTES)


# --- classifier --------------------------------------------------------------------------------------


@slow
def test_classifier_accuracy_on_eval_set(classifier: IntentClassifier) -> None:
    held_out = load_examples("eval")
    predictions = classifier.predict_batch([e.text for e in held_out])
    accuracy = np.mean([p.route == e.route for p, e in zip(predictions, held_out, strict=True)])
    assert accuracy >= 0.9


@slow
def test_decide_route_accuracy_on_eval_set(classifier: IntentClassifier) -> None:
    held_out = load_examples("eval")
    decisions = decide_routes([e.text for e in held_out], classifier)
    accuracy = np.mean([d.route == e.route for d, e in zip(decisions, held_out, strict=True)])
    assert accuracy >= 0.95
    sample = held_out[::20]
    singles = [decide_route(e.text, classifier) for e in sample]
    batch = decide_routes([e.text for e in sample], classifier)
    assert [(d.route, d.method) for d in singles] == [(d.route, d.method) for d in batch]
    assert [d.confidence for d in singles] == pytest.approx([d.confidence for d in batch], abs=1e-4)


@slow
def test_eval_set_has_no_near_duplicates_of_training(embedder: object, classifier: IntentClassifier) -> None:
    # The training embeddings are already in the classifier's in-memory cache.
    train = encode_cached(embedder, [normalize_request(e.text) for e in load_examples("train")])  # type: ignore[arg-type]
    held_out = encode_cached(embedder, [normalize_request(e.text) for e in load_examples("eval")])  # type: ignore[arg-type]
    assert float((held_out @ train.T).max()) < 0.9


@slow
def test_training_reuses_the_cached_embeddings(embedder: object, classifier: IntentClassifier) -> None:
    """Re-training embeds nothing again (the speed itself is measured in bench/bench_routing.py)."""
    stats = embedder.stats  # type: ignore[attr-defined]
    texts, passes = stats.texts, stats.forward_passes
    IntentClassifier.from_examples(load_examples("train"), embedder)  # type: ignore[arg-type]
    assert (stats.texts, stats.forward_passes) == (texts, passes)
    assert load_default(embedder) is classifier  # type: ignore[arg-type]


@slow
async def test_prediction_shapes_and_variants_agree(classifier: IntentClassifier) -> None:
    texts = ["What was our CAC last quarter?", "segment customers with RFM"]
    single = [classifier.predict(t) for t in texts]
    batch = classifier.predict_batch(texts)
    asynchronous = [await classifier.apredict(t) for t in texts]
    for one, other, third in zip(single, batch, asynchronous, strict=True):
        assert one.route == other.route == third.route
        assert set(one.scores) == set(ROUTES)
        assert sum(one.scores.values()) == pytest.approx(1.0)
        assert one.confidence == pytest.approx(max(one.scores.values()))
    assert [p.route for p in single] == ["finance", "insights"]
    assert classifier.predict_batch([]) == []


# --- decide_route: hard cases ------------------------------------------------------------------------


@slow
@pytest.mark.parametrize(
    ("text", "route"),
    [
        # no seed keyword at all
        ("how many months of cash do we have left?", "finance"),
        ("total this spend sheet", "finance"),
        ("which accounts look like they're about to leave?", "insights"),
        ("score the leads from yesterday's webinar", "insights"),
        ("my hub is offline, what should I do", "support"),
        ("do you ship to Norway?", "support"),
        ("which channel gets us the cheapest clicks?", "marketing"),
        ("give me three taglines for the Air sensor", "marketing"),
        ("how's the business doing overall?", "parallel"),
        ("Monday GTM digest please", "parallel"),
        # campaign versus win-back
        ("Create a campaign to launch the Sense Pro", "marketing"),
        ("Which campaign had the best CTR in Q3?", "marketing"),
        ("draft a win-back campaign", SEQUENTIAL_WINBACK),
        ("bring back customers who stopped buying and tell me what it would cost", SEQUENTIAL_WINBACK),
        ("re-engage dormant accounts with an offer", SEQUENTIAL_WINBACK),
        ("which accounts churned last quarter?", "insights"),
        ("how much did the spring win-back campaign cost us?", "finance"),
        # seed keywords used in other senses
        ("Help me write an email for the spring launch", "marketing"),
        ("Segment all customers by RFM", "insights"),
        ("What's your refund policy for annual plans?", "support"),
        # facts about the company are knowledge-base questions, whatever words they share with reports or maths
        ("Who is the CEO of Lumio?", "support"),
        ("What percentage is the nonprofit discount?", "support"),
        ("What is the SLA on the Starter plan in percent?", "support"),
        # reports
        ("give me the weekly report", "parallel"),
        ("exec summary across marketing, finance and customers", "parallel"),
        ("weekly churn report", "insights"),
        ("monthly revenue report", "finance"),
    ],
)
def test_decide_route_hard_cases(classifier: IntentClassifier, text: str, route: str) -> None:
    decision = decide_route(text, classifier)
    assert decision.route == route, decision


@slow
@pytest.mark.parametrize(
    ("text", "previous", "route"),
    [
        ("and last month?", "finance", "finance"),
        ("what about paid social?", "finance", "finance"),
        ("what about paid social?", "marketing", "marketing"),
        ("and for Enterprise?", "support", "support"),
        ("same for Q3", "parallel", "parallel"),
        ("show me the top 10 of those", "insights", "insights"),
    ],
)
def test_follow_up_keeps_previous_route(classifier: IntentClassifier, text: str, previous: str, route: str) -> None:
    decision = decide_route(text, classifier, previous_route=previous)  # type: ignore[arg-type]
    assert (decision.route, decision.method) == (route, "follow-up")


@slow
def test_a_new_full_request_does_not_stick_to_previous_route(classifier: IntentClassifier) -> None:
    decision = decide_route("Draft three LinkedIn posts about our ISO 27001 news", classifier, previous_route="finance")
    assert decision.route == "marketing"
    assert decide_route("what about paid social?", classifier).route == "marketing"  # no history: classifier


@slow
def test_multi_agent_rules_override_and_explain(classifier: IntentClassifier) -> None:
    decision = decide_route("and a win-back offer for them?", classifier, previous_route="insights")
    assert decision.route == SEQUENTIAL_WINBACK and decision.method == "multi-agent rule"
    assert "win-back" in decision.keywords and decision.reason
    report = decide_route("Give me the weekly report", classifier)
    assert (report.route, report.method) == ("parallel", "multi-agent rule")
    assert detect_multi_agent("How do I get my money back?") is None
    assert detect_multi_agent("weekly marketing report") is None


# --- garbage input -----------------------------------------------------------------------------------


@slow
@pytest.mark.parametrize("text", ["", "   ", "\n\t\x00"])
def test_empty_input_is_a_clear_error(classifier: IntentClassifier, text: str) -> None:
    with pytest.raises(ValueError, match="non-empty request"):
        decide_route(text, classifier)


@slow
@pytest.mark.parametrize(
    "text",
    [
        "🔥🚀💸",
        "?!?",
        "asdf qwer zxcv",
        "x" * 10_000,
        "CAC " * 2_500,
        "hello\x07\x1b[31m world",
        "SELECT * FROM users;",
    ],
)
def test_garbage_input_gets_a_valid_route(classifier: IntentClassifier, text: str) -> None:
    decision = decide_route(text, classifier)
    assert decision.route in ROUTES
    assert 0.0 <= decision.confidence <= 1.0


def test_normalize_request_caps_and_cleans() -> None:
    assert normalize_request("  what\x00 is\n\n our   CAC? ") == "what is our CAC?"
    assert len(normalize_request("a" * 10_000)) == 2000
    with pytest.raises(TypeError):
        normalize_request(None)  # type: ignore[arg-type]


# --- async and LLM variants --------------------------------------------------------------------------


@slow
async def test_adecide_route_matches_sync(classifier: IntentClassifier) -> None:
    text = "what's our burn and runway?"
    assert (await adecide_route(text, classifier)).route == decide_route(text, classifier).route == "finance"


class ScriptedRouterModel:
    """A chat-model stand-in whose structured output is scripted (or raises)."""

    def __init__(self, answer: object) -> None:
        self.answer = answer
        self.seen: list[object] = []

    def with_structured_output(self, schema: object, **kwargs: object) -> RunnableLambda:
        assert schema is RouteChoice

        def respond(messages: object) -> object:
            self.seen.append(messages)
            if isinstance(self.answer, Exception):
                raise self.answer
            return self.answer

        return RunnableLambda(respond)


@slow
def test_llm_route_is_used_when_valid(classifier: IntentClassifier) -> None:
    llm = ScriptedRouterModel(RouteChoice(route="support", reason="A billing policy question."))
    decision = decide_route_llm("why is there VAT on my invoice", llm, classifier, previous_route="finance")
    assert decision == RouteDecision(
        route="support",
        confidence=decision.confidence,
        method="llm",
        keywords=decision.keywords,
        reason=decision.reason,
    )
    assert decision.reason == "A billing policy question."
    assert "finance" in str(llm.seen[0])  # the previous route is given as context


@slow
@pytest.mark.parametrize("answer", [TimeoutError("model timed out"), {"route": "sales", "reason": "?"}, None])
async def test_llm_failure_falls_back_to_classifier(classifier: IntentClassifier, answer: object) -> None:
    llm = ScriptedRouterModel(answer)
    decision = decide_route_llm("What was our CAC last quarter?", llm, classifier)
    assert decision.route == "finance" and decision.method != "llm"
    assert decision.reason.startswith("LLM routing failed")
    decision = await adecide_route_llm("What was our CAC last quarter?", llm, classifier)
    assert decision.route == "finance" and decision.method != "llm"


# --- found by exploratory testing through `gtm ask` ---------------------------------------------------


@slow
@pytest.mark.parametrize(
    ("text", "route"),
    [
        # a campaign for at-risk customers, or a list of them, is no win-back (it staged 25 emails to cancelled accounts)
        ("Write a campaign brief for a back-to-office campaign targeting at-risk customers", "marketing"),
        ("Put together a campaign brief aimed at our at-risk accounts", "marketing"),
        ("Give me the list of customers in the At Risk segment with their emails", "insights"),
        ("List churned customers with their emails", "insights"),
        # an explicit win-back still is one
        ("Plan a win-back campaign for churned customers", SEQUENTIAL_WINBACK),
        ("email the cancelled accounts an offer", SEQUENTIAL_WINBACK),
        # arithmetic goes to Finance's calculator (it escalated to a reviewer)
        ("What is 2+2?", "finance"),
        ("1.2e6 / 250", "finance"),
        ("what's 15% of 2,400", "finance"),
        # one customer's account data is Insights', not a knowledge-base question
        ("What plan is customer C00002 on?", "insights"),
        ("What's the status of account C01020?", "insights"),
    ],
)
def test_decide_route_exploratory_cases(classifier: IntentClassifier, text: str, route: str) -> None:
    decision = decide_route(text, classifier)
    assert decision.route == route, decision


def test_win_back_rule_needs_customers_who_left_and_outreach() -> None:
    assert (
        detect_multi_agent("Write a campaign brief for a back-to-office campaign targeting at-risk customers") is None
    )
    assert detect_multi_agent("Give me the list of customers in the At Risk segment with their emails") is None
    assert detect_multi_agent("list the cancelled accounts with their email addresses") is None
    found = detect_multi_agent("email the cancelled accounts an offer")
    assert found is not None and found.route == SEQUENTIAL_WINBACK


@pytest.mark.parametrize(
    ("text", "expression"),
    [
        ("What is 2+2?", "2+2"),
        ("1.2e6 / 250", "1.2e6 / 250"),
        ("calculate 12,000 * 1.15 - 3,000", "12,000 * 1.15 - 3,000"),
    ],
)
def test_a_bare_calculation_is_finances(text: str, expression: str) -> None:
    found = arithmetic(text)
    assert found is not None and (found.route, found.phrases) == ("finance", (expression,))


@pytest.mark.parametrize(
    "text", ["2025-01-01", "is support 24/7?", "What's 20% of our Q3 budget?", "What was revenue in 2024-2025?"]
)
def test_numbers_in_a_request_are_not_a_calculation(text: str) -> None:
    assert arithmetic(text) is None


@slow
@pytest.mark.parametrize("text", ["show me the numbers", "asdkjh qwpoeiru zmxncb", "hmm"])
def test_an_unsure_classifier_never_starts_a_multi_agent_plan(classifier: IntentClassifier, text: str) -> None:
    """The weekly report (four agents) or a win-back (staged emails) needs more than a coin flip."""
    decision = decide_route(text, classifier)
    assert decision.route in AGENTS, decision


@slow
@pytest.mark.parametrize(
    ("text", "parts"),
    [
        (
            "What's the refund policy and how many leads did we get last month?",
            [("How many leads did we get last month?", "insights"), ("What's the refund policy", "support")],
        ),
        # two questions for one agent: each is planned from its own text ("paid search" is not the runway's)
        (
            "What was CAC for paid search and what is our runway?",
            [("What was CAC for paid search", "finance"), ("What is our runway?", "finance")],
        ),
        ("What was CAC and LTV last quarter?", None),
        ("What was our CAC last quarter and what was it the quarter before?", None),
        ("Which of our accounts are most loyal, and which ones are slipping away?", None),
    ],
)
async def test_compound_messages_split_into_their_own_requests(
    classifier: IntentClassifier, text: str, parts: list[tuple[str, str]] | None
) -> None:
    found = await split_compound(text, lambda part: adecide_route(part, classifier))
    assert (None if found is None else [(p.request, p.decision.route) for p in found]) == parts
