"""Offline latency of the graph: routing p50/p95 and end-to-end p50/p95 per route.

Goals on this 2-core machine, models already loaded: routing p50 ≤ 15 ms; offline support answer
p50 ≤ 50 ms and p95 ≤ 150 ms. Uses a fresh GTM_HOME in a temporary folder (seeded demo data, the
project's knowledge base ingested) and the real SQLite checkpointer.

Run: .venv/bin/python bench/bench_graph.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from app.runtime import Copilot
from app.services import build_services
from app.settings import REPO_ROOT, Settings

ROUTE_REQUESTS = {
    "support": [
        "How long do I have to return a sensor?",
        "Does the Growth plan include SSO?",
        "What is the API rate limit on Starter?",
    ],
    "finance": ["What was our CAC last quarter?", "What is our runway?", "forecast revenue for 6 months"],
    "marketing": ["How did our channels perform in the last 30 days?"],
    "insights": ["Segment customers with RFM", "who is likely to churn"],
    "parallel": ["give me the weekly report"],
    "sequential:insights,marketing,finance": ["launch a win-back campaign for churned customers"],
}
ROUTING_REQUESTS = [r for rs in ROUTE_REQUESTS.values() for r in rs] + [
    "How long do I have to return a sensor?",
    "Does the Growth plan include SSO?",
    "which ads bring the cheapest customers",
    "draft a note to accounts that went quiet",
    "is there a discount for schools",
    "how much cash do we burn each month",
    "put together an exec summary across all teams",
    "what share of March signups came back in April",
]


def routing_texts() -> list[str]:
    """Distinct requests: the routing evaluation set (not the support questions timed later, so their
    embeddings are not cached before the end-to-end runs)."""
    path = REPO_ROOT / "graph" / "routing" / "data" / "eval.jsonl"
    rows = [json.loads(line)["text"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return list(dict.fromkeys(rows + ROUTING_REQUESTS))


def support_questions(n: int) -> list[str]:
    """Distinct real support questions (the held-out evaluation set), so no answer is served from a cache."""
    path = REPO_ROOT / "bench" / "data" / "support" / "questions_test.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["question"] for r in rows][:n]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def main(runs: int) -> None:
    from app.data.seed import seed_demo

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp), kb_dir=REPO_ROOT / "knowledge_base", llm_provider="offline")
        services = build_services(settings)
        t0 = time.perf_counter()
        seed_demo(services.extras["engine"], customers=2000)
        t_seed = time.perf_counter() - t0
        from app.kb.service import get_knowledge_base

        t0 = time.perf_counter()
        get_knowledge_base(settings).ingest()
        t_ingest = time.perf_counter() - t0
        async with Copilot.open(settings, services=services) as copilot:
            t0 = time.perf_counter()
            await copilot.warm_up()  # what the server does at start-up
            await copilot.wait_warm()
            await copilot.warm_after_ready()  # what the server does next, in the background
            t_warm = time.perf_counter() - t0
            router = services.router
            assert router is not None
            routing = []
            for text in routing_texts():  # each text once: no embedding served from a cache
                t = time.perf_counter()
                await router(text, None)
                routing.append((time.perf_counter() - t) * 1000)
            print(
                f"setup: seed 2,000 customers {t_seed:.1f}s, KB ingest {t_ingest:.1f}s, warm-up (models, index, sentence and passage vectors) {t_warm:.1f}s"
            )
            print(
                f"\nrouting  n={len(routing)}  p50 {pct(routing, 0.5):.1f} ms  p95 {pct(routing, 0.95):.1f} ms  (goal p50 ≤ 15 ms)"
            )
            print("\nend-to-end, offline model, SQLite checkpointer")
            print(f"{'route':40s} {'n':>4s} {'p50 ms':>8s} {'p95 ms':>8s}")
            for route, texts in ROUTE_REQUESTS.items():
                n = runs * (5 if route == "support" else 1)
                if route == "support":
                    texts = support_questions(n)  # every question distinct: no warm query cache
                times, misrouted = [], 0
                for i in range(n):
                    text = texts[i % len(texts)]
                    t = time.perf_counter()
                    result = await copilot.ask(text)
                    if result.route != route:  # timed with the route it took, not this one
                        misrouted += 1
                        continue
                    times.append((time.perf_counter() - t) * 1000)
                note = f"  ({misrouted} routed elsewhere, not timed)" if misrouted else ""
                print(f"{route:40s} {len(times):4d} {pct(times, 0.5):8.1f} {pct(times, 0.95):8.1f}{note}")
            print("\ngoals: support p50 ≤ 50 ms, p95 ≤ 150 ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per route (support gets 5x)")
    asyncio.run(main(parser.parse_args().runs))
