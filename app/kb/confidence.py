"""Calibrated confidence that a question is answerable from the retrieved passages.

`ConfidenceModel` is a logistic regression over the scale-free retrieval features of
`app.kb.retrieval.retrieval_features` named in `FEATURES` (how far the top cosine stands out, the
document margin, query-term coverage of the top passage and of the top three documents, terms unknown
to the whole knowledge base, the rarest term the top document lacks, the best single-sentence cosine,
and the word-piece alignment of the question with the top passage). It is fitted on a labelled set of answerable and unanswerable
questions by `gtm kb calibrate` / `bench/eval_support.py --calibrate`, and its coefficients live in
`confidence_model.json` beside this module: nothing is trained at import time.

`answer_support` measures how well a drafted answer is backed by the passages, and `combine` folds it
into the retrieval confidence, so an answer that strays from its sources escalates even when retrieval
looked good.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from app.kb.bm25 import tokenize
from app.kb.ingest import TextEncoder

MODEL_PATH = Path(__file__).with_name("confidence_model.json")
"""The fitted model shipped with the code (re-fitted by `gtm kb calibrate`)."""
DEFAULT_C = 0.1
"""Inverse regularisation of the logistic regression (chosen by cross-validated log-loss on the Lumio dev set)."""
SUPPORT_FULL = 0.75
"""Answer support at or above which the retrieval confidence is kept whole (see `combine`)."""

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_NUMBER = re.compile(r"(?<![\w.])[$€£]?\d[\d,]*(?:\.\d+)?%?")
_CITATION = re.compile(r"\[[^\]]*\.mdx?\]|\((?:source|sources|see)[^)]*\)", re.IGNORECASE)
_BOILERPLATE = re.compile(r"^(?:was this helpful\??|sources?:.*|i hope this helps.*)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ConfidenceModel:
    """Logistic regression on standardised features: `P(answerable) = σ(b + Σ wᵢ (xᵢ − μᵢ) / sᵢ)`."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    meta: dict[str, Any] = field(default_factory=dict)
    """Where the model was fitted and how it scored (training set, size, date, metrics)."""

    def logit(self, features: Mapping[str, float]) -> float:
        """The linear score before the sigmoid."""
        total = self.intercept
        for name, mu, sd, w in zip(self.features, self.mean, self.scale, self.coef, strict=True):
            total += w * (float(features.get(name, 0.0)) - mu) / sd
        return total

    def predict(self, features: Mapping[str, float]) -> float:
        """Probability that the question is answerable from the retrieved passages."""
        z = self.logit(features)
        return 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ConfidenceModel:
        """Build from `to_dict` output.

        Raises:
            ValueError: the lists have different lengths or a scale is not positive.
        """
        names = tuple(str(n) for n in data["features"])
        mean = tuple(float(v) for v in data["mean"])
        scale = tuple(float(v) for v in data["scale"])
        coef = tuple(float(v) for v in data["coef"])
        if not (len(names) == len(mean) == len(scale) == len(coef)):
            raise ValueError("confidence model: features, mean, scale and coef must have the same length")
        if any(s <= 0 for s in scale):
            raise ValueError("confidence model: every scale must be positive")
        return cls(names, mean, scale, coef, float(data["intercept"]), dict(data.get("meta", {})))

    def save(self, path: Path = MODEL_PATH) -> Path:
        """Write the model as JSON; returns the path."""
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> ConfidenceModel:
        """Read a model written by `save`."""
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))


FALLBACK_MODEL = ConfidenceModel(
    features=("dense_top", "coverage", "unknown_terms"),
    mean=(0.5, 0.5, 0.1),
    scale=(0.15, 0.3, 0.2),
    coef=(2.5, 1.0, -1.0),
    intercept=0.0,
    meta={"note": "hand-set fallback used only when confidence_model.json is missing"},
)
"""Used when no fitted model file exists (a fresh checkout before `gtm kb calibrate`)."""


@lru_cache(maxsize=4)
def _load_cached(path: str, mtime: float) -> ConfidenceModel:
    return ConfidenceModel.load(Path(path))


def load_model(path: Path = MODEL_PATH) -> ConfidenceModel:
    """The fitted model at `path` (re-read when the file changes), or `FALLBACK_MODEL` if there is none."""
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return FALLBACK_MODEL
    return _load_cached(str(path), mtime)


def fit(
    rows: Sequence[Mapping[str, float]],
    labels: Sequence[bool],
    features: Sequence[str],
    *,
    c: float = 1.0,
    meta: Mapping[str, Any] | None = None,
) -> ConfidenceModel:
    """Fit the logistic regression on feature rows and answerable labels.

    Args:
        rows: One feature mapping per question.
        labels: True where the question is answerable from the knowledge base.
        features: Which features to use, in order.
        c: Inverse L2 regularisation strength.
        meta: Free-form notes stored with the model.

    Returns:
        The fitted model.

    Raises:
        ValueError: fewer than two classes, or rows and labels differ in length.
    """
    from sklearn.linear_model import LogisticRegression

    if len(rows) != len(labels):
        raise ValueError(f"{len(rows)} feature rows but {len(labels)} labels")
    y = np.asarray(labels, dtype=bool)
    if y.all() or not y.any():
        raise ValueError("calibration needs both answerable and unanswerable questions")
    x = np.asarray([[float(r.get(name, 0.0)) for name in features] for r in rows], dtype=np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    clf = LogisticRegression(C=c, max_iter=5000)
    clf.fit((x - mean) / scale, y)
    return ConfidenceModel(
        features=tuple(features),
        mean=tuple(float(v) for v in mean),
        scale=tuple(float(v) for v in scale),
        coef=tuple(float(v) for v in clf.coef_[0]),
        intercept=float(clf.intercept_[0]),
        meta=dict(meta or {}),
    )


def expected_calibration_error(probs: Sequence[float], labels: Sequence[bool], bins: int = 10) -> float:
    """Expected calibration error: the sample-weighted mean |accuracy − confidence| over equal-width bins."""
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if p.size == 0:
        return 0.0
    index = np.minimum((p * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            error += mask.sum() / p.size * abs(y[mask].mean() - p[mask].mean())
    return float(error)


_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?(?:\s*:?-{3,}:?\s*\|)+(?:\s*:?-{3,}:?\s*)?$")


def _cells(row: str) -> list[str]:
    return [cell.strip() for cell in row.strip().strip("|").split("|")]


def table_blocks(text: str) -> list[str | tuple[list[str], list[list[str]]]]:
    """The text's lines, with each markdown table as one `(header cells, row cells)` block in their place."""
    lines = text.split("\n")
    out: list[str | tuple[list[str], list[list[str]]]] = []
    i = 0
    while i < len(lines):
        if i + 1 < len(lines) and _TABLE_ROW.match(lines[i]) and _TABLE_RULE.match(lines[i + 1]):
            header = _cells(lines[i])
            rows: list[list[str]] = []
            i += 2
            while i < len(lines) and _TABLE_ROW.match(lines[i]):
                rows.append(_cells(lines[i]))
                i += 1
            out.append((header, rows))
            continue
        out.append(lines[i])
        i += 1
    return out


def row_sentence(header: Sequence[str], cells: Sequence[str]) -> str:
    """One table row as a sentence, each cell after its column's header ("" for a row of empty cells)."""
    pairs = [f"{h}: {c}" if h else c for h, c in zip(header, cells, strict=False) if c]
    return "; ".join(pairs).rstrip(".") + "." if pairs else ""


def unfold_tables(text: str) -> str:
    """Markdown tables as one sentence per row, each cell after its column's header.

    "| Sensor | Batteries |" over "| Lumio Sense | 1 × CR123A |" reads "Sensor: Lumio Sense; Batteries: 1 × CR123A."
    A header row on its own answers nothing ("Monthly uptime | Service credit"), and a row's cells mean little
    without their headers, so the row that answers is quoted with what its cells are.
    """
    if "|" not in text:
        return text
    out: list[str] = []
    for block in table_blocks(text):
        if isinstance(block, str):
            out.append(block)
        else:
            header, rows = block
            out.extend(sentence for cells in rows if (sentence := row_sentence(header, cells)))
    return "\n".join(out)


def _sentences(text: str) -> list[str]:
    """Sentences of an answer or passage, without citations, list markers and sign-offs (tables unfolded)."""
    cleaned = _CITATION.sub("", unfold_tables(text))
    out = []
    for piece in _SENTENCE.split(cleaned):
        sentence = piece.strip().lstrip("-*•>#|0123456789. ").strip()
        if len(sentence) >= 12 and not _BOILERPLATE.match(sentence):
            out.append(sentence)
    return out


split_sentences = _sentences
"""Public name of the sentence splitter (the offline writer uses it, so cached vectors are shared)."""


def _numbers(text: str) -> set[str]:
    return {n.strip("$€£%").replace(",", "") for n in _NUMBER.findall(text)}


def answer_support(
    answer: str,
    passages: Sequence[Any],
    encoder: TextEncoder | None = None,
    *,
    low: float = 0.45,
    high: float = 0.7,
) -> float:
    """How well a drafted answer is supported by the passages, in [0, 1].

    Each answer sentence scores by its best cosine to any passage sentence, mapped linearly from
    `low` (0) to `high` (1); a sentence whose terms all occur in one passage counts as fully supported,
    and a sentence with a number that appears in no passage counts as unsupported (invented figures
    are the costliest mistake). The result is the mean over the answer's sentences.

    Args:
        answer: The drafted answer.
        passages: Retrieved passages (objects with a `text` attribute, or strings).
        encoder: Embedding model (default: the process-wide MiniLM).
        low: Cosine at or below which a sentence counts as unsupported.
        high: Cosine at or above which a sentence counts as supported.

    Returns:
        1.0 when every sentence is backed by the passages; 0.0 when none is (or there are no passages).
        An answer with no checkable sentence (e.g. only "Was this helpful?") scores 1.0.
    """
    texts = [p if isinstance(p, str) else str(getattr(p, "text", "")) for p in passages]
    claims = _sentences(answer)
    if not claims:
        return 1.0
    sources = [s for text in texts for s in _sentences(text)]
    if not sources:
        return 0.0
    source_numbers = set().union(*(_numbers(t) for t in texts))
    passage_terms = [set(tokenize(t)) for t in texts]
    scores: list[float | None] = []  # None: decided by its cosine below
    for claim in claims:
        terms = set(tokenize(claim))
        if not _numbers(claim) <= source_numbers:
            scores.append(0.0)
        elif terms and any(terms <= found for found in passage_terms):
            scores.append(1.0)
        else:
            scores.append(None)
    open_rows = [row for row, score in enumerate(scores) if score is None]
    cosine_scores: dict[int, float] = {}
    if open_rows:  # an extractive draft rarely has one: then nothing is encoded at all
        if encoder is None:
            from app.embeddings import get_embedder

            encoder = get_embedder()
        encode = getattr(encoder, "encode_cached", encoder.encode)  # passage sentences recur across questions
        vectors = encode([claims[row] for row in open_rows] + sources)
        best = (vectors[: len(open_rows)] @ vectors[len(open_rows) :].T).max(axis=1)
        for row, cosine in zip(open_rows, best.tolist(), strict=True):
            cosine_scores[row] = min(1.0, max(0.0, (cosine - low) / (high - low)))
    return float(np.mean([cosine_scores[row] if score is None else score for row, score in enumerate(scores)]))


def combine(retrieval_conf: float, support: float) -> float:
    """Final confidence from the retrieval confidence and the answer's support.

    Support of `SUPPORT_FULL` or more keeps the retrieval confidence; below that it scales down in
    proportion (an answer only half backed by its passages keeps two thirds of it), so a well-retrieved
    question with a poorly grounded draft still escalates at the 0.7 threshold.
    """
    r = min(1.0, max(0.0, retrieval_conf))
    s = min(1.0, max(0.0, support))
    return r * min(1.0, s / SUPPORT_FULL)
