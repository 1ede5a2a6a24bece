"""The knowledge base as the rest of the app sees it: ingest, search with a calibrated confidence, add.

`KnowledgeBase` ties the store (Chroma, embedded or server), the MiniLM embedder, hybrid retrieval and the
confidence model together. Everything blocks; async callers use `asearch` (a worker thread). One instance
per (home, KB folder, Chroma URL) is shared through `get_knowledge_base`.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.kb.confidence import ConfidenceModel, answer_support, combine, load_model
from app.kb.gaps import QuestionGaps, question_gaps
from app.kb.ingest import REVIEWED_FOLDER, IngestReport, TextEncoder, add_document, ingest, knowledge_files
from app.kb.retrieval import Passage, Retriever
from app.kb.store import ChromaStore
from app.settings import Settings
from app.text import valid_text

MAX_K = 50
"""Upper bound on passages per search."""


REVIEWED_ELSEWHERE_CAP = 0.5
"""Confidence at most, when a reviewed answer ranks first for a question with a word the knowledge base has
never seen (below the 0.7 threshold: it escalates)."""


@dataclass(frozen=True, slots=True)
class SearchResult:
    """Passages for a question and the calibrated probability that they answer it."""

    query: str
    passages: list[Passage]
    confidence: float
    """P(answerable from these passages), from the fitted confidence model; 0 when nothing was found."""
    features: dict[str, float] = field(default_factory=dict)
    """The retrieval signals the confidence was computed from."""

    def to_dict(self, *, text: bool = True) -> dict[str, Any]:
        """JSON-ready form: `{"query", "results": [{"doc", "section", "score", "text"}], "confidence"}`."""
        results = []
        for p in self.passages:
            item: dict[str, Any] = {"doc": p.doc, "section": p.section, "score": round(p.score, 4)}
            item.update(dense_score=round(p.dense_score, 4), keyword_score=round(p.keyword_score, 4))
            if text:
                item["text"] = p.text
            results.append(item)
        return {"query": self.query, "results": results, "confidence": round(self.confidence, 4)}


def _passage_field(passage: Any, name: str) -> str:
    """A passage's `text` or `section`, from a Passage, a dict (as stored with a review) or a plain string."""
    if isinstance(passage, str):
        return passage if name == "text" else ""
    if isinstance(passage, Mapping):
        return str(passage.get(name, ""))
    return str(getattr(passage, name, ""))


class KnowledgeBase:
    """Search and maintain the knowledge base of one folder of markdown."""

    def __init__(
        self,
        settings: Settings,
        embedder: TextEncoder | None = None,
        *,
        kb_dir: Path | None = None,
        model: ConfidenceModel | None = None,
        auto_ingest: bool = True,
    ) -> None:
        """Describe the knowledge base; the store and the model open on first use.

        Args:
            settings: Where state lives (`home`, `chroma_url`) and the default folder (`kb_dir`).
            embedder: The embedding model (default: the process-wide MiniLM, loaded lazily).
            kb_dir: The folder served (default `settings.kb_dir`).
            model: Confidence model (default: `confidence_model.json`, re-read when it changes).
            auto_ingest: Ingest the folder on the first search if its collection is empty.
        """
        self.settings = settings
        self.kb_dir = Path(kb_dir or settings.kb_dir)
        self.reviewed_dir = settings.reviewed_path
        """Reviewed answers added to this knowledge base (indexed with `kb_dir`)."""
        self._embedder = embedder
        self._model = model
        self._auto_ingest = auto_ingest
        self._store: ChromaStore | None = None
        self._retriever: Retriever | None = None
        self._lock = threading.RLock()
        self._checked_empty = False

    @property
    def embedder(self) -> TextEncoder:
        """The embedding model (loaded on first use)."""
        if self._embedder is None:
            from app.embeddings import get_embedder

            self._embedder = get_embedder()
        return self._embedder

    @property
    def store(self) -> ChromaStore:
        """The Chroma collection of this folder (opened on first use)."""
        with self._lock:
            if self._store is None:
                if not self.settings.chroma_url:
                    self.settings.ensure_home()
                self._store = ChromaStore.for_settings(self.settings, self.kb_dir)
            return self._store

    @property
    def retriever(self) -> Retriever:
        """Hybrid retrieval over the store."""
        with self._lock:
            if self._retriever is None:
                self._retriever = Retriever(self.store, self.embedder)
            return self._retriever

    @property
    def model(self) -> ConfidenceModel:
        """The confidence model in use."""
        return self._model or load_model()

    def ingest(self, directory: Path | None = None) -> IngestReport:
        """Bring the index of `directory` (default: this KB's folder) in line with its files.

        Another folder gets its own collection, served when `GTM_KB_DIR` points at it.
        """
        folder = Path(directory) if directory is not None else self.kb_dir
        if folder.resolve() == self.kb_dir.resolve():
            report = ingest(folder, self.store, self.embedder, reviewed_dir=self.reviewed_dir)
            if report.changed:
                self.retriever.invalidate()
            return report
        return ingest(folder, ChromaStore.for_settings(self.settings, folder), self.embedder)

    def _ensure_ingested(self) -> None:
        with self._lock:
            if self._checked_empty:
                return
            self._checked_empty = True
            if (
                self._auto_ingest
                and self.store.count() == 0
                and self.kb_dir.is_dir()
                and knowledge_files(self.kb_dir, self.reviewed_dir)
            ):
                self.ingest()

    def search(self, query: str, k: int = 5, *, runner_up: bool = False) -> SearchResult:
        """Hybrid search: the best passage of each of the top `k` documents, and the confidence.

        With `runner_up`, the top document's second-best passage follows its best (for an answer writer).

        Raises:
            ValueError: empty query or `k` outside 1..50.
        """
        text = valid_text(" ".join(query.split()))
        if not text:
            raise ValueError("the search query is empty")
        if not 1 <= k <= MAX_K:
            raise ValueError(f"k must be between 1 and {MAX_K}, got {k}")
        self._ensure_ingested()
        found = self.retriever.retrieve(text, k=k, runner_up=runner_up)
        confidence = self.model.predict(found.features) if found.passages else 0.0
        if (
            found.passages
            and found.passages[0].doc.startswith(f"{REVIEWED_FOLDER}/")
            and found.features["unknown_terms"]
        ):
            # A reviewed answer answers the question it was written for. A question with a word the knowledge
            # base has never seen ("Do you ship to New Zealand?" against "Do you ship to Australia?") is
            # another question, however alike the two read: a reviewer decides it.
            confidence = min(confidence, REVIEWED_ELSEWHERE_CAP)
        return SearchResult(query=text, passages=found.passages, confidence=confidence, features=found.features)

    async def asearch(self, query: str, k: int = 5, *, runner_up: bool = False) -> SearchResult:
        """`search` in a worker thread (encoding and Chroma block)."""
        return await asyncio.to_thread(functools.partial(self.search, query, k, runner_up=runner_up))

    def add_document(self, name: str, text: str) -> str:
        """Write an approved answer as `<slug>.md` in the reviewed-answers folder and index it.

        Returns:
            The document name, `reviewed-answers/<slug>.md`.
        """
        with self._lock:
            doc = add_document(self.reviewed_dir, self.store, self.embedder, name, text)
            self.retriever.invalidate()
            return doc

    def document_path(self, name: str) -> Path | None:
        """The markdown file of document `name` (a reviewed answer or a file of the KB folder), if there is one."""
        try:
            return knowledge_files(self.kb_dir, self.reviewed_dir).get(name)
        except OSError:
            return None

    def count(self) -> int:
        """Chunks in the index."""
        return self.store.count()

    def warm_sentence_cache(self) -> int:
        """Embed every sentence and heading of the index once (blocking), so answers only encode new text.

        Returns:
            How many sentences were embedded.
        """
        from app.kb.confidence import split_sentences

        table = self.store.table()
        sentences = [s for text in table.texts for s in split_sentences(text)]
        # the offline support writer also compares the question with each passage's last heading
        sentences += list(dict.fromkeys(s.split(" > ")[-1] for s in table.sections if s))
        encode_cached = getattr(self.embedder, "encode_cached", None)
        if encode_cached is None:
            return 0
        for start in range(0, len(sentences), 256):
            encode_cached(sentences[start : start + 256])
        return len(sentences)

    def warm_token_cache(self) -> int:
        """Encode the word-piece vectors of every chunk once (blocking), for `token_recall` (`app.kb.alignment`).

        One passage per model call, so a request waiting for the model waits at most one passage. Skipped
        when the index holds more chunks than the embedder keeps (they are then encoded on first use).

        Returns:
            How many passages were encoded.
        """
        from app.kb.alignment import TokenEncoder, passage_text

        encoder = self.embedder
        if not isinstance(encoder, TokenEncoder):
            return 0
        table = self.store.table()
        if len(table.texts) > int(getattr(encoder, "token_cache_size", 0)):
            return 0
        for title, section, text in zip(table.titles, table.sections, table.texts, strict=True):
            encoder.token_vectors([passage_text(title, section, text)])
        return len(table.texts)

    def question_gaps(self, question: str, passages: Sequence[Any]) -> QuestionGaps:
        """The question's words the knowledge base never mentions, and those none of `passages` mentions.

        Passages are Passage objects, dicts with `section` and `text` (as stored with a review), or strings.
        """
        self._ensure_ingested()
        texts = [f"{_passage_field(p, 'section')}\n{_passage_field(p, 'text')}" for p in passages]
        return question_gaps(question, texts, self.retriever.snapshot().bm25)

    def answer_support(self, answer: str, passages: Sequence[Any]) -> float:
        """How well `answer` is backed by `passages` (Passage objects, dicts with `text`, or strings)."""
        return answer_support(answer, [_passage_field(p, "text") for p in passages], self.embedder)

    def answer_confidence(self, query: str, answer: str, retrieval: float, passages: Sequence[Any]) -> float:
        """Final confidence of a drafted answer: `combine(retrieval confidence, answer support)`."""
        return combine(retrieval, self.answer_support(answer, passages))


_INSTANCES: dict[tuple[str, str, str | None], KnowledgeBase] = {}
_INSTANCES_LOCK = threading.Lock()


def get_knowledge_base(settings: Settings) -> KnowledgeBase:
    """The shared `KnowledgeBase` for these settings (one per home, KB folder and Chroma URL)."""
    key = (str(Path(settings.home).resolve()), str(Path(settings.kb_dir).resolve()), settings.chroma_url)
    with _INSTANCES_LOCK:
        kb = _INSTANCES.get(key)
        if kb is None:
            kb = _INSTANCES[key] = KnowledgeBase(settings)
        return kb
