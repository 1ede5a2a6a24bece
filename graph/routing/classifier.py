"""Offline intent classification over embedded labelled example requests.

Each request is embedded with the local MiniLM model (L2-normalised, 384 dimensions); the keyword
analyser's six route scores are appended as squashed features; a multinomial logistic regression maps
the result to route probabilities. kNN and nearest-centroid variants are kept for comparison:
`bench/cv_routing.py` cross-validates all of them on the training set, and the default configuration is
the winner there (the evaluation set is never used to choose).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from graph.routing.dataset import Example, load_examples
from graph.routing.keywords import keyword_scores
from graph.routing.routes import ROUTES, Route
from graph.routing.text import normalize_request

if TYPE_CHECKING:
    from numpy.typing import NDArray


class TextEncoder(Protocol):
    """Anything that embeds texts into L2-normalised rows, like `app.embeddings.Embedder`."""

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Embed `texts` into an array of shape (len(texts), dimensions)."""
        ...


ClassifierKind = Literal["logreg", "knn", "centroid", "knn+centroid"]
"""The scoring models compared by cross-validation."""


@dataclass(frozen=True)
class ClassifierConfig:
    """Hyper-parameters of `IntentClassifier` (defaults: the cross-validation winner)."""

    kind: ClassifierKind = "logreg"
    """Scoring model over the features."""
    use_keywords: bool = True
    """Whether keyword scores join the embedding as features."""
    keyword_weight: float = 0.5
    """Scale of the keyword features relative to the unit-length embedding."""
    c: float = 2.0
    """Inverse regularisation strength of the logistic regression."""
    k: int = 7
    """Neighbours used by the kNN variants."""
    temperature: float = 0.05
    """Softmax temperature on cosine similarities for the kNN and centroid variants."""


@dataclass(frozen=True)
class Prediction:
    """The classifier's verdict on one request."""

    route: Route
    """The most probable route."""
    confidence: float
    """Probability of `route`, between 0 and 1."""
    scores: dict[Route, float] = field(default_factory=dict)
    """Probability of every route (sums to 1)."""


def keyword_features(texts: Sequence[str]) -> NDArray[np.float32]:
    """Keyword scores of each text as features in [0, 1): score / (1 + score), in `ROUTES` order.

    Args:
        texts: Normalised requests.

    Returns:
        An array of shape (len(texts), len(ROUTES)).
    """
    rows = [[score / (1.0 + score) for score in keyword_scores(text).values()] for text in texts]
    return np.asarray(rows, dtype=np.float32).reshape(len(texts), len(ROUTES))


class IntentClassifier:
    """Routes a request by comparing its embedding with labelled example requests.

    Build one with `from_examples` (or `load_default` for the packaged examples); it is immutable and
    thread-safe once built.
    """

    def __init__(
        self,
        embedder: TextEncoder,
        config: ClassifierConfig,
        embeddings: NDArray[np.float32],
        labels: NDArray[np.int64],
    ) -> None:
        """Fit the configured model on pre-computed example embeddings (use `from_examples` instead).

        Args:
            embedder: Encodes requests at prediction time.
            config: Hyper-parameters.
            embeddings: One normalised row per example, with keyword features appended when configured.
            labels: Index into `ROUTES` of each example's route.
        """
        self._embedder = embedder
        self.config = config
        self._features = embeddings
        self._labels = labels
        self._weights = np.zeros((0, 0), dtype=np.float32)
        self._bias = np.zeros(0, dtype=np.float32)
        self._centroids = np.zeros((0, 0), dtype=np.float32)
        if config.kind == "logreg":
            self._fit_logreg()
        else:
            self._fit_centroids()

    @classmethod
    def from_examples(
        cls, examples: Sequence[Example], embedder: TextEncoder, config: ClassifierConfig | None = None
    ) -> IntentClassifier:
        """Embed `examples` (reusing embeddings cached in memory for this embedder) and fit.

        Args:
            examples: Labelled requests; every route should have several.
            embedder: The sentence embedder, e.g. `app.embeddings.get_embedder()`.
            config: Hyper-parameters (default: `ClassifierConfig()`).

        Returns:
            A fitted classifier.

        Raises:
            ValueError: If `examples` is empty.
        """
        if not examples:
            raise ValueError("expected at least one labelled example to train the intent classifier")
        config = config or ClassifierConfig()
        texts = [normalize_request(example.text) for example in examples]
        labels = np.asarray([ROUTES.index(example.route) for example in examples], dtype=np.int64)
        features = _featurize(encode_cached(embedder, texts), texts, config)
        return cls(embedder, config, features, labels)

    def predict(self, text: str) -> Prediction:
        """Classify one request (blocking: encodes with the embedder).

        Args:
            text: The request.

        Returns:
            The most probable route, its probability and every route's probability.

        Raises:
            ValueError: If `text` is empty or only whitespace.
        """
        return self.predict_batch([text])[0]

    async def apredict(self, text: str) -> Prediction:
        """Classify one request without blocking the event loop (encoding runs in a worker thread).

        Args:
            text: The request.

        Returns:
            The same as `predict`.

        Raises:
            ValueError: If `text` is empty or only whitespace.
        """
        return await asyncio.to_thread(self.predict, text)

    def predict_batch(self, texts: Sequence[str]) -> list[Prediction]:
        """Classify many requests with one encoder call.

        Args:
            texts: The requests.

        Returns:
            One prediction per text, in order.

        Raises:
            ValueError: If any text is empty or only whitespace.
        """
        if not texts:
            return []
        cleaned = [normalize_request(text) for text in texts]
        encode = getattr(self._embedder, "encode_cached", self._embedder.encode)  # shared with retrieval
        features = _featurize(encode(cleaned), cleaned, self.config)
        probabilities = self._probabilities(features)
        predictions = []
        for row in probabilities:
            best = int(np.argmax(row))
            scores = {route: float(p) for route, p in zip(ROUTES, row, strict=True)}
            predictions.append(Prediction(route=ROUTES[best], confidence=float(row[best]), scores=scores))
        return predictions

    def _fit_logreg(self) -> None:
        """Fit a multinomial logistic regression and keep its coefficients for fast numpy scoring."""
        from sklearn.linear_model import LogisticRegression
        from threadpoolctl import threadpool_limits

        model = LogisticRegression(C=self.config.c, max_iter=2000)
        # One BLAS/OpenMP thread: next to torch's thread pool, the default oversubscribes small machines and
        # turns a 50 ms fit into seconds.
        with threadpool_limits(limits=1):
            model.fit(self._features.astype(np.float64), self._labels)
        weights = np.zeros((len(ROUTES), self._features.shape[1]), dtype=np.float32)
        bias = np.full(len(ROUTES), -1e4, dtype=np.float32)  # routes without examples are never chosen
        classes = model.classes_.astype(int)
        if len(classes) == 2:  # sklearn stores one row for two classes: log-odds of classes[1]
            weights[classes[1]], bias[classes[1]] = model.coef_[0], model.intercept_[0]
            weights[classes[0]], bias[classes[0]] = 0.0, 0.0
        else:
            weights[classes], bias[classes] = model.coef_, model.intercept_
        self._weights, self._bias = weights, bias

    def _fit_centroids(self) -> None:
        """Average (and re-normalise) the examples of each route."""
        centroids = np.zeros((len(ROUTES), self._features.shape[1]), dtype=np.float32)
        for index in range(len(ROUTES)):
            members = self._features[self._labels == index]
            if len(members):
                mean = members.mean(axis=0)
                centroids[index] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        self._centroids = centroids

    def _probabilities(self, features: NDArray[np.float32]) -> NDArray[np.float64]:
        """Route probabilities for rows of features, shape (rows, len(ROUTES))."""
        kind = self.config.kind
        if kind == "logreg":
            return _softmax(features @ self._weights.T + self._bias)
        if kind == "centroid":
            return self._centroid_probabilities(features)
        if kind == "knn":
            return self._knn_probabilities(features)
        return 0.5 * self._knn_probabilities(features) + 0.5 * self._centroid_probabilities(features)

    def _centroid_probabilities(self, features: NDArray[np.float32]) -> NDArray[np.float64]:
        """Softmax over cosine similarity to each route's centroid."""
        logits = (features @ self._centroids.T) / self.config.temperature
        empty = ~self._centroids.any(axis=1)
        logits[:, empty] = -1e4
        return _softmax(logits)

    def _knn_probabilities(self, features: NDArray[np.float32]) -> NDArray[np.float64]:
        """Similarity-weighted vote of the k most similar examples."""
        similarities = features @ self._features.T
        k = min(self.config.k, similarities.shape[1])
        nearest = np.argpartition(-similarities, k - 1, axis=1)[:, :k]
        votes = np.zeros((features.shape[0], len(ROUTES)), dtype=np.float64)
        for row, indices in enumerate(nearest):
            weights = np.exp((similarities[row, indices] - similarities[row, indices].max()) / self.config.temperature)
            np.add.at(votes[row], self._labels[indices], weights)
        return votes / votes.sum(axis=1, keepdims=True)


def load_default(embedder: TextEncoder | None = None) -> IntentClassifier:
    """The classifier trained on the packaged `train.jsonl`, built once per embedder and kept in memory.

    Args:
        embedder: The sentence embedder (default: `app.embeddings.get_embedder()`, loaded on first use).

    Returns:
        A fitted classifier with the default configuration.
    """
    if embedder is None:
        from app.embeddings import get_embedder

        embedder = get_embedder()
    with _DEFAULT_LOCK:
        cached = _DEFAULT_CLASSIFIERS.get(id(embedder))
        if cached is None or cached[0] is not embedder:
            cached = (embedder, IntentClassifier.from_examples(load_examples("train"), embedder))
            _DEFAULT_CLASSIFIERS[id(embedder)] = cached
        return cached[1]


def clear_cache() -> None:
    """Forget the cached default classifiers and example embeddings (tests, reloading examples)."""
    with _DEFAULT_LOCK:
        _DEFAULT_CLASSIFIERS.clear()
        _EMBEDDINGS.clear()


_DEFAULT_LOCK = threading.RLock()
_DEFAULT_CLASSIFIERS: dict[int, tuple[TextEncoder, IntentClassifier]] = {}
"""id(embedder) → (embedder, classifier); the embedder is kept so the id cannot be reused."""
_EMBEDDINGS: dict[int, tuple[TextEncoder, dict[str, NDArray[np.float32]]]] = {}
"""id(embedder) → (embedder, text → embedding): example embeddings, in memory only."""


def encode_cached(embedder: TextEncoder, texts: Sequence[str]) -> NDArray[np.float32]:
    """Embed `texts` through the in-memory example cache (only texts new to this embedder are encoded).

    Args:
        embedder: The sentence embedder.
        texts: Normalised texts (the cache key is the exact text).

    Returns:
        An array of shape (len(texts), dimensions).
    """
    with _DEFAULT_LOCK:
        entry = _EMBEDDINGS.get(id(embedder))
        if entry is None or entry[0] is not embedder:
            entry = (embedder, {})
            _EMBEDDINGS[id(embedder)] = entry
        cache = entry[1]
        missing = list(dict.fromkeys(text for text in texts if text not in cache))
        if missing:
            cache.update(zip(missing, embedder.encode(missing), strict=True))
        return np.stack([cache[text] for text in texts]).astype(np.float32)


def _featurize(embeddings: NDArray[np.float32], texts: Sequence[str], config: ClassifierConfig) -> NDArray[np.float32]:
    """Append the scaled keyword features to the embeddings when configured (rows re-normalised)."""
    if not config.use_keywords:
        return np.asarray(embeddings, dtype=np.float32)
    joined = np.hstack([embeddings, config.keyword_weight * keyword_features(texts)]).astype(np.float32)
    return joined / np.maximum(np.linalg.norm(joined, axis=1, keepdims=True), 1e-12)


def _softmax(logits: NDArray[np.floating]) -> NDArray[np.float64]:
    """Row-wise softmax."""
    shifted = np.asarray(logits, dtype=np.float64) - np.max(logits, axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)
