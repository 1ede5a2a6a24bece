"""Routing accuracy on the held-out evaluation set (graph/routing/data/eval.jsonl).

Compares the seed's keyword router, the keyword analyser alone, the intent classifier alone and the full
`decide_route`; prints a per-route confusion summary, accuracy on requests without any seed keyword, and
the largest cosine similarity between an evaluation request and a training request (near-duplicate check).

Also: how often the supervisor would split a single request in two (`graph.routing.compound`; the
routing sets and the support questions, all single requests) and how often it splits the compound
requests of `bench/data/compound_requests.jsonl` into the right two agents (the `tuning` ones shaped the
split's rules, the `held-out` ones were written afterwards and not tuned on).

Run: .venv/bin/python bench/eval_routing.py [--show-errors]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from _routing_common import load_embedder

from graph.routing import (
    ROUTES,
    Example,
    Route,
    decide_routes,
    has_seed_keyword,
    keyword_route,
    load_default,
    load_examples,
    seed_keyword_route,
)

SHORT: dict[str, str] = {route: route.split(":")[0][:4] for route in ROUTES}
SHORT["sequential:insights,marketing,finance"] = "seq"


def accuracy(predicted: Sequence[Route], gold: Sequence[Example], mask: Sequence[bool] | None = None) -> str:
    pairs = [(p, g.route) for p, g, keep in zip(predicted, gold, mask or [True] * len(gold), strict=True) if keep]
    correct = sum(p == g for p, g in pairs)
    return f"{correct / len(pairs):6.1%} ({correct}/{len(pairs)})"


def confusion(predicted: Sequence[Route], gold: Sequence[Example]) -> None:
    print(f"{'gold / predicted':<18}" + "".join(f"{SHORT[r]:>6}" for r in ROUTES) + "  recall  precision")
    for route in ROUTES:
        row = Counter(p for p, g in zip(predicted, gold, strict=True) if g.route == route)
        total = sum(row.values())
        hits = sum(1 for p in predicted if p == route)
        precision = row[route] / hits if hits else 0.0
        cells = "".join(f"{row[r]:>6}" for r in ROUTES)
        print(f"{route[:18]:<18}{cells}  {row[route] / total:6.1%}  {precision:9.1%}")


def max_similarity(embed: Callable[[list[str]], np.ndarray], train: list[Example], held_out: list[Example]) -> None:
    train_vectors = embed([e.text for e in train])
    eval_vectors = embed([e.text for e in held_out])
    similarity = eval_vectors @ train_vectors.T
    i, j = np.unravel_index(int(np.argmax(similarity)), similarity.shape)
    over = int((similarity.max(axis=1) >= 0.9).sum())
    print(f"max cosine similarity eval↔train: {similarity[i, j]:.3f}  ({over} eval items ≥ 0.90)")
    print(f"  eval:  {held_out[i].text!r}\n  train: {train[j].text!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-errors", action="store_true", help="list the requests decide_route gets wrong")
    args = parser.parse_args()

    embedder = load_embedder()
    train, held_out = load_examples("train"), load_examples("eval")
    started = time.perf_counter()
    classifier = load_default(embedder)
    print(f"classifier built in {time.perf_counter() - started:.2f} s (embedding {len(train)} examples + fit)")

    texts = [e.text for e in held_out]
    decisions = decide_routes(texts, classifier)
    routers: dict[str, list[Route]] = {
        "seed keyword router": [seed_keyword_route(t) for t in texts],
        "keyword analyser alone": [keyword_route(t) for t in texts],
        "intent classifier alone": [p.route for p in classifier.predict_batch(texts)],
        "decide_route (full)": [d.route for d in decisions],
    }
    no_keywords = [not has_seed_keyword(t) for t in texts]
    train_no_keywords = sum(not has_seed_keyword(e.text) for e in train)

    print(
        f"\ntrain: {len(train)} requests, {train_no_keywords / len(train):.0%} without seed keywords; "
        + ", ".join(f"{SHORT[r]} {sum(e.route == r for e in train)}" for r in ROUTES)
    )
    print(
        f"eval:  {len(held_out)} requests, {sum(no_keywords) / len(held_out):.0%} without seed keywords "
        f"({sum(no_keywords)}); " + ", ".join(f"{SHORT[r]} {sum(e.route == r for e in held_out)}" for r in ROUTES)
    )
    print(f"\n{'router':<26}{'all eval':>18}{'without seed keywords':>26}")
    for name, predicted in routers.items():
        print(f"{name:<26}{accuracy(predicted, held_out):>18}{accuracy(predicted, held_out, no_keywords):>26}")

    methods = Counter(d.method for d in decisions)
    print("\ndecide_route methods: " + ", ".join(f"{m} {n}" for m, n in methods.most_common()))
    print("\nconfusion, decide_route:")
    confusion(routers["decide_route (full)"], held_out)
    print("\nconfusion, seed keyword router:")
    confusion(routers["seed keyword router"], held_out)
    print()
    max_similarity(lambda batch: embedder.encode(batch), train, held_out)  # type: ignore[attr-defined]

    compound_report(classifier, args.show_errors)

    if args.show_errors:
        print("\nerrors (decide_route):")
        for example, predicted in zip(held_out, routers["decide_route (full)"], strict=True):
            if predicted != example.route:
                print(f"  {SHORT[example.route]:>5} → {SHORT[predicted]:<5} {example.text}")


def compound_report(classifier: object, show: bool) -> None:
    """Split rates: single requests (should be 0) and compound requests (should be 1)."""
    import asyncio
    import json

    from graph.routing.compound import split_compound
    from graph.routing.decide import RouteDecision, adecide_route

    async def route(text: str) -> RouteDecision:
        return await adecide_route(text, classifier)  # type: ignore[arg-type]

    async def parts(text: str) -> list[str] | None:
        whole = await route(text)
        if whole.route not in ("marketing", "finance", "insights", "support"):
            return None  # a multi-agent plan is never split (as in the supervisor)
        found = await split_compound(text, route)
        return sorted(p.decision.route for p in found) if found else None

    root = Path(__file__).resolve().parents[1]
    single = [e.text for e in load_examples("train")] + [e.text for e in load_examples("eval")]
    for name in ("questions_dev.jsonl", "questions_test.jsonl"):
        with open(root / "bench" / "data" / "support" / name, encoding="utf-8") as fh:
            single += [json.loads(line)["question"] for line in fh]
    with open(root / "bench" / "data" / "compound_requests.jsonl", encoding="utf-8") as fh:
        compound = [json.loads(line) for line in fh]

    async def run() -> None:
        split = [t for t in single if await parts(t)]
        print(
            f"\ncompound requests: {len(split)} of {len(single)} single requests split ({len(split) / len(single):.2%})"
        )
        if show:
            for text in split:
                print(f"  split: {text}")
        for subset in ("tuning", "held-out"):
            items = [c for c in compound if c["split"] == subset]
            right = [c for c in items if await parts(c["text"]) == sorted(c["routes"])]
            print(f"  {subset}: {len(right)} of {len(items)} compound requests split into the right two agents")
            if show:
                for c in items:
                    if c not in right:
                        print(f"    kept whole or wrong: {c['text']}")

    asyncio.run(run())


if __name__ == "__main__":
    main()
