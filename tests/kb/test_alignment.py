"""Token alignment (`app.kb.alignment`) with the real MiniLM word-piece vectors."""

from __future__ import annotations

import numpy as np
import pytest

from app.embeddings import Embedder
from app.kb.alignment import PieceIdf, count_piece_idf, passage_text, token_recall

SHIPPING = passage_text(
    "Shipping and delivery",
    "Options and prices",
    "The standard shipping takes 3-5 business days and is free on orders over $500, otherwise $15. "
    "Express shipping takes 1-2 business days and costs $35.",
)


@pytest.fixture
def idf(embedder: Embedder) -> PieceIdf:
    corpus = [SHIPPING, "The refund is paid within 30 days.", "The invoice is emailed.", "The SSO works with Okta."]
    return count_piece_idf(embedder, corpus)


def test_token_vectors_are_normalised_word_pieces_without_special_tokens(embedder: Embedder) -> None:
    [(ids, vectors)] = embedder.token_vectors(["express shipping"])
    assert ids.tolist() == embedder.token_ids(["express shipping"])[0]
    assert embedder._model.tokenizer.convert_ids_to_tokens(ids.tolist()) == ["express", "shipping"]
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors.astype(np.float32), axis=1), 1.0, atol=1e-3)


def test_idf_weights_rare_pieces_above_common_ones(embedder: Embedder, idf: PieceIdf) -> None:
    [ids] = embedder.token_ids(["the shipping fedramp"])
    the, shipping, *unseen = idf.weights(np.asarray(ids))
    assert the < shipping < min(unseen)  # "the" is in every chunk, "shipping" in one, "fedramp" in none


def test_recall_is_high_when_the_passage_holds_the_answer(embedder: Embedder, idf: PieceIdf) -> None:
    answered = token_recall("how much does express shipping cost", SHIPPING, embedder, idf)
    paraphrased = token_recall("what's the price of fast delivery", SHIPPING, embedder, idf)
    off_focus = token_recall("is shipping carbon neutral or offset", SHIPPING, embedder, idf)
    unrelated = token_recall("is Lumio FedRAMP authorized", SHIPPING, embedder, idf)
    assert answered > 0.7
    assert answered > paraphrased > off_focus > unrelated
    assert token_recall("", SHIPPING, embedder, idf) == 0.0
