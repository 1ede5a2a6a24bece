"""Okapi BM25 keyword retrieval over chunk texts, as a sparse matrix so one query costs a few column sums.

Tokens are lower-cased runs of letters (of any script, accents folded: `política` → `politica`) or of digits
(`soc2` → `soc`, `2`, like `SOC 2`) without English stop words, reduced by a light suffix stemmer (plurals,
`-ing`, `-ed`) so "refunds", "refunded" and "refund" meet. Scores use the Lucene IDF
`log(1 + (N - df + 0.5) / (df + 0.5))`, so they are never negative.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy import sparse

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her here
    hers herself him himself his how i if in into is it its itself just me more most my myself no nor not of off
    on once only or other our ours ourselves out over own same she should so some such than that the their theirs
    them themselves then there these they this those through to too under until up very was we were what when
    where which while who whom why will with would you your yours yourself yourselves i'm can't don't doesn't
    isn't let's get got also us via per please thanks""".split()
)
"""English function words that carry no topic (kept small: domain words such as `not` matter little here)."""

_WORD = re.compile(r"[^\W\d_]+|\d+")
"""A run of letters (any script) or of digits."""


def _words(text: str) -> list[tuple[str, str]]:
    """Each word of `text` as written (lower-cased) and as a token (accents folded, so `política` is `politica`)."""
    out = []
    for word in _WORD.findall(text.lower()):
        if word.isascii():
            out.append((word, word))
        else:  # `é` → `e` + a combining accent; `₂` → `2`, a token of its own as in `co2`
            folded = "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))
            out.extend((word, token) for token in _WORD.findall(folded))
    return out


def stem(word: str) -> str:
    """A light English suffix stemmer: enough to match plural, `-ing` and `-ed` forms."""
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith("ing") and len(word) > 5:
        return word[:-3]
    if word.endswith("ed") and len(word) > 4 and not word.endswith("eed"):
        return word[:-2]
    if word.endswith("es") and word[-3] in "sxz" and len(word) > 4:
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokenize(text: str) -> list[str]:
    """Lower-case, split into letter and digit runs, drop stop words, stem."""
    return [stem(token) for _, token in _words(text) if token not in STOPWORDS]


def term_words(text: str) -> dict[str, str]:
    """Each term `tokenize` finds in `text`, with the first word it came from (to show terms as written)."""
    words: dict[str, str] = {}
    for word, token in _words(text):
        if token not in STOPWORDS:
            words.setdefault(stem(token), word)
    return words


class BM25Index:
    """BM25 scores of a query against a fixed list of texts."""

    def __init__(self, texts: Sequence[str], *, k1: float = 1.2, b: float = 0.75) -> None:
        """Index `texts` (one per chunk, in the order scores are returned)."""
        self.k1 = k1
        self.b = b
        self.size = len(texts)
        vocabulary: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        counts: list[float] = []
        lengths = np.zeros(self.size, dtype=np.float64)
        for row, text in enumerate(texts):
            tokens = tokenize(text)
            lengths[row] = len(tokens)
            for token, count in Counter(tokens).items():
                rows.append(row)
                cols.append(vocabulary.setdefault(token, len(vocabulary)))
                counts.append(count)
        self.vocabulary = vocabulary
        tf = np.asarray(counts, dtype=np.float64)
        row_idx = np.asarray(rows, dtype=np.int64)
        col_idx = np.asarray(cols, dtype=np.int64)
        df = np.bincount(col_idx, minlength=len(vocabulary)).astype(np.float64)
        self.idf: NDArray[np.float64] = np.log1p((self.size - df + 0.5) / (df + 0.5))
        avg = float(lengths.mean()) if self.size else 0.0
        norm = k1 * (1.0 - b + b * lengths / avg) if avg else np.full(self.size, k1)
        weights = self.idf[col_idx] * tf * (k1 + 1.0) / (tf + norm[row_idx])
        self._matrix = sparse.csc_matrix((weights, (row_idx, col_idx)), shape=(self.size, len(vocabulary)))

    def term_ids(self, query: str) -> list[int]:
        """Distinct indexed terms of `query` (unknown terms are left out)."""
        seen: dict[int, None] = {}
        for token in tokenize(query):
            term = self.vocabulary.get(token)
            if term is not None:
                seen[term] = None
        return list(seen)

    def scores(self, query: str) -> NDArray[np.float64]:
        """BM25 score of every text for `query` (each distinct query term counted once)."""
        terms = self.term_ids(query)
        if not terms or not self.size:
            return np.zeros(self.size, dtype=np.float64)
        return np.asarray(self._matrix[:, terms].sum(axis=1)).ravel()

    def max_score(self, query: str) -> float:
        """An upper bound of any text's score for `query`: each term's IDF × (k1 + 1)."""
        terms = self.term_ids(query)
        return float(self.idf[terms].sum() * (self.k1 + 1.0)) if terms else 0.0

    def idf_of(self, token: str) -> float | None:
        """IDF of an already tokenized term, or None when no text contains it."""
        term = self.vocabulary.get(token)
        return None if term is None else float(self.idf[term])

    def unseen_idf(self) -> float:
        """The IDF a term would have if exactly one text contained it (used for unknown query terms)."""
        return float(np.log1p((self.size - 0.5) / 1.5)) if self.size else 0.0
