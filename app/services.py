"""Builds the services the graph runs with, from settings: tools, knowledge base, reviews, router.

Nothing is built at import time; heavy parts (the embedding model, the classifier, Chroma) load on
first use, in a worker thread.
"""

from __future__ import annotations

import asyncio
import threading
from typing import TYPE_CHECKING, Any, cast

from app.reviews import ReviewStore
from app.settings import Settings
from graph.context import Services

if TYPE_CHECKING:
    from graph.routing.decide import RouteDecision
    from graph.routing.routes import Route


def business_engine(settings: Settings) -> Any:
    """The business database engine, with its tables created."""
    from app.data.db import get_engine, init_db

    settings.ensure_home()
    engine = get_engine(settings.business_db_url)
    init_db(engine)
    return engine


def build_review_store(settings: Settings) -> ReviewStore:
    """The review index in the business database."""
    return ReviewStore(business_engine(settings))


class ClassifierRouter:
    """Supervisor routing: keywords → intent classification → multi-agent rules (graph.routing)."""

    def __init__(self, settings: Settings) -> None:
        """Remember the settings; the classifier loads on the first request."""
        self.settings = settings
        self._classifier: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._classifier is None:
                from graph.routing.classifier import load_default

                self._classifier = load_default()
            return self._classifier

    async def __call__(self, text: str, previous_route: str | None) -> RouteDecision:
        """Decide the route of `text` (offline classifier; an LLM's structured output when configured)."""
        from graph.routing.decide import adecide_route, adecide_route_llm

        classifier = self._classifier or await asyncio.to_thread(self._load)
        if self.settings.use_openai:
            from graph.llm.factory import make_chat_model
            from graph.prompts import render

            llm = make_chat_model("supervisor", self.settings)
            return await adecide_route_llm(
                text,
                llm,
                classifier,
                cast("Route | None", previous_route),
                system_prompt=render("supervisor", "system_prompt"),
            )
        return await adecide_route(text, classifier, cast("Route | None", previous_route))


def build_router(settings: Settings) -> ClassifierRouter:
    """The supervisor's router."""
    return ClassifierRouter(settings)


class KnowledgeAdapter:
    """The knowledge base as the Support agent sees it (search + answer confidence), loaded lazily."""

    def __init__(self, settings: Settings) -> None:
        """Remember the settings; the store and model load on first search."""
        self.settings = settings
        self._kb: Any = None
        self._lock = threading.Lock()

    def get(self) -> Any:
        """The underlying `KnowledgeBase` (blocking on first use)."""
        with self._lock:
            if self._kb is None:
                from app.kb.service import get_knowledge_base

                self._kb = get_knowledge_base(self.settings)
            return self._kb

    async def asearch(self, query: str, k: int = 5) -> Any:
        """Hybrid search, off the event loop."""
        kb = self._kb or await asyncio.to_thread(self.get)
        return await kb.asearch(query, k=k)

    async def warm(self) -> int:
        """Load the index and embed its sentences (in a worker thread); returns the sentence count."""
        kb = self._kb or await asyncio.to_thread(self.get)
        warm = getattr(kb, "warm_sentence_cache", None)
        return int(await asyncio.to_thread(warm)) if warm is not None else 0

    async def answer_confidence(
        self, query: str, answer: str, retrieval: float, passages: list[dict[str, Any]]
    ) -> float:
        """Final confidence: retrieval confidence combined with how well the answer is supported."""
        kb = self._kb or await asyncio.to_thread(self.get)
        scorer = getattr(kb, "answer_confidence", None)
        if scorer is None:
            return retrieval
        return float(await asyncio.to_thread(scorer, query, answer, retrieval, passages))


def build_services(settings: Settings, **overrides: Any) -> Services:
    """Every service the graph needs, from settings (keyword overrides replace single parts)."""
    from app.cache.tools import cache_for
    from app.mail import SmtpSender
    from app.outbox import Outbox
    from graph.tools.registry import build_tools

    engine = business_engine(settings)
    parts: dict[str, Any] = {
        "settings": settings,
        "tools": build_tools(engine, settings),
        "knowledge": KnowledgeAdapter(settings),
        "reviews": ReviewStore(engine),
        "router": ClassifierRouter(settings),
        "outbox": Outbox(engine, settings.smtp_from),
        "sender": SmtpSender.from_settings(settings),
        "extras": {"engine": engine, "cache": cache_for(engine, settings)},
    }
    parts.update(overrides)
    return Services(**parts)
