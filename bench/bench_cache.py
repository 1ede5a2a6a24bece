"""The analytics cache: the weekly report's tools cold vs warm, and get latency per cache level.

1. Weekly report tools (`graph.nodes.parallel.REPORT_TASKS`, called through the real tools on a fresh demo
   company): cold (empty cache: every tool computes from the database), warm L1 (same process), warm L2
   (a new process's empty L1, answered by Redis) and warm L3 (Redis off, answered by the database).
2. `TieredCache.get` latency p50/p95 for a tool-sized JSON value at each level.

Redis: a private `redis-server` on a free loopback port (the shared one is never touched), or `--redis URL`.
Timings on a loaded machine are indicative only.

Run: .venv/bin/python bench/bench_cache.py [--customers 2000] [--samples 300] [--redis redis://...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.cache.tiered import TieredCache
from app.cache.tools import cache_for, reset_caches
from app.data.db import get_engine, init_db
from app.data.seed import seed_demo
from app.settings import Settings
from graph.nodes.parallel import REPORT_TASKS
from graph.tools.registry import build_tools


@contextmanager
def private_redis(url: str | None) -> Iterator[str]:
    """`url` as given, or a fresh `redis-server` on a free port for the duration of the block."""
    if url:
        yield url
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    binary = shutil.which("redis-server") or "redis-server"
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.kill()
        proc.wait()


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of `values`, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def run_report_tools(settings: Settings, engine: Any) -> dict[str, float]:
    """Seconds per report tool (and the total), called the way the report's branches call them."""
    tools = build_tools(engine, settings)
    times: dict[str, float] = {}
    for agent, tasks in REPORT_TASKS.items():
        for name, args in tasks:
            tool = next(t for t in tools[agent] if t.name == name)
            started = time.perf_counter()
            await tool.ainvoke(args)
            times[name] = time.perf_counter() - started
    times["total"] = sum(times.values())
    return times


def latency(fn: Callable[[], Any], samples: int) -> dict[str, float]:
    """p50/p95 in milliseconds of `fn()`."""
    values = []
    for _ in range(samples):
        started = time.perf_counter()
        fn()
        values.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(statistics.median(values), 3), "p95_ms": round(percentile(values, 0.95), 3)}


async def main(customers: int, samples: int, redis_url: str | None) -> dict[str, Any]:
    """Every measurement, as one JSON-able dict."""
    with tempfile.TemporaryDirectory() as tmp, private_redis(redis_url) as url:
        db = f"sqlite:///{Path(tmp) / 'business.db'}"
        engine = get_engine(db)
        init_db(engine)
        seed_demo(engine, customers=customers, seed=42)
        settings = Settings(home=Path(tmp), database_url=db, llm_provider="offline", redis_url=url)

        await run_report_tools(settings.model_copy(update={"cache_enabled": False}), engine)  # imports, JIT
        cold = await run_report_tools(settings, engine)
        warm_l1 = await run_report_tools(settings, engine)
        reset_caches()  # a new process: empty L1, Redis and the database still warm
        warm_l2 = await run_report_tools(settings, engine)
        reset_caches()
        down = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0", "cache_l2_backoff_s": 3600.0})
        warm_l3 = await run_report_tools(down, engine)  # Redis unreachable: the breaker opens, L3 answers
        stats = dict(cache_for(engine, down).stats)  # type: ignore[union-attr]

        value = await build_tools(engine, settings)["insights"][0].ainvoke({})  # rfm_segments: a real payload
        size = len(json.dumps(value))
        l1 = TieredCache()
        l1.set("k", value)
        l2 = TieredCache(redis_url=url)
        l2.set("k", value)
        l3 = TieredCache(engine=engine)
        l3.set("k", value)

        def from_l2() -> Any:
            l2.clear_local()
            return l2.get("k")

        def from_l3() -> Any:
            l3.clear_local()
            return l3.get("k")

        levels = {
            "l1": latency(lambda: l1.get("k"), samples),
            "l2": latency(from_l2, samples),
            "l3": latency(from_l3, samples),
        }
        reset_caches()

    def rounded(times: dict[str, float]) -> dict[str, float]:
        return {k: round(v, 4) for k, v in times.items()}

    return {
        "customers": customers,
        "report_tools_s": {
            "cold": rounded(cold),
            "warm_l1": rounded(warm_l1),
            "warm_l2": rounded(warm_l2),
            "warm_l3_redis_down": rounded(warm_l3),
        },
        "speedup_warm_l1": round(cold["total"] / warm_l1["total"], 1),
        "redis_down_stats": {f"{lvl}:{res}": n for (lvl, res), n in stats.items()},
        "get_latency": {"value_bytes": size, **levels},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--redis", default=None, help="use this Redis instead of starting a private one")
    ns = parser.parse_args()
    result = asyncio.run(main(ns.customers, ns.samples, ns.redis))
    out = Path(__file__).parent / "results" / "bench_cache.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
