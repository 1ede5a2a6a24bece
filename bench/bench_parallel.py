"""Parallel weekly report vs the same work run sequentially, with a simulated LLM latency of 1 s per call.

Every model call goes through the offline model with `latency_s` set: it sleeps `--latency` seconds
before answering (like a hosted LLM's round trip). In the weekly report each of the four branches runs
its agent's tools and then makes one model call (the agent writes its section); the supervisor's
model then writes the report (one more call, in `respond`).

Measured, on a fresh demo company (2,000 customers, real SQLite, real tools):
* each branch alone (`run_branch`, the graph's own node) → the slowest agent;
* the parallel fan-out through the compiled graph (`Send` × 4 → `aggregate`), timed from the
  `parallel` node's update to the `aggregate` node's update;
* the same four branches with `asyncio.gather` outside LangGraph (how much the graph itself adds);
* the same four branches awaited one after another (same code);
* the whole request end to end (routing + fan-out + the report-writing call).

Goals (issue 4): parallel ≤ 1.3 × slowest agent; sequential ≥ 3.5 × parallel.

Both are measured twice: with the analytics cache warm (`app/cache`: the data has not changed since the
last report, so the agents' tools answer from L1 and each branch is its model call — the usual case for a
scheduled weekly report) and with the cache off (every tool recomputes RFM, BG/NBD, cohorts... from the
database; that CPU work shares the GIL, which caps the sequential/parallel ratio).

Run: .venv/bin/python bench/bench_parallel.py [--runs 3] [--latency 1.0] [--customers 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.runtime import Runtime

from app.runtime import Copilot
from app.services import build_services
from app.settings import REPO_ROOT, Settings
from graph.context import Context, Services
from graph.llm.offline import OfflineChatModel
from graph.nodes.parallel import run_branch
from graph.state import AGENTS, AgentName, BranchState

REQUEST = "give me the weekly report"


async def branch(services: Services, agent: AgentName) -> float:
    """One branch of the report, alone (the graph's `run_branch` node, called directly)."""
    runtime: Runtime[Context] = Runtime(context=Context(services=services))
    t0 = time.perf_counter()
    out = await run_branch(BranchState(agent=agent, request=REQUEST), runtime)
    elapsed = time.perf_counter() - t0
    assert out["results"][agent].get("ok"), out
    return elapsed


async def sequential(services: Services) -> float:
    """The four branches awaited one after another."""
    t0 = time.perf_counter()
    for agent in AGENTS:
        await branch(services, agent)
    return time.perf_counter() - t0


async def gathered(services: Services) -> float:
    """The four branches at once with `asyncio.gather`, outside the graph."""
    t0 = time.perf_counter()
    await asyncio.gather(*(branch(services, agent) for agent in AGENTS))
    return time.perf_counter() - t0


async def through_graph(copilot: Copilot) -> tuple[float, float]:
    """The whole request through the compiled graph: (fan-out stage seconds, end-to-end seconds)."""
    context = Context(services=copilot.services)
    config = {"configurable": {"thread_id": f"bench-{time.perf_counter_ns()}"}}
    marks: dict[str, float] = {}
    t0 = time.perf_counter()
    async for update in copilot.graph.astream(
        {"messages": [("user", REQUEST)]}, config, context=context, stream_mode="updates"
    ):
        for node in update:
            marks.setdefault(node, time.perf_counter())
    total = time.perf_counter() - t0
    assert "aggregate" in marks and "parallel" in marks, marks
    state = (await copilot.graph.aget_state(config)).values
    assert state["route"] == "parallel" and not state["results"]["report"]["failed"], state["results"]["report"]
    return marks["aggregate"] - marks["parallel"], total


async def measure(runs: int, latency: float, customers: int, cache: bool) -> dict[str, Any]:
    """One set of measurements, with the analytics cache on (warm after the first report) or off."""
    from app.data.seed import seed_demo

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            home=Path(tmp), kb_dir=REPO_ROOT / "knowledge_base", llm_provider="offline", cache_enabled=cache
        )
        services = build_services(
            settings, model_factory=lambda role, _settings: OfflineChatModel(agent=role, latency_s=latency)
        )
        seed_demo(services.extras["engine"], customers=customers)
        async with Copilot.open(settings, services=services, checkpointer=InMemorySaver()) as copilot:
            await through_graph(copilot)  # warm up: classifier, imports, first fits
            alone: dict[str, list[float]] = {a: [] for a in AGENTS}
            fanout, end_to_end, seq, gather = [], [], [], []
            for _ in range(runs):
                for agent in AGENTS:
                    alone[agent].append(await branch(services, agent))
                stage, total = await through_graph(copilot)
                fanout.append(stage)
                end_to_end.append(total)
                seq.append(await sequential(services))
                gather.append(await gathered(services))

    med = statistics.median
    per_agent = {a: med(v) for a, v in alone.items()}
    slowest_agent = max(per_agent, key=per_agent.__getitem__)
    slowest = per_agent[slowest_agent]
    parallel = med(fanout)
    sequential_s = med(seq)
    result = {
        "cache": "warm" if cache else "off",
        "latency_s": latency,
        "customers": customers,
        "runs": runs,
        "branch_alone_s": per_agent,
        "slowest_agent": slowest_agent,
        "parallel_fanout_s": parallel,
        "sequential_s": sequential_s,
        "gather_outside_graph_s": med(gather),
        "end_to_end_s": med(end_to_end),
        "parallel_over_slowest": parallel / slowest,
        "sequential_over_parallel": sequential_s / parallel,
    }
    # With perfect overlap of the branches' CPU work, the best possible ratio is
    # (4 model calls + Σ tool time) / (1 model call + slowest tool time).
    tools = {a: max(0.0, t - latency) for a, t in per_agent.items()}
    result["ideal_sequential_over_parallel"] = (len(AGENTS) * latency + sum(tools.values())) / (
        latency + max(tools.values())
    )
    mode = (
        "analytics cache warm (data unchanged since the last report: a scheduled weekly run)"
        if cache
        else "analytics cache off (every tool computes from the database)"
    )
    print(f"\n== {mode}")
    print(f"simulated LLM latency {latency:g} s per call · {customers:,} customers · median of {runs} runs\n")
    print("each branch alone (tools + one model call for its section):")
    for agent, seconds in per_agent.items():
        print(f"  {agent:<10s} {seconds:6.2f} s   (tools ≈ {seconds - latency:5.2f} s)")
    print(f"\nparallel fan-out through the graph   {parallel:6.2f} s")
    print(f"asyncio.gather outside the graph     {result['gather_outside_graph_s']:6.2f} s")
    print(f"sequential (same branches, in turn)  {sequential_s:6.2f} s")
    print(f"end to end (routing + fan-out + report-writing call)  {result['end_to_end_s']:.2f} s\n")
    ok1 = "ok" if result["parallel_over_slowest"] <= 1.3 else "MISSED"
    ok2 = "ok" if result["sequential_over_parallel"] >= 3.5 else "MISSED"
    print(f"parallel / slowest agent ({slowest_agent}) = {result['parallel_over_slowest']:.2f}   goal ≤ 1.3  {ok1}")
    print(f"sequential / parallel              = {result['sequential_over_parallel']:.2f}   goal ≥ 3.5  {ok2}")
    print(
        f"  (best possible with these tool times, CPU work perfectly overlapped: "
        f"{result['ideal_sequential_over_parallel']:.2f}; the analytics are CPU-bound and share the GIL)"
    )
    return result


async def main(runs: int, latency: float, customers: int) -> list[dict[str, Any]]:
    """Both cache modes; results also written to `bench/results/bench_parallel.json`."""
    results = [await measure(runs, latency, customers, cache) for cache in (True, False)]
    out = REPO_ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "bench_parallel.json").write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency", type=float, default=1.0, help="simulated seconds per LLM call")
    parser.add_argument("--customers", type=int, default=2000, help="demo company size")
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.latency, args.customers))
