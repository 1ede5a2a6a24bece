"""Token alignment: how well each word-piece of a question is matched somewhere in a passage.

A BERTScore-style recall with MiniLM's contextual word-piece vectors: for every question piece, the best
cosine to any piece of the passage, averaged with IDF weights (rare pieces such as "fedramp" or "14001"
count most, "the" almost nothing). A passage that answers the question matches its distinctive words or
close paraphrases of them ("people" ~ "users"); a passage that only shares the topic leaves the focus of
the question unmatched.

On the 365 Lumio dev questions (`bench/eval_support.py`, 5-fold cross-validation, 10 shuffles) adding it
to the other retrieval features raised the AUC from 0.824 to 0.834 and cut the answerable questions
escalated at 90 % unanswerable recall from 48 % to 40 %. The model's static (input) word-piece vectors,
which would cost no forward pass, gave no gain (0.826). The question's token vectors come from the forward
pass that embedded it for routing and retrieval (`Embedder` keeps them from merged passes); each passage
costs one pass, which `Embedder.token_vectors` caches and the warm-up fills after ready.
Aligning only the best sentence and the two after it was as informative (0.832) at a third of the
word-pieces, but a window cannot be warmed once per passage: offline support answers then took p50 102 ms
against 66 ms (`bench/bench_graph.py`), so the whole passage it is.

Piece IDF comes from the knowledge base's own chunks, counted when the retriever rebuilds its chunk snapshot
for a new index revision, next to BM25 (`app.kb.retrieval.Retriever.snapshot`): the warm-up does it at
start-up, and after an ingest the first search does, not every search.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray


@runtime_checkable
class TokenEncoder(Protocol):
    """What token alignment needs from the embedder (see `app.embeddings.Embedder`)."""

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Word-piece ids of each text (no special tokens)."""
        ...

    def token_vectors(self, texts: Sequence[str]) -> list[tuple[NDArray[np.int64], NDArray[np.float16]]]:
        """(ids, L2-normalised contextual vectors) of each text."""
        ...


@dataclass(frozen=True, slots=True)
class PieceIdf:
    """Inverse document frequency of word-pieces over the chunks of one index revision."""

    df: dict[int, int]
    chunks: int

    def weights(self, ids: NDArray[np.int64]) -> NDArray[np.float64]:
        """`log((N + 1) / (df + 0.5))` per piece (a piece the index never saw gets the largest weight)."""
        n = self.chunks + 1
        return np.asarray([math.log(n / (self.df.get(int(i), 0) + 0.5)) for i in ids], dtype=np.float64)


def count_piece_idf(encoder: TokenEncoder, texts: Sequence[str]) -> PieceIdf:
    """Piece IDF over `texts` (the chunks of one index revision), tokenized 512 at a time."""
    df: Counter[int] = Counter()
    for start in range(0, len(texts), 512):
        for ids in encoder.token_ids(texts[start : start + 512]):
            df.update(set(ids))
    return PieceIdf(dict(df), len(texts))


def passage_text(title: str, section: str, text: str) -> str:
    """What a passage is aligned as: its document title and heading path, then its text."""
    return f"{title}. {section}. {text}" if section else f"{title}. {text}"


def token_recall(question: str, passage: str, encoder: TokenEncoder, idf: PieceIdf) -> float:
    """IDF-weighted mean, over the question's word-pieces, of each piece's best cosine to a passage piece.

    Returns 0.0 for an empty question or passage.
    """
    (q_ids, q_vectors), (_, p_vectors) = encoder.token_vectors([question, passage])
    if not len(q_ids) or not len(p_vectors):
        return 0.0
    best = (q_vectors.astype(np.float32) @ p_vectors.astype(np.float32).T).max(axis=1)
    weights = idf.weights(q_ids)
    total = float(weights.sum())
    return float((weights * best).sum() / total) if total > 0 else 0.0
