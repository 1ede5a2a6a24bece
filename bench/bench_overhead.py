"""The graph's overhead over a simulated hosted model (0.5 s per call): goal ≤ 5 % of end-to-end time.

Every agent uses `OfflineChatModel` with `offline_latency_s=0.5`, so each model call waits 0.5 s as a
hosted model would, then writes its answer. `--runs` requests per route go through `Copilot.ask` (the
compiled graph, as the server runs it), once with `InMemorySaver` and once with the SQLite saver.

Definitions, per request:
- end-to-end: wall time of `Copilot.ask` (routing, nodes, tools, checkpoints, monitoring, the answer);
- model time: the time covered by at least one model call (the union of the calls' intervals, so the
  four concurrent agents of the weekly report are not counted four times). It includes the offline
  model's own work after the 0.5 s wait (tool choice by embedding, writing the answer), which stands
  in for what the hosted model does;
- overhead = end-to-end − model time, i.e. everything outside model calls: routing, graph
  bookkeeping, tools (analytics, retrieval), checkpoint writes and request monitoring;
- share = overhead / end-to-end. The goal is share ≤ 5 %.
A stricter second figure counts only the simulated wait as the model's: overhead_strict =
end-to-end − the union of the 0.5 s waits (so the offline model's own compute is overhead too).

Run: .venv/bin/python bench/bench_overhead.py [--runs 10] [--latency 0.5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from app.runtime import Copilot
from app.services import build_services
from app.settings import REPO_ROOT, Settings
from graph.llm.offline import OfflineChatModel

GOAL_SHARE = 0.05
ROUTE_REQUESTS = {
    "finance": ["What was our CAC last quarter?", "What is our runway?", "What is our LTV to CAC ratio?"],
    "insights": ["Segment customers with RFM", "Which customers are likely to churn?"],
    "marketing": ["How did our channels perform in the last 30 days?", "Which channel has the best ROAS?"],
    "support": ["How long do I have to return a sensor?", "Does the Growth plan include SSO?"],
    "parallel": ["give me the weekly report"],
}
"""Requests per route (none waits for a reviewer or an approval)."""

Interval = tuple[float, float]


class CallClock:
    """Records the interval of every `OfflineChatModel` call (the class's async generate and stream)."""

    def __init__(self, latency_s: float) -> None:
        """Nothing recorded yet."""
        self.latency_s = latency_s
        self.calls: list[Interval] = []

    def reset(self) -> None:
        """Forget the recorded calls."""
        self.calls = []

    @asynccontextmanager
    async def installed(self) -> AsyncIterator[CallClock]:
        """Wrap the model's `_agenerate` and `_astream` while the block runs."""
        original_generate = OfflineChatModel._agenerate
        original_stream = OfflineChatModel._astream
        clock = self

        async def timed_generate(model: OfflineChatModel, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original_generate(model, *args, **kwargs)
            finally:
                clock.calls.append((started, time.perf_counter()))

        async def timed_stream(model: OfflineChatModel, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            started = time.perf_counter()
            try:
                async for chunk in original_stream(model, *args, **kwargs):
                    yield chunk
            finally:
                clock.calls.append((started, time.perf_counter()))

        OfflineChatModel._agenerate = timed_generate  # type: ignore[method-assign]
        OfflineChatModel._astream = timed_stream  # type: ignore[assignment,method-assign]
        try:
            yield self
        finally:
            OfflineChatModel._agenerate = original_generate  # type: ignore[method-assign]
            OfflineChatModel._astream = original_stream  # type: ignore[method-assign]


def union_length(intervals: list[Interval]) -> float:
    """Total length covered by at least one interval."""
    total, end = 0.0, float("-inf")
    for start, stop in sorted(intervals):
        if stop <= end:
            continue
        total += stop - max(start, end)
        end = stop
    return total


def pct(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * (len(ordered) - 1)))))]


async def measure(copilot: Copilot, clock: CallClock, runs: int) -> dict[str, dict[str, float]]:
    """Per route: p50 end-to-end, model time, overhead, shares and calls per request."""
    out: dict[str, dict[str, float]] = {}
    for route, texts in ROUTE_REQUESTS.items():
        await copilot.ask(texts[0])  # first use of the route's tools and prompts: not timed
        rows: list[dict[str, float]] = []
        misrouted = 0
        for i in range(runs):
            clock.reset()
            started = time.perf_counter()
            result = await copilot.ask(texts[i % len(texts)])
            total = time.perf_counter() - started
            if result.route != route:
                misrouted += 1
                continue
            model = union_length(clock.calls)
            waits = union_length([(s, min(e, s + clock.latency_s)) for s, e in clock.calls])
            rows.append(
                {
                    "total": total,
                    "model": model,
                    "overhead": total - model,
                    "share": (total - model) / total,
                    "strict_share": (total - waits) / total,
                    "calls": float(len(clock.calls)),
                }
            )
        out[route] = {key: pct([r[key] for r in rows], 0.5) for key in rows[0]} if rows else {}
        out[route]["n"] = float(len(rows))
        out[route]["misrouted"] = float(misrouted)
    return out


def report(title: str, figures: dict[str, dict[str, float]]) -> None:
    """Print one table."""
    print(f"\n{title}")
    print(
        f"{'route':10s} {'n':>3s} {'calls':>5s} {'e2e p50':>8s} {'model':>7s} {'overhead':>9s} {'share':>6s} "
        f"{'strict':>7s}  goal share ≤ {GOAL_SHARE:.0%}"
    )
    for route, f in figures.items():
        if not f.get("n"):
            print(f"{route:10s}   0  (every request routed elsewhere)")
            continue
        verdict = "OK" if f["share"] <= GOAL_SHARE else "MISSED"
        print(
            f"{route:10s} {f['n']:3.0f} {f['calls']:5.0f} {f['total']:7.2f}s {f['model']:6.2f}s "
            f"{f['overhead'] * 1000:7.0f}ms {f['share']:6.1%} {f['strict_share']:7.1%}  {verdict}"
            + (f" ({f['misrouted']:.0f} routed elsewhere, not timed)" if f["misrouted"] else "")
        )


async def main(runs: int, latency_s: float) -> None:
    """Seed a fresh home, then measure with each checkpointer."""
    from app.data.seed import seed_demo
    from app.kb.service import get_knowledge_base

    with tempfile.TemporaryDirectory(prefix="gtm-bench-overhead-") as tmp:
        settings = Settings(
            home=Path(tmp),
            kb_dir=REPO_ROOT / "knowledge_base",
            llm_provider="offline",
            offline_latency_s=latency_s,
        )
        services = build_services(settings)
        seed_demo(services.extras["engine"], customers=2000)
        get_knowledge_base(settings).ingest()
        clock = CallClock(latency_s)
        savers: list[tuple[str, Callable[[], Any]]] = [("InMemorySaver", InMemorySaver), ("SQLite saver", lambda: None)]
        async with clock.installed():
            for name, make in savers:
                async with Copilot.open(settings, services=services, checkpointer=make()) as copilot:
                    await copilot.warm_up()
                    await copilot.wait_warm()
                    figures = await measure(copilot, clock, runs)
                report(
                    f"{name}: offline model with {latency_s:g} s per call, {runs} requests per route (p50s)", figures
                )
    print(f"\nload average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPU(s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="requests per route and checkpointer (default 10)")
    parser.add_argument("--latency", type=float, default=0.5, help="simulated seconds per model call (default 0.5)")
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.latency))
