"""Supervisor routing: which agent (or multi-agent plan) handles a request.

Offline, `decide_route` combines a keyword analyser, an intent classifier over embedded example
requests (MiniLM) and explicit multi-agent rules; with an LLM configured, `decide_route_llm` asks the
model for a structured choice and falls back to the offline path. Nothing is loaded at import time:
`load_default()` builds the classifier on first use.
"""

from graph.routing.classifier import ClassifierConfig, IntentClassifier, Prediction, TextEncoder, load_default
from graph.routing.dataset import Example, load_examples
from graph.routing.decide import (
    RouteChoice,
    RouteDecision,
    adecide_route,
    adecide_route_llm,
    decide_route,
    decide_route_llm,
    decide_routes,
    is_follow_up,
)
from graph.routing.keywords import has_seed_keyword, keyword_matches, keyword_route, keyword_scores, seed_keyword_route
from graph.routing.routes import AGENTS, PARALLEL, ROUTES, SEQUENTIAL_WINBACK, Agent, Route, parse_route
from graph.routing.rules import RuleMatch, detect_multi_agent
from graph.routing.text import normalize_request

__all__ = [
    "AGENTS",
    "PARALLEL",
    "ROUTES",
    "SEQUENTIAL_WINBACK",
    "Agent",
    "ClassifierConfig",
    "Example",
    "IntentClassifier",
    "Prediction",
    "Route",
    "RouteChoice",
    "RouteDecision",
    "RuleMatch",
    "TextEncoder",
    "adecide_route",
    "adecide_route_llm",
    "decide_route",
    "decide_route_llm",
    "decide_routes",
    "detect_multi_agent",
    "has_seed_keyword",
    "is_follow_up",
    "keyword_matches",
    "keyword_route",
    "keyword_scores",
    "load_default",
    "load_examples",
    "normalize_request",
    "parse_route",
    "seed_keyword_route",
]
