"""Builds the services the graph runs with, from settings: tools, knowledge base, reviews, router.

Nothing is built at import time; heavy parts (the embedding model, the classifier, Chroma) load on
first use, in a worker thread.

Sentence vectors that every start needs (the router's labelled examples, the knowledge-base sentences)
are saved in `GTM_HOME/cache/minilm-vectors.npz` after the warm-up and read back at the next start,
so a restart does not embed them again (the file is ignored when the model changes).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from app.reviews import ReviewStore
from app.settings import Settings
from graph.context import Services

if TYPE_CHECKING:
    from app.embeddings import Embedder
    from graph.routing.compound import Part
    from graph.routing.decide import RouteDecision
    from graph.routing.routes import Route

log = logging.getLogger(__name__)

VECTORS_FILE = Path("cache") / "minilm-vectors.npz"
"""Where (under `GTM_HOME`) the warm-up saves the sentence vectors it embedded."""

_vector_files: dict[Path, int] = {}
"""Vector files read by this process → how many vectors the embedder remembered right after."""
_vector_files_lock = threading.Lock()


def vectors_path(settings: Settings) -> Path:
    """The file of saved sentence vectors for `settings.home`."""
    return Path(settings.home) / VECTORS_FILE


def embedder_with_saved_vectors(settings: Settings) -> Embedder:
    """The process-wide embedder (loaded on first use), with the vectors saved by an earlier start read back.

    Blocking: call it from a worker thread. The file is read once per process.
    """
    from app.embeddings import get_embedder

    embedder = get_embedder()
    path = vectors_path(settings)
    with _vector_files_lock:
        if path not in _vector_files:
            loaded = embedder.load_cache(path)
            _vector_files[path] = embedder.cached_count
            if loaded:
                log.info("read %d saved sentence vectors from %s", loaded, path)
    return embedder


def save_vectors(settings: Settings) -> int:
    """Save the embedder's remembered vectors for the next start, if it learnt any since the file was read.

    Returns:
        How many vectors were written (0: nothing new, or the file could not be written).
    """
    embedder = embedder_with_saved_vectors(settings)
    path = vectors_path(settings)
    with _vector_files_lock:
        if embedder.cached_count == _vector_files.get(path):
            return 0
        try:
            written = embedder.save_cache(path)
        except OSError:
            log.warning("could not save the sentence vectors to %s", path, exc_info=True)
            return 0
        _vector_files[path] = written
        return written


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

    def load(self) -> Any:
        """The classifier, loaded now if needed (blocking: call it from a worker thread in async code)."""
        with self._lock:
            if self._classifier is None:
                from graph.routing.classifier import load_default
                from graph.routing.dataset import load_examples
                from graph.routing.text import normalize_request

                embedder = embedder_with_saved_vectors(self.settings)
                # remembered (and saved with the warm-up's vectors), so the next start does not embed them again
                embedder.encode_cached([normalize_request(example.text) for example in load_examples("train")])
                self._classifier = load_default(embedder)
            return self._classifier

    async def __call__(self, text: str, previous_route: str | None) -> RouteDecision:
        """Decide the route of `text` (offline classifier; an LLM's structured output when configured)."""
        from graph.routing.decide import adecide_route, adecide_route_llm

        classifier = self._classifier or await asyncio.to_thread(self.load)
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

    async def split(self, text: str) -> list[Part] | None:
        """The parts of a message that asks two agents two things, or None.

        Decided by the offline classifier in every mode: trying a conjunction costs two route decisions,
        which must not be model calls before the first token.
        """
        from graph.routing.compound import split_compound
        from graph.routing.decide import adecide_route

        classifier = self._classifier or await asyncio.to_thread(self.load)
        return await split_compound(text, lambda part: adecide_route(part, classifier))


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

    async def asearch(self, query: str, k: int = 5, *, runner_up: bool = False) -> Any:
        """Hybrid search, off the event loop (`KnowledgeBase.search`)."""
        kb = self._kb or await asyncio.to_thread(self.get)
        return await kb.asearch(query, k=k, runner_up=runner_up)

    async def warm(self) -> int:
        """Load the index and embed its sentences (in a worker thread); returns the sentence count.

        Vectors saved by an earlier start are read back first, and the new ones saved afterwards.
        """
        kb = self._kb or await asyncio.to_thread(self.get)
        warm = getattr(kb, "warm_sentence_cache", None)
        if warm is None:
            return 0

        def run() -> int:
            embedder_with_saved_vectors(self.settings)
            count = int(warm())
            save_vectors(self.settings)
            return count

        return await asyncio.to_thread(run)

    async def warm_tokens(self) -> int:
        """Encode the word-piece vectors of the knowledge base's passages (for `token_recall`) in a worker thread.

        Run after the app reports ready: a question whose passage is not warm yet encodes it on demand.
        """
        kb = self._kb or await asyncio.to_thread(self.get)
        warm = getattr(kb, "warm_token_cache", None)
        return int(await asyncio.to_thread(warm)) if warm is not None else 0

    async def question_gaps(self, question: str, passages: list[dict[str, Any]]) -> dict[str, list[str]]:
        """The question's words the knowledge base never mentions and those the passages lack (`app.kb.gaps`)."""
        kb = self._kb or await asyncio.to_thread(self.get)
        gaps = getattr(kb, "question_gaps", None)
        if gaps is None:
            return {"unknown": [], "unmatched": []}
        found = await asyncio.to_thread(gaps, question, passages)
        return dict(found.to_json())

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
