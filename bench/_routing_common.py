"""Shared helpers for the routing benchmarks (not part of the app)."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray


class MemoEncoder:
    """Wraps an embedder and remembers every text it has embedded (benchmarks embed the same texts often)."""

    def __init__(self, inner: object) -> None:
        self._inner = inner
        self._memo: dict[str, NDArray[np.float32]] = {}

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        missing = [text for text in dict.fromkeys(texts) if text not in self._memo]
        if missing:
            self._memo.update(zip(missing, self._inner.encode(missing), strict=True))  # type: ignore[attr-defined]
        return np.stack([self._memo[text] for text in texts])


def load_embedder() -> object:
    """Load the MiniLM embedder and say how long it took."""
    from app.embeddings import get_embedder

    started = time.perf_counter()
    embedder = get_embedder()
    embedder.encode(["warm-up"])
    print(f"embedder loaded in {time.perf_counter() - started:.1f} s")
    return embedder
