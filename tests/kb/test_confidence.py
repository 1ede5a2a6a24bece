"""The confidence model, calibration error, answer support and BM25 basics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from app.embeddings import Embedder
from app.kb.bm25 import BM25Index, stem, tokenize
from app.kb.confidence import (
    FALLBACK_MODEL,
    MODEL_PATH,
    ConfidenceModel,
    answer_support,
    combine,
    expected_calibration_error,
    fit,
    load_model,
    split_sentences,
    unfold_tables,
)
from app.kb.retrieval import FEATURES


def test_shipped_model_matches_the_features() -> None:
    model = load_model()
    assert model is not FALLBACK_MODEL, "app/kb/confidence_model.json is missing"
    assert model.features == FEATURES
    data = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    assert data["meta"]["fitted_on"].endswith("questions_dev.jsonl")  # never fitted on the test set


def test_fit_save_load_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = [{"dense_top": float(x), "coverage": float(c)} for x, c in rng.uniform(0, 1, size=(200, 2))]
    labels = [r["dense_top"] + 0.3 * r["coverage"] > 0.6 for r in rows]
    model = fit(rows, labels, ("dense_top", "coverage"), c=10.0, meta={"fitted_on": "synthetic"})
    assert model.predict({"dense_top": 0.95, "coverage": 1.0}) > 0.9
    assert model.predict({"dense_top": 0.05, "coverage": 0.0}) < 0.1
    path = model.save(tmp_path / "m.json")
    again = ConfidenceModel.load(path)
    assert again == model and load_model(path) == model
    assert load_model(tmp_path / "missing.json") is FALLBACK_MODEL
    with pytest.raises(ValueError, match="both"):
        fit(rows[:3], [True, True, True], ("dense_top",))
    with pytest.raises(ValueError, match="same length"):
        ConfidenceModel.from_dict({"features": ["a"], "mean": [], "scale": [1.0], "coef": [1.0], "intercept": 0})


def test_expected_calibration_error() -> None:
    assert expected_calibration_error([0.9] * 10, [True] * 9 + [False]) == pytest.approx(0.0)
    assert expected_calibration_error([1.0, 1.0], [False, False]) == pytest.approx(1.0)
    assert expected_calibration_error([0.25, 0.75], [False, True]) == pytest.approx(0.25)
    assert expected_calibration_error([], []) == 0.0


PASSAGES = [
    "Standard shipping takes 3-5 business days and is free on orders over $500, otherwise $15.",
    "Express shipping takes 1-2 business days and costs $35. We do not ship to PO boxes.",
]


def test_answer_support(embedder: Embedder) -> None:
    extractive = "Express shipping takes 1-2 business days and costs $35 [shipping-and-delivery.md]. Was this helpful?"
    assert answer_support(extractive, PASSAGES, embedder) == pytest.approx(1.0)
    paraphrase = "Express delivery arrives in one to two business days for $35."
    assert answer_support(paraphrase, PASSAGES, embedder) > 0.75
    invented_number = "Express shipping costs $99."
    assert answer_support(invented_number, PASSAGES, embedder) == 0.0
    unrelated = "Our CEO founded the company in a garage and loves jazz music."
    assert answer_support(unrelated, PASSAGES, embedder) < 0.3
    assert answer_support("Was this helpful?", PASSAGES, embedder) == 1.0
    assert answer_support(extractive, [], embedder) == 0.0


def test_combine() -> None:
    assert combine(0.9, 1.0) == pytest.approx(0.9)
    assert combine(0.9, 0.8) == pytest.approx(0.9)
    assert combine(0.9, 0.375) == pytest.approx(0.45)
    assert combine(0.95, 0.5) < 0.7
    assert combine(1.5, -1) == 0.0
    assert combine(0.5, 1.0) <= combine(0.8, 1.0)


def test_tokenize_and_stem() -> None:
    assert tokenize("Are you SOC2 compliant?") == ["soc", "2", "compliant"]
    assert stem("refunds") == stem("refund") == "refund"
    assert stem("batteries") == "battery"
    assert tokenize("the and of") == []


def test_bm25_ranks_exact_terms_and_bounds_scores() -> None:
    texts = ["refund policy for annual plans", "shipping to Canada and the EU", "annual shipping report"]
    index = BM25Index(texts)
    scores = index.scores("annual refund")
    assert int(np.argmax(scores)) == 0
    assert scores.max() <= index.max_score("annual refund")
    assert index.scores("").sum() == 0 and index.max_score("zzz") == 0.0
    assert index.idf_of("zzz") is None and index.idf_of("refund") is not None
    assert BM25Index([]).scores("refund").shape == (0,)


def test_answer_support_encodes_only_the_claims_the_passages_do_not_settle(embedder: Embedder) -> None:
    class Counting:
        """Records every text the support check asks to embed."""

        def __init__(self) -> None:
            self.texts: list[str] = []

        def encode(self, texts):  # type: ignore[no-untyped-def]
            self.texts.extend(texts)
            return embedder.encode(texts)

    extractive = "Express shipping takes 1-2 business days and costs $35 [shipping-and-delivery.md]. Was this helpful?"
    counting = Counting()
    assert answer_support(extractive, PASSAGES, counting) == pytest.approx(1.0)
    assert counting.texts == [], "an answer copied from its passages needs no embedding"
    mixed = extractive + " Express delivery arrives in one to two business days for $35. Express shipping costs $99."
    counting = Counting()
    score = answer_support(mixed, PASSAGES, counting)
    assert [t for t in counting.texts if "one to two" in t or "$99" in t] == [
        "Express delivery arrives in one to two business days for $35."
    ], "only the paraphrase needs its cosine (the copied claim is settled by its terms, $99 by its number)"
    paraphrase_alone = answer_support(
        "Express delivery arrives in one to two business days for $35.", PASSAGES, embedder
    )
    assert score == pytest.approx((1.0 + paraphrase_alone + 0.0) / 3)


def test_tables_unfold_into_one_sentence_per_row() -> None:
    text = (
        "Plans at a glance:\n\n"
        "| Plan | Seats | Price |\n| :--- | ---: | --- |\n| Starter | 5 | $49 |\n| Growth | 25 | |\n\n"
        "Prices exclude VAT. A | B pipe in prose | is not a table.\n"
        "| no rule line | below |\n| so | kept |\n"
    )
    assert unfold_tables(text).splitlines()[2:4] == [
        "Plan: Starter; Seats: 5; Price: $49.",
        "Plan: Growth; Seats: 25.",  # an empty cell is left out
    ]
    sentences = split_sentences(text)
    assert "Plan | Seats | Price" not in " ".join(sentences) and ":---" not in " ".join(sentences)
    assert "Prices exclude VAT." in sentences
    assert "no rule line | below |" in sentences  # a pipe row without a header rule is not a table
