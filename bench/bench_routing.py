"""Routing latency with the model already loaded: p50/p95 over 500 calls (goal: decide_route p50 ≤ 15 ms).

Run: .venv/bin/python bench/bench_routing.py [--calls 500]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _routing_common import load_embedder

from graph.routing import adecide_route, decide_route, keyword_scores, load_default, load_examples


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {p50 * 1000:6.2f} ms   p95 {p95 * 1000:6.2f} ms   max {ordered[-1] * 1000:6.2f} ms"


def timed(calls: int, texts: list[str], run: Callable[[str], object]) -> list[float]:
    samples = []
    for index in range(calls):
        text = texts[index % len(texts)]
        started = time.perf_counter()
        run(text)
        samples.append(time.perf_counter() - started)
    return samples


async def timed_async(calls: int, texts: list[str], classifier: object) -> list[float]:
    samples = []
    for index in range(calls):
        started = time.perf_counter()
        await adecide_route(texts[index % len(texts)], classifier)  # type: ignore[arg-type]
        samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--torch-threads", type=int, default=0, help="torch.set_num_threads (0: leave the default)")
    args = parser.parse_args()
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)

    embedder = load_embedder()
    started = time.perf_counter()
    classifier = load_default(embedder)
    print(f"classifier built in {time.perf_counter() - started:.2f} s")
    texts = [example.text for example in load_examples("eval")]
    for text in texts[:20]:  # warm-up
        decide_route(text, classifier)

    import torch

    print(f"{args.calls} calls over {len(texts)} distinct eval requests (torch threads: {torch.get_num_threads()}):")
    print(f"  keyword_scores       {percentiles(timed(args.calls, texts, keyword_scores))}")
    print(f"  classifier.predict   {percentiles(timed(args.calls, texts, classifier.predict))}")
    print(f"  decide_route         {percentiles(timed(args.calls, texts, lambda t: decide_route(t, classifier)))}")
    print(f"  adecide_route        {percentiles(asyncio.run(timed_async(args.calls, texts, classifier)))}")


if __name__ == "__main__":
    main()
