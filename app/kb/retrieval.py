"""Hybrid retrieval: dense (Chroma, MiniLM cosine) and BM25 keyword search over the same chunks.

Both retrievers rank chunks; chunk hits are aggregated to documents (a document scores as its best
chunk) and the two document rankings are fused by *weighted* reciprocal rank fusion,
`score(d) = w_dense / (k + rank_dense(d)) + w_keyword / (k + rank_keyword(d))`. The weights were chosen
by evaluation (`bench/eval_support.py`): plain RRF lets the weaker keyword ranking pull good dense
results down; a keyword weight that grows with how well the query's terms matched (the best normalised
BM25 score, squared) keeps its exact-term wins (SKUs, plan names, error codes) without that cost.

The keyword index is built from the store's own chunk texts and rebuilt when the collection's revision
changes (checked at most once per `recheck_seconds`, immediately after an in-process write).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from app.kb.alignment import PieceIdf, TokenEncoder, count_piece_idf, passage_text, token_recall
from app.kb.bm25 import BM25Index, tokenize
from app.kb.chunking import OUTLINE_SECTION, context_prefix
from app.kb.confidence import split_sentences
from app.kb.ingest import TextEncoder
from app.kb.store import ChromaStore

Mode = Literal["hybrid", "dense", "keyword"]


@dataclass(frozen=True, slots=True)
class Passage:
    """One retrieved chunk, with the scores that placed it."""

    doc: str
    """Document name (file path relative to the KB folder): what answers cite."""
    section: str
    """Heading path of the chunk inside its document."""
    text: str
    """The chunk text."""
    score: float
    """Fused score of the chunk's document, scaled to [0, 1] (1 = first in both rankings)."""
    dense_score: float
    """Cosine similarity of the chunk to the question (0 when the dense retriever did not return it)."""
    keyword_score: float
    """BM25 score of the chunk divided by the highest score the question could reach, in [0, 1]."""
    title: str = ""
    """Title of the document."""
    chunk: int = 0
    """Index of the chunk in its document."""


@dataclass(frozen=True, slots=True)
class FusionWeights:
    """Weighted reciprocal rank fusion of the dense and keyword document rankings."""

    dense: float = 1.0
    """Weight of the dense ranking."""
    keyword: float = 0.3
    """Weight of the keyword ranking."""
    k: float = 10.0
    """RRF rank constant: smaller values favour the top ranks more."""
    keyword_power: float = 0.0
    """The keyword weight is scaled by (best normalised BM25 score) ** keyword_power for each query, so
    the keyword ranking counts when the query's terms really occur together and fades when it only
    matched stray words (0 = a fixed weight)."""

    def keyword_weight(self, top_keyword: float) -> float:
        """The keyword weight for a query whose best normalised BM25 score is `top_keyword`."""
        return self.keyword * (top_keyword**self.keyword_power if self.keyword_power else 1.0)


DEFAULT_WEIGHTS = FusionWeights(dense=1.0, keyword=1.0, k=1.0, keyword_power=2.0)
"""Chosen by `bench/eval_support.py --tune` on the Lumio dev questions and the even-numbered StackFAQ
paraphrases: the best mean MRR among weights that are worse than neither single retriever on either set.
Fixed-weight RRF (1, 1, 60) lost 0.04 MRR to dense alone on StackFAQ."""


@dataclass(slots=True)
class DocHit:
    """A document in the fused ranking."""

    doc: str
    score: float
    dense: float = 0.0
    keyword: float = 0.0
    dense_rank: int | None = None
    keyword_rank: int | None = None
    best_row: int = -1
    best_dense_row: int = -1
    best_keyword_row: int = -1


@dataclass(slots=True)
class Retrieval:
    """Everything one search produced: passages, the document ranking and confidence features."""

    query: str
    passages: list[Passage]
    docs: list[DocHit]
    features: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class ChunkSnapshot:
    """The store's chunks at one revision, with their BM25 index and each document's term set."""

    revision: str
    ids: list[str]
    docs: list[str]
    titles: list[str]
    sections: list[str]
    texts: list[str]
    indexes: list[int]
    row_of: dict[str, int]
    rows_of_doc: dict[str, list[int]]
    """Each document's chunk rows."""
    bm25: BM25Index
    doc_terms: dict[str, frozenset[str]]
    piece_idf: PieceIdf | None = None
    """Word-piece IDF over the chunk texts, for token alignment (None when the encoder has no tokenizer)."""


def keyword_text(title: str, section: str, text: str) -> str:
    """What BM25 indexes for a chunk: the title and heading path (the title twice, for weight) and the text."""
    return f"{title}\n{context_prefix(title, section)}{text}"


class Retriever:
    """Dense + keyword retrieval over one `ChromaStore`."""

    def __init__(
        self,
        store: ChromaStore,
        encoder: TextEncoder,
        *,
        weights: FusionWeights = DEFAULT_WEIGHTS,
        dense_candidates: int = 100,
        recheck_seconds: float = 1.0,
        cache_size: int = 512,
    ) -> None:
        """Wrap `store`; nothing is loaded until the first search.

        Args:
            store: The chunk store.
            encoder: The embedding model that filled the store.
            weights: Fusion weights.
            dense_candidates: Chunks asked from Chroma per query.
            recheck_seconds: How often the collection revision is checked for outside changes.
            cache_size: Query embeddings kept (repeated questions skip the model).
        """
        self.store = store
        self.encoder = encoder
        self.weights = weights
        self.dense_candidates = dense_candidates
        self.recheck_seconds = recheck_seconds
        self._snapshot: ChunkSnapshot | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, NDArray[np.float32]] = OrderedDict()
        self._cache_size = cache_size

    def invalidate(self) -> None:
        """Forget the keyword index (the next search rebuilds it)."""
        with self._lock:
            self._snapshot = None

    def snapshot(self) -> ChunkSnapshot:
        """The keyword index and chunk table, rebuilt when the collection changed."""
        with self._lock:
            now = time.monotonic()
            current = self._snapshot
            if current is not None and now - self._checked_at < self.recheck_seconds:
                return current
            revision = self.store.revision()
            self._checked_at = now
            if current is not None and current.revision == revision:
                return current
            table = self.store.table()
            texts = [keyword_text(t, s, x) for t, s, x in zip(table.titles, table.sections, table.texts, strict=True)]
            doc_terms: dict[str, set[str]] = {}
            rows_of_doc: dict[str, list[int]] = {}
            for row, (doc, text) in enumerate(zip(table.docs, texts, strict=True)):
                doc_terms.setdefault(doc, set()).update(tokenize(text))
                rows_of_doc.setdefault(doc, []).append(row)
            self._snapshot = ChunkSnapshot(
                revision=revision,
                ids=table.ids,
                docs=table.docs,
                titles=table.titles,
                sections=table.sections,
                texts=table.texts,
                indexes=table.indexes,
                row_of={chunk_id: row for row, chunk_id in enumerate(table.ids)},
                rows_of_doc=rows_of_doc,
                bm25=BM25Index(texts),
                doc_terms={doc: frozenset(terms) for doc, terms in doc_terms.items()},
                piece_idf=count_piece_idf(self.encoder, table.texts)
                if isinstance(self.encoder, TokenEncoder)
                else None,
            )
            return self._snapshot

    def embed(self, query: str) -> NDArray[np.float32]:
        """The query's embedding (cached per exact text)."""
        with self._lock:
            cached = self._cache.get(query)
            if cached is not None:
                self._cache.move_to_end(query)
                return cached
        encode = getattr(self.encoder, "encode_cached", self.encoder.encode)  # the router embedded it already
        vector = encode([query])[0]
        with self._lock:
            self._cache[query] = vector
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vector

    def candidates(self, query: str) -> Candidates:
        """Run both retrievers and aggregate their chunk hits to documents (no fusion yet)."""
        snap = self.snapshot()
        if not snap.ids:
            empty = np.zeros(0)
            return Candidates(query, snap, {}, {}, np.zeros(0, dtype=np.int64), empty, empty)
        vector = self.embed(query)
        dense_ids, dense_sims = self.store.query(vector, min(self.dense_candidates, len(snap.ids)))
        dense_rows = np.asarray([snap.row_of.get(i, -1) for i in dense_ids], dtype=np.int64)
        known = dense_rows >= 0
        dense_rows, dense_sims = dense_rows[known], dense_sims[known]
        bm25 = snap.bm25.scores(query)
        max_bm25 = snap.bm25.max_score(query)
        keyword_norm = bm25 / max_bm25 if max_bm25 > 0 else bm25

        # A document scores as its best chunk.
        dense_doc: dict[str, tuple[float, int]] = {}
        for row, sim in zip(dense_rows.tolist(), dense_sims.tolist(), strict=True):
            doc = snap.docs[row]
            if doc not in dense_doc or sim > dense_doc[doc][0]:
                dense_doc[doc] = (sim, row)
        keyword_doc: dict[str, tuple[float, int]] = {}
        count = min(len(bm25), max(self.dense_candidates, 50))
        top_rows = np.argpartition(-bm25, count - 1)[:count] if count < len(bm25) else np.arange(len(bm25))
        for row in sorted(top_rows.tolist(), key=lambda r: (-bm25[r], r)):
            score = float(keyword_norm[row])
            if score <= 0:
                break
            doc = snap.docs[row]
            if doc not in keyword_doc:
                keyword_doc[doc] = (score, row)
        return Candidates(query, snap, dense_doc, keyword_doc, dense_rows, dense_sims, keyword_norm, vector)

    def retrieve(self, query: str, k: int = 5, mode: Mode = "hybrid", *, runner_up: bool = False) -> Retrieval:
        """Rank documents for `query` and return the best chunk of each of the top `k`.

        Args:
            query: The question.
            k: Number of documents (one passage each).
            mode: `hybrid` (fused), `dense` or `keyword` only (for evaluation).
            runner_up: Also return the top document's second-best chunk, right after its best: the answer
                is often in the next section of the right document (what an answer writer reads; a search
                listing keeps one passage per document).

        Returns:
            Passages, the full fused document ranking, and the confidence features.
        """
        found = self.candidates(query)
        if not found.snap.ids:
            return Retrieval(query=query, passages=[], docs=[], features=empty_features())
        ranked = fuse(found, self.weights, mode)
        orders = choose_chunks(found, ranked[: min(k, CHUNK_CHOICE_DOCS)], self.encoder) if mode == "hybrid" else {}
        snap = found.snap
        dense_by_row = dict(zip(found.dense_rows.tolist(), found.dense_sims.tolist(), strict=True))
        passages: list[Passage] = []
        for n, hit in enumerate(ranked[:k]):
            rows = orders.get(hit.doc, [hit.best_row])[: 2 if runner_up and n == 0 else 1]
            if runner_up and n == 0 and names_document(query, snap.titles[hit.best_row]):
                passages.append(_outline(snap, hit))  # the whole topic first, then its best chunk
                rows = rows[:1]
            passages.extend(
                Passage(
                    doc=hit.doc,
                    section=snap.sections[row],
                    text=snap.texts[row],
                    score=round(hit.score, 6),
                    dense_score=round(dense_by_row.get(row, 0.0), 6),
                    keyword_score=round(float(found.keyword_norm[row]), 6),
                    title=snap.titles[row],
                    chunk=snap.indexes[row],
                )
                for row in rows
            )
        return Retrieval(
            query=query, passages=passages, docs=ranked, features=retrieval_features(found, ranked, self.encoder)
        )


@dataclass(slots=True)
class Candidates:
    """Both retrievers' results for one query, aggregated to documents (input of `fuse`)."""

    query: str
    snap: ChunkSnapshot
    dense_doc: dict[str, tuple[float, int]]
    """Document → (best chunk cosine, its row)."""
    keyword_doc: dict[str, tuple[float, int]]
    """Document → (best normalised BM25, its row)."""
    dense_rows: NDArray[np.int64]
    dense_sims: NDArray[np.float64]
    keyword_norm: NDArray[np.float64]
    vector: NDArray[np.float32] | None = None
    """The question's embedding (None for an empty index)."""

    @property
    def dense_order(self) -> list[str]:
        """Documents by best cosine."""
        return sorted(self.dense_doc, key=lambda d: (-self.dense_doc[d][0], d))

    @property
    def keyword_order(self) -> list[str]:
        """Documents by best BM25."""
        return sorted(self.keyword_doc, key=lambda d: (-self.keyword_doc[d][0], d))


def fuse(found: Candidates, weights: FusionWeights, mode: Mode = "hybrid") -> list[DocHit]:
    """Weighted reciprocal rank fusion of the two document rankings, scaled so 1 = first in both.

    `score` is scaled by the best score this query could reach (first in both rankings) so it reads as
    a fraction; with a query-dependent keyword weight that scale differs between queries, which is why
    confidence uses its own features rather than this score. Ties break on the dense cosine (the stronger retriever), then on the name, so rankings are stable.
    """
    use_dense = mode in ("hybrid", "dense")
    use_keyword = mode in ("hybrid", "keyword")
    keyword_order = found.keyword_order
    top_keyword = found.keyword_doc[keyword_order[0]][0] if keyword_order else 0.0
    w_dense = weights.dense if use_dense else 0.0
    w_keyword = (weights.keyword_weight(top_keyword) if mode == "hybrid" else 1.0) if use_keyword else 0.0
    top_score = (w_dense + w_keyword) / (weights.k + 1.0) or 1.0
    hits: dict[str, DocHit] = {}
    for rank, doc in enumerate(found.dense_order, start=1):
        sim, row = found.dense_doc[doc]
        hit = hits.setdefault(doc, DocHit(doc=doc, score=0.0))
        hit.dense, hit.dense_rank, hit.best_dense_row = sim, rank, row
        if use_dense:
            hit.score += w_dense / (weights.k + rank) / top_score
    for rank, doc in enumerate(keyword_order, start=1):
        score, row = found.keyword_doc[doc]
        hit = hits.setdefault(doc, DocHit(doc=doc, score=0.0))
        hit.keyword, hit.keyword_rank, hit.best_keyword_row = score, rank, row
        if w_keyword:
            hit.score += w_keyword / (weights.k + rank) / top_score
    ranked = sorted(
        (h for h in hits.values() if h.score > 0),
        key=lambda h: (-h.score, -(h.dense if use_dense else h.keyword), h.doc),
    )
    sims = dict(zip(found.dense_rows.tolist(), found.dense_sims.tolist(), strict=True))
    for hit in ranked:
        hit.best_row = _best_row(hit, sims, found.keyword_norm, mode)
    return ranked


def _best_row(hit: DocHit, sims: dict[int, float], keyword_norm: NDArray[np.float64], mode: Mode) -> int:
    """The chunk to show for a document: its best by cosine plus half its normalised BM25."""
    if mode == "keyword" or hit.best_dense_row < 0:
        return hit.best_keyword_row
    if mode == "dense" or hit.best_keyword_row < 0 or hit.best_keyword_row == hit.best_dense_row:
        return hit.best_dense_row

    def value(row: int) -> float:
        return sims.get(row, 0.0) + 0.5 * float(keyword_norm[row])

    return max((hit.best_dense_row, hit.best_keyword_row), key=value)


NAMED_SHARE = 0.4
"""Share of a title's words a question must use to ask for the whole document (`names_document`)."""
OUTLINE_WORDS = 160
"""Length cap of a document's outline (`_outline`)."""
_OVERVIEW_WORDS = frozenset(
    tokenize("policy policies overview summary rules terms details information info explain tell about lumio")
)
"""Words that ask for a whole topic rather than add one ("What is the refund policy?" = "Refund policy")."""


def names_document(query: str, title: str) -> bool:
    """Whether the question asks for a document as a whole.

    Beside words such as "policy" or "overview", its words are all in the title and make up at least
    `NAMED_SHARE` of it: "What is the refund policy?" → "Refund policy", "Tell me about SSO and SCIM" →
    "Single sign-on (SSO) and SCIM provisioning", "webhooks" → "Webhooks".
    """
    asked = {t for t in tokenize(query) if len(t) > 1} - _OVERVIEW_WORDS  # not the "s" of "what's"
    named = set(tokenize(title)) - _OVERVIEW_WORDS
    # and they are much of the title: "check" alone does not ask for "Desk tags and check-in"
    return bool(asked) and asked <= named and len(asked) >= NAMED_SHARE * len(named)


def _key_sentence(sentences: list[str], heading: str) -> str:
    """The sentence an outline quotes for a section: its first, unless that is a lead-in.

    A first sentence ending in a colon ("Every API response includes these headers:") quoted alone leaves what
    follows unsaid: then the section gives none.
    """
    return sentences[0] if sentences and not sentences[0].endswith(":") else ""


def _outline(snap: ChunkSnapshot, hit: DocHit) -> Passage:
    """A document's outline: each section's heading and first sentence, in order, as one passage (chunk -1).

    What a question about the whole topic needs ("What is the refund policy?" → the monthly, annual, hardware
    and installation rules), where its best chunks by similarity only repeat the question's words.
    """
    pieces: list[str] = []
    words = 0
    for row in sorted(snap.rows_of_doc.get(hit.doc, [hit.best_row]), key=lambda r: snap.indexes[r]):
        heading = snap.sections[row].split(" > ")[-1].strip()
        sentence = _key_sentence(split_sentences(snap.texts[row]), heading)
        if not sentence:
            continue
        piece = f"{heading}: {sentence}" if heading and heading != snap.titles[row] else sentence
        piece = piece if piece.endswith((".", "!", "?")) else f"{piece}."  # one line each: none runs into the next
        words += len(piece.split())
        if pieces and words > OUTLINE_WORDS:
            break
        pieces.append(piece)
    return Passage(
        doc=hit.doc,
        section=OUTLINE_SECTION,
        text="\n".join(pieces),
        score=round(hit.score, 6),
        dense_score=round(max(hit.dense, 0.0), 6),  # the document's best chunk cosine: the outline has none of its own
        keyword_score=0.0,
        title=snap.titles[hit.best_row],
        chunk=-1,
    )


CHUNK_CHOICE_DOCS = 1
"""Documents whose chunk `choose_chunks` picks (the others show their best chunk by cosine or BM25)."""
CHUNKS_SCORED = 3
"""Chunks of a document whose sentences `choose_chunks` reads (its best by cosine plus half BM25)."""


def choose_chunks(
    found: Candidates, hits: Sequence[DocHit], encoder: TextEncoder | None, per_doc: int = CHUNKS_SCORED
) -> dict[str, list[int]]:
    """Each document's chunks, best first, and its `best_row` set to the first.

    A chunk scores as its best sentence's cosine to the question plus half its own cosine and half its
    normalised BM25: the sentence that answers decides, even in a long chunk about something else. On the
    Lumio dev questions whose top document holds the answer, the chosen chunk holds it 88 % of the time
    (best cosine or BM25 chunk: 85 %) and the first two 94 %. Only a document's `per_doc` best chunks by
    cosine plus half BM25 are scored (the answer is among them for 97 % of those questions), with one
    encoder call for all their sentences, so a large index costs no more per question. Without an
    encoder, `_best_row` stays.
    """
    vector = found.vector
    if encoder is None or vector is None:
        return {hit.doc: [hit.best_row] for hit in hits}
    snap = found.snap
    encode = getattr(encoder, "encode_cached", encoder.encode)
    sims = dict(zip(found.dense_rows.tolist(), found.dense_sims.tolist(), strict=True))

    def first_pass(row: int) -> float:
        return sims.get(row, 0.0) + 0.5 * float(found.keyword_norm[row])

    shortlist = {
        hit.doc: sorted(snap.rows_of_doc.get(hit.doc) or [hit.best_row], key=lambda r: (-first_pass(r), r))[:per_doc]
        for hit in hits
    }
    rows = [row for doc_rows in shortlist.values() for row in doc_rows]
    sentences = [split_sentences(snap.texts[row]) for row in rows]
    flat = [text for row_sentences in sentences for text in row_sentences]
    cosines = (encode(flat) @ vector).tolist() if flat else []
    best_sentence: dict[int, float] = {}
    start = 0
    for row, row_sentences in zip(rows, sentences, strict=True):
        end = start + len(row_sentences)
        best_sentence[row] = max(cosines[start:end], default=sims.get(row, 0.0))
        start = end
    orders: dict[str, list[int]] = {}
    for hit in hits:
        doc_rows = shortlist[hit.doc]
        scores = {
            row: best_sentence[row] + 0.5 * sims.get(row, 0.0) + 0.5 * float(found.keyword_norm[row])
            for row in doc_rows
        }
        orders[hit.doc] = sorted(doc_rows, key=lambda r: (-scores[r], r))
        hit.best_row = orders[hit.doc][0]
    return orders


FEATURES = (
    "dense_spread",
    "dense_margin",
    "coverage",
    "top3_coverage",
    "unknown_terms",
    "missing_rarest",
    "sentence_top",
    "token_recall",
)
"""Confidence features, in the order the confidence model expects.

Chosen by 5-fold cross-validation (repeated shuffles) on the Lumio dev questions (`bench/eval_support.py`):
the first seven reached a cross-validated AUC of 0.868 against 0.850 for the previous eleven retrieval
features; adding `token_recall` raised it to 0.876 (20 shuffles: 0.867 → 0.875, and 36 % → 28 % of
answerable questions escalated at 90 % unanswerable recall). Gradient boosting on the same features was
worse (0.83), the data set being small."""

SIGNALS = (
    "dense_top",
    "dense_margin",
    "dense_spread",
    "keyword_top",
    "keyword_margin",
    "agree",
    "dense_top_keyword_rr",
    "coverage",
    "doc_coverage",
    "top3_coverage",
    "unknown_terms",
    "missing_rarest",
    "query_terms",
    "sentence_top",
    "token_recall",
)
"""Every signal `retrieval_features` computes (a superset of `FEATURES`, kept for analysis and refits)."""


def empty_features() -> dict[str, float]:
    """Features of a search over an empty knowledge base (nothing found)."""
    return dict.fromkeys(SIGNALS, 0.0) | {"unknown_terms": 1.0, "missing_rarest": 1.0}


def _sentence_top(found: Candidates, row: int, encoder: TextEncoder | None) -> float:
    """Best cosine between the question and one sentence of chunk `row`.

    Without an encoder (or for a chunk with no sentence) the chunk's own cosine stands in. Sentence
    vectors come from `encode_cached`, warmed for the whole index at start-up, so this costs one small
    matrix product per question.
    """
    if encoder is None or found.vector is None or not (sentences := split_sentences(found.snap.texts[row])):
        return float(dict(zip(found.dense_rows.tolist(), found.dense_sims.tolist(), strict=True)).get(row, 0.0))
    encode = getattr(encoder, "encode_cached", encoder.encode)
    return float((encode(sentences) @ found.vector).max())


def _token_recall(found: Candidates, row: int, encoder: TextEncoder | None) -> float | None:
    """Token alignment of the question with chunk `row` (see `app.kb.alignment`); None without a token encoder."""
    snap = found.snap
    if not isinstance(encoder, TokenEncoder) or snap.piece_idf is None:
        return None
    passage = passage_text(snap.titles[row], snap.sections[row], snap.texts[row])
    return token_recall(found.query, passage, encoder, snap.piece_idf)


def retrieval_features(found: Candidates, ranked: list[DocHit], encoder: TextEncoder | None = None) -> dict[str, float]:
    """Scale-free signals of whether the top result answers the question.

    - `dense_top`: best chunk cosine; `dense_margin`: best minus second-best document cosine;
      `dense_spread`: best cosine minus the mean of the ten best chunks (how much the top stands out).
    - `keyword_top`, `keyword_margin`: the same for BM25, divided by the best score the query could reach.
    - `agree`: both retrievers put the same document first; `dense_top_keyword_rr`: 1 / keyword rank
      of the dense retriever's top document.
    - `coverage`: IDF-weighted share of the question's terms found in the top passage (with its title
      and headings); `doc_coverage`: the same over the whole top document; `top3_coverage`: the best
      `doc_coverage` among the three first documents.
    - `unknown_terms`: IDF-weighted share of the question's terms that no chunk contains at all.
    - `missing_rarest`: IDF of the rarest question term absent from the top document, over the IDF of
      a term the index has never seen (1 = a term unknown to the whole KB is missing; 0 = nothing is).
    - `query_terms`: log(1 + number of distinct question terms).
    - `sentence_top`: best cosine of the question to a single sentence of the top passage (a long
      passage dilutes the one sentence that answers).
    - `token_recall`: how well each question word-piece is matched in the top passage, IDF-weighted
      (`app.kb.alignment`); an encoder without token vectors gets `coverage`, its lexical analogue.

    Args:
        found: Both retrievers' candidates for the question.
        ranked: The fused document ranking of `found`.
        encoder: The embedding model, for `sentence_top` and `token_recall` (without it, the passage cosine
            and the lexical coverage stand in).
    """
    if not ranked:
        return empty_features()
    snap, dense_doc, keyword_doc = found.snap, found.dense_doc, found.keyword_doc
    dense_order, keyword_order = found.dense_order, found.keyword_order
    features = empty_features()
    terms = list(dict.fromkeys(tokenize(found.query)))
    bm25 = snap.bm25
    unseen = bm25.unseen_idf()
    weights = {t: (bm25.idf_of(t) or unseen) for t in terms}
    total = sum(weights.values()) or 1.0
    top = ranked[0]
    row = top.best_row
    passage_terms = set(tokenize(keyword_text(snap.titles[row], snap.sections[row], snap.texts[row])))
    doc_terms = snap.doc_terms.get(top.doc, frozenset())
    sims = np.sort(found.dense_sims)[::-1]
    if dense_order:
        features["dense_top"] = float(sims[0])
        second = dense_doc[dense_order[1]][0] if len(dense_order) > 1 else 0.0
        features["dense_margin"] = float(dense_doc[dense_order[0]][0] - second)
        features["dense_spread"] = float(sims[0] - sims[:10].mean())
    if keyword_order:
        features["keyword_top"] = keyword_doc[keyword_order[0]][0]
        second = keyword_doc[keyword_order[1]][0] if len(keyword_order) > 1 else 0.0
        features["keyword_margin"] = keyword_doc[keyword_order[0]][0] - second
        features["agree"] = float(bool(dense_order) and dense_order[0] == keyword_order[0])
        if dense_order and dense_order[0] in keyword_doc:
            features["dense_top_keyword_rr"] = 1.0 / (keyword_order.index(dense_order[0]) + 1)
    if terms:
        features["coverage"] = sum(w for t, w in weights.items() if t in passage_terms) / total
        features["doc_coverage"] = sum(w for t, w in weights.items() if t in doc_terms) / total
        features["top3_coverage"] = max(
            sum(w for t, w in weights.items() if t in snap.doc_terms.get(hit.doc, frozenset())) / total
            for hit in ranked[:3]
        )
        features["unknown_terms"] = sum(w for t, w in weights.items() if bm25.idf_of(t) is None) / total
        missing = [w for t, w in weights.items() if t not in doc_terms]
        features["missing_rarest"] = max(missing) / unseen if missing and unseen > 0 else 0.0
    else:
        features["unknown_terms"] = 0.0
        features["missing_rarest"] = 0.0
    features["query_terms"] = float(np.log1p(len(terms)))
    features["sentence_top"] = _sentence_top(found, row, encoder)
    recall = _token_recall(found, row, encoder)
    features["token_recall"] = features["coverage"] if recall is None else recall
    return features
