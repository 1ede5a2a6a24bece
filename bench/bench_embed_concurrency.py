"""Benchmark: embedding latency per request for 1 vs N concurrent callers, with and without micro-batching.

Each caller encodes short support questions one at a time (each text distinct, so no cache answers it),
as the support path does for a question. With micro-batching (the default), requests that arrive while
the model is busy share one forward pass; `--compare` also runs the old behaviour (every request takes
the model lock on its own, `MERGE_MAX_TEXTS = 0`) and prints the speed-up.

Run: .venv/bin/python bench/bench_embed_concurrency.py [--callers 10] [--requests 20] [--compare]
Run on a quiet machine: the figures are CPU-bound.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support_questions import QUESTIONS  # noqa: E402

import app.embeddings as embeddings  # noqa: E402

_counter = iter(range(10**9))
_counter_lock = threading.Lock()


def _question() -> str:
    with _counter_lock:
        n = next(_counter)
    return f"{QUESTIONS[n % len(QUESTIONS)]} (#{n})"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(embedder: embeddings.Embedder, callers: int, requests: int) -> dict[str, float]:
    """`callers` threads, each encoding `requests` questions back to back; latency per request in ms."""
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(callers)

    def caller() -> None:
        barrier.wait()
        for _ in range(requests):
            text = _question()
            started = time.perf_counter()
            embedder.encode([text])
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)

    passes = embedder.stats.forward_passes
    started = time.perf_counter()
    threads = [threading.Thread(target=caller) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {
        "p50": statistics.median(latencies),
        "p95": _percentile(latencies, 0.95),
        "per_s": len(latencies) / wall,
        "passes": embedder.stats.forward_passes - passes,
        "requests": len(latencies),
    }


def show(label: str, figures: dict[str, float]) -> None:
    """One line of results."""
    print(
        f"  {label:<34} p50 {figures['p50']:7.1f} ms · p95 {figures['p95']:7.1f} ms · "
        f"{figures['per_s']:6.1f} requests/s · {figures['requests']:.0f} requests in {figures['passes']:.0f} passes",
        flush=True,
    )


def main(callers: int, requests: int, compare: bool) -> None:
    """Load the model, warm it, then measure 1 and `callers` concurrent callers (and unbatched with `compare`)."""
    embedder = embeddings.get_embedder()
    run(embedder, 1, 10)  # warm-up
    modes = [("micro-batching", embeddings.MERGE_MAX_TEXTS)]
    if compare:
        modes.append(("one request per pass (before)", 0))
    results: dict[str, dict[int, dict[str, float]]] = {}
    for label, limit in modes:
        embeddings.MERGE_MAX_TEXTS = limit
        print(f"{label}:")
        results[label] = {}
        for n in (1, callers):
            results[label][n] = run(embedder, n, requests)
            show(f"{n} caller{'s' if n > 1 else ''}", results[label][n])
    batched = results["micro-batching"]
    print(f"\n{callers} callers vs 1 with micro-batching: p50 ×{batched[callers]['p50'] / batched[1]['p50']:.2f}")
    if compare:
        before = results["one request per pass (before)"]
        print(
            f"{callers} callers, micro-batching vs before: p50 {before[callers]['p50']:.0f} → "
            f"{batched[callers]['p50']:.0f} ms (×{before[callers]['p50'] / batched[callers]['p50']:.2f}), "
            f"p95 {before[callers]['p95']:.0f} → {batched[callers]['p95']:.0f} ms, throughput "
            f"×{batched[callers]['per_s'] / before[callers]['per_s']:.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=10, help="concurrent callers (default 10)")
    parser.add_argument("--requests", type=int, default=20, help="requests per caller (default 20)")
    parser.add_argument("--compare", action="store_true", help="also run without micro-batching")
    args = parser.parse_args()
    main(args.callers, args.requests, args.compare)
