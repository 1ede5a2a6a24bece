"""Support retrieval and confidence evaluation.

1. Lumio knowledge base (`knowledge_base/`) with `bench/data/support/questions_test.jsonl`: document-level
   hit@1, hit@3, MRR for BM25, dense and the hybrid; escalation at the 0.7 threshold (share of
   unanswerable questions that escalate = recall, share of escalations that are unanswerable =
   precision, share of answerable questions that escalate) and expected calibration error, for the
   calibrated confidence and for a plain max-cosine threshold chosen on the dev set.
2. StackFAQ (`../shared/external/stackfaq`, Karan & Šnajder 2018, MIT): one document per thread
   (question as title + answers), 1,249 paraphrased queries (the 1,250th is empty in the file): MRR,
   hit@1, hit@5 for BM25, dense and the hybrid.
3. plausible-docs (132 articles of a real help centre, CC BY-SA 4.0) with `bench/data/plausible_questions.jsonl`,
   held out (never fitted on): hit@1/3/5 and MRR per retriever, and the confidence model fitted on Lumio
   against a max-cosine threshold, as the trade-off at 90 % unanswerable recall and at 5 % answerable, and
   the offline model's answers (fact, gold citation).
4. The offline model's extractive support answers on the Lumio questions: share holding the labelled
   fact (`answer_contains`) and share citing a gold document.
5. The grounding check (`graph.llm.grounding`): what a model that reads the passages can add to the offline
   confidence. Always printed: the ceiling with a perfect verdict for each weight (only the offline part
   can still escalate answerable questions). With `--grounding` and a configured OpenAI-compatible model
   (`OPENAI_API_KEY` / `OPENAI_BASE_URL`, `GTM_SUPPORT__MODEL`), the support model grades every test
   question's passages and the mixed confidence is scored like the offline one.

Fusion weights and the confidence model are only ever fitted on dev questions (`questions_dev.jsonl`,
plus the even StackFAQ paraphrases for the weights): `--tune` prints the weight grid, `--calibrate`
re-fits `app/kb/confidence_model.json`. Embeddings persist under `<home>/bench-kb`, so re-runs only
embed what changed.

Run: .venv/bin/python bench/eval_support.py [--tune] [--calibrate] [--skip-stackfaq] [--grounding] [--json FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from app.embeddings import get_embedder
from app.kb.confidence import ConfidenceModel, expected_calibration_error, fit, load_model
from app.kb.ingest import ingest
from app.kb.retrieval import (
    CHUNK_CHOICE_DOCS,
    FEATURES,
    Candidates,
    FusionWeights,
    Mode,
    Retriever,
    choose_chunks,
    fuse,
    retrieval_features,
)
from app.kb.store import ChromaStore, collection_name
from app.settings import REPO_ROOT, get_settings

DATA = REPO_ROOT / "bench" / "data"
EXTERNAL = REPO_ROOT.parent / "shared" / "external"
THRESHOLD = 0.7


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    gold: tuple[str, ...]
    answerable: bool
    answer_contains: tuple[str, ...] = ()


def load_questions(path: Path) -> list[Question]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            out.append(
                Question(
                    str(row["id"]),
                    row["question"],
                    tuple(row.get("gold_docs", [])),
                    bool(row["answerable"]),
                    tuple(row.get("answer_contains", [])),
                )
            )
    return out


def stackfaq(xml_path: Path, out_dir: Path) -> list[Question]:
    """Write one markdown document per thread (title = question) and return the paraphrased queries."""
    out_dir.mkdir(parents=True, exist_ok=True)
    questions = []
    for i, pair in enumerate(ET.parse(xml_path).getroot().findall("qapair")):
        title = " ".join((pair.findtext("question") or "").split())
        answers = [" ".join((a.text or "").split()) for a in pair.findall("answer")]
        doc = f"thread-{i:03d}.md"
        text = f"# {title}\n\n" + "\n\n".join(answers) + "\n"
        path = out_dir / doc
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        queries = [" ".join((r.text or "").split()) for r in pair.findall("rephr")]
        for j, query in enumerate(q for q in queries if q and q != "*"):
            questions.append(Question(f"sf{i:03d}-{j}", query, (doc,), True))
    return questions


def split(cands: list[Candidates], questions: list[Question], *, even: bool) -> tuple[list[Candidates], list[Question]]:
    keep = [i for i, q in enumerate(questions) if (int(q.id.rsplit("-", 1)[1]) % 2 == 0) == even]
    return [cands[i] for i in keep], [questions[i] for i in keep]


def open_store(home: Path, kb_dir: Path, embedder: object) -> tuple[ChromaStore, float]:
    store = ChromaStore(collection_name(kb_dir), path=home / "chroma")
    report = ingest(kb_dir, store, embedder)  # type: ignore[arg-type]
    print(
        f"  ingest {kb_dir.name}: {len(report.added) + len(report.updated)} docs embedded, "
        f"{len(report.unchanged)} unchanged, {report.total_chunks} chunks, {report.seconds:.1f}s",
        flush=True,
    )
    return store, report.seconds


def collect(retriever: Retriever, questions: Sequence[Question]) -> list[Candidates]:
    return [retriever.candidates(q.question) for q in questions]


def ranking(cands: Sequence[Candidates], questions: Sequence[Question], weights: FusionWeights, mode: Mode) -> dict:
    ranks = []
    for found, q in zip(cands, questions, strict=True):
        if not q.answerable:
            continue
        docs = [h.doc for h in fuse(found, weights, mode)]
        rank = next((i for i, d in enumerate(docs, start=1) if d in q.gold), None)
        ranks.append(rank)
    n = len(ranks)
    return {
        "n": n,
        "mrr": sum(1 / r for r in ranks if r) / n,
        "hit@1": sum(1 for r in ranks if r and r <= 1) / n,
        "hit@3": sum(1 for r in ranks if r and r <= 3) / n,
        "hit@5": sum(1 for r in ranks if r and r <= 5) / n,
    }


def features_for(cands: Sequence[Candidates], weights: FusionWeights, encoder: object) -> list[dict[str, float]]:
    """Confidence features as `Retriever.retrieve` computes them (`choose_chunks` first)."""
    rows = []
    for found in cands:
        ranked = fuse(found, weights)
        choose_chunks(found, ranked[:CHUNK_CHOICE_DOCS], encoder)  # type: ignore[arg-type]
        rows.append(retrieval_features(found, ranked, encoder))  # type: ignore[arg-type]
    return rows


def escalation(probs: Sequence[float], labels: Sequence[bool], threshold: float = THRESHOLD) -> dict:
    p = np.asarray(probs)
    y = np.asarray(labels, dtype=bool)
    escalated = p < threshold
    unanswerable = ~y
    true_esc = int((escalated & unanswerable).sum())
    return {
        "recall": true_esc / max(1, int(unanswerable.sum())),
        "precision": true_esc / max(1, int(escalated.sum())),
        "answerable_escalated": int((escalated & y).sum()) / max(1, int(y.sum())),
        "ece": expected_calibration_error(p, y),
        "auc": auc(p, y),
    }


def tradeoff(probs: Sequence[float], labels: Sequence[bool]) -> dict:
    p = np.asarray(probs)
    y = np.asarray(labels, dtype=bool)
    neg, pos = np.sort(p[~y]), np.sort(p[y])
    cut90 = neg[int(np.ceil(0.9 * len(neg))) - 1]  # escalate p <= cut90
    cut5 = pos[int(np.floor(0.05 * len(pos)))]  # escalate p < cut5
    return {
        "answerable_escalated_at_90_recall": float((pos <= cut90).mean()),
        "recall_at_5pct_answerable": float((neg < cut5).mean()),
    }


def auc(scores: np.ndarray, labels: np.ndarray) -> float:
    pos, neg = scores[labels], scores[~labels]
    if not len(pos) or not len(neg):
        return float("nan")
    return float(
        ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (len(pos) * len(neg))
    )


SINGLE = FusionWeights(1.0, 1.0, 60.0)
"""Weights for the single-retriever modes (only the order matters there)."""
WEIGHT_GRID = [FusionWeights(1.0, 0.0, 60.0)] + [
    FusionWeights(1.0, kw, k, power)
    for power in (0.0, 1.0, 2.0)
    for kw in (0.1, 0.2, 0.3, 0.5, 1.0, 2.0)
    for k in (1.0, 5.0, 10.0, 30.0, 60.0)
]


def tune(dev_sets: dict[str, tuple[list[Candidates], list[Question]]]) -> FusionWeights:
    """Best mean dev MRR among weights never worse than the better single retriever on any dev set."""
    floors = {}
    for name, (cands, qs) in dev_sets.items():
        dense = ranking(cands, qs, SINGLE, "dense")
        keyword = ranking(cands, qs, SINGLE, "keyword")
        floors[name] = max(dense["mrr"], keyword["mrr"])
        print(f"  {name}: dense MRR {dense['mrr']:.3f}, BM25 MRR {keyword['mrr']:.3f}")
    best, best_score = WEIGHT_GRID[0], -1.0
    print(f"  {'keyword w':>9} {'k':>5} {'power':>5} " + " ".join(f"{n[:14]:>14}" for n in dev_sets) + "   ok")
    for w in WEIGHT_GRID:
        scores = {name: ranking(c, q, w, "hybrid")["mrr"] for name, (c, q) in dev_sets.items()}
        ok = all(scores[n] >= floors[n] - 1e-9 for n in scores)
        mean = float(np.mean(list(scores.values())))
        print(
            f"  {w.keyword:9.2f} {w.k:5.0f} "
            + " ".join(f"{scores[n]:14.4f}" for n in dev_sets)
            + f"   {'*' if ok else ''}"
        )
        if ok and mean > best_score + 1e-9:
            best, best_score = w, mean
    print(f"  chosen: {best} (mean dev MRR {best_score:.4f})")
    return best


def cross_validated(rows: list[dict[str, float]], labels: list[bool], c: float, seed: int = 0) -> np.ndarray:
    """Out-of-fold P(answerable) for every dev question (5 stratified folds)."""
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(labels, dtype=bool)
    probs = np.zeros(len(rows))
    for train, test in StratifiedKFold(5, shuffle=True, random_state=seed).split(rows, y):
        model = fit([rows[i] for i in train], [labels[i] for i in train], FEATURES, c=c)
        probs[test] = [model.predict(rows[i]) for i in test]
    return probs


def calibrate(rows: list[dict[str, float]], labels: list[bool], source: str) -> ConfidenceModel:
    """Pick the regularisation by 5-fold cross-validated log-loss on dev (5 shuffles), then fit on all of dev.

    A logistic regression whose strength is chosen by held-out log-loss is already calibrated: the
    out-of-fold predictions' ECE is reported (and stored in the model's meta) to show it.
    """
    y = np.asarray(labels, dtype=bool)
    best_c, best_loss, best_probs = 1.0, float("inf"), np.zeros(0)
    for c in (0.03, 0.1, 0.3, 1.0, 3.0):
        runs = [np.clip(cross_validated(rows, labels, c, seed), 1e-6, 1 - 1e-6) for seed in range(5)]
        loss = float(np.mean([-np.mean(y * np.log(p) + (~y) * np.log(1 - p)) for p in runs]))
        print(f"  C={c:<5} cross-validated log-loss {loss:.4f}, AUC {np.mean([auc(p, y) for p in runs]):.3f}")
        if loss < best_loss:
            best_c, best_loss, best_probs = c, loss, runs[0]
    model = fit(rows, labels, FEATURES, c=best_c)
    probs = [model.predict(r) for r in rows]
    cv = escalation(list(best_probs), labels)
    print(
        "  out-of-fold on dev at 0.7: "
        + ", ".join(f"{k} {v:.3f}" for k, v in cv.items())
        + f"; trade-off {tradeoff(best_probs, labels)}"
    )
    neg = np.sort(best_probs[~y])
    recall_cut = float(neg[int(np.ceil(0.9 * len(neg))) - 1] + 1e-4)
    print(
        f"  a threshold of {recall_cut:.2f} escalates 90% of unanswerable dev questions out of fold "
        f"(and {float((best_probs[y] < recall_cut).mean()):.1%} of answerable ones)"
    )
    meta = {
        "fitted_on": source,
        "questions": len(rows),
        "answerable": int(y.sum()),
        "C": best_c,
        "cv_log_loss": round(best_loss, 4),
        "dev_cross_validated": {k: round(v, 4) for k, v in cv.items()},
        "threshold_for_90pct_recall": round(recall_cut, 3),
        "dev": {k: round(v, 4) for k, v in escalation(probs, labels).items()},
        "fitted_at": time.strftime("%Y-%m-%d"),
    }
    return ConfidenceModel(model.features, model.mean, model.scale, model.coef, model.intercept, meta)


def cosine_threshold(rows: list[dict[str, float]], labels: list[bool], target_recall: float = 0.9) -> float:
    """The smallest max-cosine threshold that escalates `target_recall` of the unanswerable dev questions."""
    neg = np.sort([r["dense_top"] for r, y in zip(rows, labels, strict=True) if not y])
    return float(neg[min(len(neg) - 1, int(np.ceil(target_recall * len(neg))) - 1)] + 1e-6)


def graph_passages(retriever: Retriever, question: str) -> list[dict[str, str]]:
    """The passages the support graph gives its model for `question` (`graph.nodes.support.rag_search`)."""
    from graph.nodes.support import MAX_PASSAGES

    found = retriever.retrieve(question, k=MAX_PASSAGES - 1, runner_up=True)
    return [{"doc": p.doc, "section": p.section, "text": p.text} for p in found.passages[:MAX_PASSAGES]]


def answers(retriever: Retriever, questions: Sequence[Question]) -> dict:
    """The offline support writer on the retrieved passages (top 4, as the graph passes them): share of
    answers holding every `answer_contains` string, and share citing a gold document."""
    from graph.llm.writers import write_support

    facts = cites = n = 0
    for q in questions:
        if not q.answerable or not q.answer_contains:
            continue
        passages = graph_passages(retriever, q.question)
        text = write_support({"query": q.question, "_passages": passages}).lower()
        n += 1
        facts += all(a.lower() in text for a in q.answer_contains)
        cites += any(f"[{g.lower()}]" in text for g in q.gold)
    return {"n": n, "fact": facts / max(1, n), "cites_gold": cites / max(1, n)}


GROUNDING_WEIGHTS = (0.3, 0.4, 0.5, 0.6, 0.7)
"""Weights of the grounding verdict that are scored (`GTM_GROUNDING_WEIGHT`, default 0.6)."""


def grounding_ceiling(probs: Sequence[float], labels: Sequence[bool]) -> dict[str, float]:
    """Answerable questions still escalated with a perfect verdict, per weight (every unanswerable one escalates).

    A supported "yes" answers when `(1 − w) · p + w ≥ 0.7`, so the offline confidence must reach
    `(0.7 − w) / (1 − w)`.
    """
    p = np.asarray(probs)
    y = np.asarray(labels, dtype=bool)
    return {f"{w:.1f}": float((p[y] < max(0.0, (THRESHOLD - w) / (1 - w))).mean()) for w in GROUNDING_WEIGHTS}


def grade_questions(retriever: Retriever, questions: Sequence[Question]) -> list[object]:
    """The configured support model's grounding verdict on each question's passages (top 4, as in the graph)."""
    import asyncio

    from graph.llm.factory import make_chat_model
    from graph.llm.grounding import grade_context
    from graph.nodes.support import context_block

    model = make_chat_model("support", get_settings())
    found = [graph_passages(retriever, q.question) for q in questions]  # before the loop: retrieval blocks
    gate = asyncio.Semaphore(4)

    async def one(question: str, passages: list[dict[str, str]]) -> object:
        async with gate:
            return await grade_context(model, question, context_block(passages), passages)

    async def every() -> list[object]:
        return list(await asyncio.gather(*(one(q.question, p) for q, p in zip(questions, found, strict=True))))

    return asyncio.run(every())


def grounding_report(probs: Sequence[float], labels: Sequence[bool], grades: Sequence[object]) -> dict:
    """Escalation figures of the mixed confidence for each weight, and how often the verdict was right."""
    from graph.llm.grounding import Grounding, grounded_confidence

    verdicts = [g if isinstance(g, Grounding) else None for g in grades]
    usable = [
        (g, y) for g, y in zip(verdicts, labels, strict=True) if g is not None and (g.verified or not g.answerable)
    ]
    report: dict = {
        "graded": sum(g is not None for g in verdicts) / max(1, len(verdicts)),
        "usable": len(usable) / max(1, len(verdicts)),
        "verdict_accuracy": sum(g.answerable == y for g, y in usable) / max(1, len(usable)),
        "unverified_yes": sum(g is not None and g.answerable and not g.verified for g in verdicts),
    }
    for w in GROUNDING_WEIGHTS:
        mixed = [grounded_confidence(p, g, w) for p, g in zip(probs, verdicts, strict=True)]
        report[f"w={w:.1f}"] = escalation(mixed, labels) | tradeoff(mixed, labels)
    return report


def row(name: str, metrics: dict, keys: Sequence[str]) -> str:
    return f"  {name:<22}" + "".join(f"{metrics[k]:>9.3f}" for k in keys)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="where bench collections live (default $GTM_HOME/bench-kb)")
    parser.add_argument("--tune", action="store_true", help="grid-search fusion weights on the dev sets")
    parser.add_argument("--calibrate", action="store_true", help="re-fit app/kb/confidence_model.json on dev")
    parser.add_argument("--skip-stackfaq", action="store_true")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument(
        "--grounding", action="store_true", help="grade the test questions with the configured OpenAI-compatible model"
    )
    args = parser.parse_args(argv)

    settings = get_settings()
    home = args.home or settings.home / "bench-kb"
    started = time.perf_counter()
    embedder = get_embedder()
    embedder.encode(["warm up"])
    results: dict = {}

    print("Lumio knowledge base", flush=True)
    lumio_store, _ = open_store(home, settings.kb_dir, embedder)
    lumio = Retriever(lumio_store, embedder)
    dev = load_questions(DATA / "support" / "questions_dev.jsonl")
    test = load_questions(DATA / "support" / "questions_test.jsonl")
    dev_c, test_c = collect(lumio, dev), collect(lumio, test)
    dev_sets = {"lumio-dev": (dev_c, dev)}
    sf_questions: list[Question] = []
    sf_c: list[Candidates] = []
    if not args.skip_stackfaq:
        print("StackFAQ", flush=True)
        sf_questions = stackfaq(EXTERNAL / "stackfaq" / "stackExchange-FAQ.xml", home / "stackfaq-docs")
        sf_store, _ = open_store(home, home / "stackfaq-docs", embedder)
        sf_c = collect(Retriever(sf_store, embedder), sf_questions)
        # Paraphrases 0, 2, 4, ... of each thread are a tuning split; 1, 3, 5, ... are held out.
        dev_sets["stackfaq-even"] = split(sf_c, sf_questions, even=True)

    plausible_q = DATA / "plausible_questions.jsonl"
    plausible = None
    if plausible_q.exists():
        print("plausible-docs", flush=True)
        p_store, _ = open_store(home, EXTERNAL / "plausible-docs", embedder)
        p_questions = load_questions(plausible_q)
        p_retriever = Retriever(p_store, embedder)
        plausible = (collect(p_retriever, p_questions), p_questions)

    weights = lumio.weights
    if args.tune:
        print("Tuning fusion weights on dev (MRR; * = not worse than the better single retriever anywhere)")
        weights = tune(dev_sets)

    keys = ("hit@1", "hit@3", "mrr")
    print(f"\nLumio test retrieval ({sum(q.answerable for q in test)} answerable questions)")
    print(f"  {'':<22}" + "".join(f"{k:>9}" for k in keys))
    for mode in ("keyword", "dense", "hybrid"):
        m = ranking(test_c, test, weights, mode)  # type: ignore[arg-type]
        results[f"lumio_test_{mode}"] = m
        print(row({"keyword": "BM25", "dense": "dense", "hybrid": "hybrid"}[mode], m, keys))
    print(
        "  (dev: "
        + ", ".join(
            f"{mode} MRR {ranking(dev_c, dev, weights, mode)['mrr']:.3f}" for mode in ("keyword", "dense", "hybrid")
        )
        + ")"
    )  # type: ignore[arg-type]

    dev_rows, test_rows = features_for(dev_c, weights, embedder), features_for(test_c, weights, embedder)
    dev_y, test_y = [q.answerable for q in dev], [q.answerable for q in test]
    if args.calibrate:
        print("\nCalibrating confidence on questions_dev.jsonl")
        model = calibrate(dev_rows, dev_y, "bench/data/support/questions_dev.jsonl")
        model.save()
        print(f"  wrote app/kb/confidence_model.json (C={model.meta['C']})")
        print("  coefficients: " + ", ".join(f"{n} {c:+.2f}" for n, c in zip(model.features, model.coef, strict=True)))
    model = load_model()
    test_probs = [model.predict(r) for r in test_rows]
    cos_t = cosine_threshold(dev_rows, dev_y)
    cos_probs = [1.0 if r["dense_top"] >= cos_t else 0.0 for r in test_rows]
    print(
        f"\nEscalation at {THRESHOLD} on Lumio test ({sum(not y for y in test_y)} unanswerable, {sum(test_y)} answerable)"
    )
    ekeys = ("recall", "precision", "answerable_escalated", "ece", "auc")
    print(f"  {'':<22}" + "".join(f"{k[:9]:>9}" for k in ("recall", "precision", "ans.esc", "ECE", "AUC")))
    results["lumio_test_confidence"] = escalation(test_probs, test_y)
    print(row("calibrated confidence", results["lumio_test_confidence"], ekeys))
    cos_metrics = escalation(cos_probs, test_y, 0.5)
    cos_metrics["ece"], cos_metrics["auc"] = (
        float("nan"),
        auc(np.asarray([r["dense_top"] for r in test_rows]), np.asarray(test_y)),
    )
    results["lumio_test_cosine_threshold"] = cos_metrics | {"threshold": cos_t}
    print(row(f"max cosine >= {cos_t:.3f}", cos_metrics, ekeys))
    dev_probs = [model.predict(r) for r in dev_rows]
    results["lumio_dev_confidence"] = escalation(dev_probs, dev_y)
    print(row("(dev, fitted on)", results["lumio_dev_confidence"], ekeys))
    results["lumio_test_tradeoff"] = tradeoff(test_probs, test_y)
    t = results["lumio_test_tradeoff"]
    print(
        f"  trade-off on test (descriptive, not used for anything): escalating 90% of unanswerable also escalates "
        f"{t['answerable_escalated_at_90_recall']:.1%} of answerable; escalating at most 5% of answerable catches "
        f"{t['recall_at_5pct_answerable']:.1%} of unanswerable"
    )
    missed = [(q, p) for q, p in zip(test, test_probs, strict=True) if (p < THRESHOLD) == q.answerable]
    for q, p in sorted(missed, key=lambda x: x[1])[:12]:
        print(f"    {'ANSWERABLE' if q.answerable else 'unanswer.'} {p:.2f} {q.question[:90]}")

    print(
        "\nGrounding check: answerable questions still escalated with a perfect verdict, by weight "
        "(every unanswerable one escalates)"
    )
    for label, probs, labels in (("dev", dev_probs, dev_y), ("test", test_probs, test_y)):
        results[f"lumio_{label}_grounding_ceiling"] = ceiling = grounding_ceiling(probs, labels)
        print(f"  {label:<5} " + ", ".join(f"w={w} {v:.1%}" for w, v in ceiling.items()))
    if args.grounding:
        if not settings.use_openai:
            print("  --grounding needs an OpenAI-compatible model (OPENAI_API_KEY, OPENAI_BASE_URL); skipped")
        else:
            print(f"  grading {len(test)} test questions with {settings.support.model}", flush=True)
            grades = grade_questions(lumio, test)
            results["lumio_test_grounding"] = g = grounding_report(test_probs, test_y, grades)
            print(
                f"  graded {g['graded']:.0%}, usable verdicts {g['usable']:.0%} ({g['unverified_yes']} yes with a quote "
                f"not in the passages), verdict accuracy {g['verdict_accuracy']:.3f}"
            )
            print(f"  {'':<22}" + "".join(f"{k[:9]:>9}" for k in ("recall", "precision", "ans.esc", "ECE", "AUC")))
            for w in GROUNDING_WEIGHTS:
                m = g[f"w={w:.1f}"]
                print(row(f"mixed, w={w:.1f}", m, ekeys) + f"   t90 {m['answerable_escalated_at_90_recall']:.1%}")

    print("\nOffline extractive answers (share holding the expected fact; share citing a gold document)")
    for label, qs in (("dev", dev), ("test", test)):
        results[f"lumio_{label}_answers"] = a = answers(lumio, qs)
        print(f"  {label:<5} n={a['n']:<4} fact {a['fact']:.3f}  cites gold {a['cites_gold']:.3f}")

    if plausible is not None:
        cands, qs = plausible
        labels = [q.answerable for q in qs]
        print(
            f"\nplausible-docs, held out ({sum(labels)} answerable, {sum(not y for y in labels)} unanswerable questions)"
        )
        pkeys = ("hit@1", "hit@3", "hit@5", "mrr")
        print(f"  {'':<22}" + "".join(f"{k:>9}" for k in pkeys))
        for mode in ("keyword", "dense", "hybrid"):
            m = ranking(cands, qs, weights, mode)  # type: ignore[arg-type]
            results[f"plausible_{mode}"] = m
            print(row({"keyword": "BM25", "dense": "dense", "hybrid": "hybrid"}[mode], m, pkeys))
        p_rows = features_for(cands, weights, embedder)
        probs = [model.predict(r) for r in p_rows]
        results["plausible_confidence"] = escalation(probs, labels) | tradeoff(probs, labels)
        cosines = [r["dense_top"] for r in p_rows]
        results["plausible_cosine"] = {"auc": auc(np.asarray(cosines), np.asarray(labels))} | tradeoff(cosines, labels)
        print(f"  {'':<22}" + "".join(f"{k[:9]:>9}" for k in ("recall", "precision", "ans.esc", "ECE", "AUC")))
        print(row("confidence (Lumio fit)", results["plausible_confidence"], ekeys))
        for name in ("plausible_confidence", "plausible_cosine"):
            t = results[name]
            print(
                f"  {'confidence' if name.endswith('confidence') else 'max cosine'}: AUC {t['auc']:.3f}; escalating 90% "
                f"of unanswerable also escalates {t['answerable_escalated_at_90_recall']:.1%} of answerable; at most 5% "
                f"of answerable catches {t['recall_at_5pct_answerable']:.1%} of unanswerable"
            )
        results["plausible_answers"] = a = answers(p_retriever, qs)
        print(f"  offline answers: n={a['n']} fact {a['fact']:.3f}  cites gold {a['cites_gold']:.3f}")

    if sf_questions:
        skeys = ("mrr", "hit@1", "hit@5")
        held_c, held_q = split(sf_c, sf_questions, even=False)
        for label, (cands, qs) in (("all", (sf_c, sf_questions)), ("held-out odd paraphrases", (held_c, held_q))):
            print(f"\nStackFAQ, {label}: {len(qs)} queries over 125 threads")
            print(f"  {'':<22}" + "".join(f"{k:>9}" for k in skeys))
            for mode in ("keyword", "dense", "hybrid"):
                m = ranking(cands, qs, weights, mode)  # type: ignore[arg-type]
                results[f"stackfaq_{'all' if label == 'all' else 'heldout'}_{mode}"] = m
                print(row({"keyword": "BM25", "dense": "dense", "hybrid": "hybrid"}[mode], m, skeys))

    results["weights"] = dataclasses.asdict(weights)
    print(f"\nfusion weights: {weights}; total {time.perf_counter() - started:.0f}s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=float) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
