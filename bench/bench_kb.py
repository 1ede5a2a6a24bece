"""Knowledge-base benchmarks: ingest throughput against raw MiniLM encoding, and search latency at 10,000 chunks.

1. Ingest throughput: plausible-docs (132 articles, CC BY-SA 4.0) and StackFAQ (125 threads, MIT) are
   ingested into a fresh embedded Chroma; the same chunk texts are then encoded by the bare model with
   the same batch size, folder by folder in turn. Reported: chunks/s of both and ingest as a share of raw encoding (goal ≥ 80%).
2. Search latency: the same documents plus renamed copies until the collection holds ≥ 10,000 chunks
   (copies reuse the embeddings computed in part 1, with a little noise, so building the big index does
   not take minutes of encoding), then `KnowledgeBase.search` on distinct questions (Lumio questions and StackFAQ
   paraphrases): p50/p95 end to end (query encoding included), with the time split into encoding, Chroma
   and the rest (BM25, fusion, features, confidence), and p50 for a repeated question (embedding cached).

Run: .venv/bin/python bench/bench_kb.py [--chunks 10000] [--queries 300]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from eval_support import DATA, EXTERNAL, load_questions, stackfaq
from numpy.typing import NDArray

from app.embeddings import Embedder, get_embedder
from app.kb.chunking import chunk_document
from app.kb.ingest import find_documents, ingest, read_text
from app.kb.service import KnowledgeBase
from app.kb.store import ChromaStore, collection_name
from app.settings import Settings


class ReusingEncoder:
    """Encodes each distinct text once; repeats get the cached vector plus small noise (renormalised)."""

    def __init__(self, inner: Embedder, noise: float = 0.02, seed: int = 0) -> None:
        self.inner = inner
        self.noise = noise
        self.cache: dict[str, NDArray[np.float32]] = {}
        self.rng = np.random.default_rng(seed)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> NDArray[np.float32]:
        new = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if new:
            for text, vector in zip(new, self.inner.encode(new, batch_size=batch_size), strict=True):
                self.cache[text] = vector
        out = np.stack([self.cache[t] for t in texts]).astype(np.float32)
        out += self.rng.normal(0.0, self.noise, out.shape).astype(np.float32)
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values) * 1000.0, q))


def bench_ingest(embedder: Embedder, folders: list[Path], work: Path, cache: dict[str, NDArray[np.float32]]) -> dict:
    """Raw encoding and ingest of each folder in turn (interleaved, so load changes hit both alike)."""
    embedder.encode(["warm up"] * 64)
    raw_seconds = ingest_seconds = 0.0
    chunks = 0
    for folder in folders:
        texts = [
            c.embed_text for doc, path in find_documents(folder).items() for c in chunk_document(doc, read_text(path))
        ]
        started = time.perf_counter()
        vectors = embedder.encode(texts, batch_size=64)
        raw_seconds += time.perf_counter() - started
        cache.update(zip(texts, vectors, strict=True))
        report = ingest(folder, ChromaStore(collection_name(folder), path=work / "chroma"), embedder)
        assert report.chunks_embedded == len(texts), (report.chunks_embedded, len(texts))
        ingest_seconds += report.seconds
        chunks += len(texts)
    return {
        "chunks": chunks,
        "raw_encode_chunks_per_s": chunks / raw_seconds,
        "ingest_chunks_per_s": chunks / ingest_seconds,
        "ingest_share_of_raw": raw_seconds / ingest_seconds,
        "raw_seconds": raw_seconds,
        "ingest_seconds": ingest_seconds,
    }


def build_big_kb(folders: list[Path], target: int, work: Path) -> Path:
    """One folder with the originals and numbered copies until the chunk count reaches `target`."""
    big = work / "big-kb"
    originals: list[tuple[str, str, int]] = []
    for folder in folders:
        for doc, path in find_documents(folder).items():
            text = read_text(path)
            originals.append((f"{folder.name}/{doc}", text, len(chunk_document(doc, text))))
    total, copy = 0, 0
    while total < target:
        for name, text, count in originals:
            path = big / f"copy-{copy:02d}" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            total += count
            if total >= target:
                break
        copy += 1
    return big


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=10_000, help="chunks in the latency index")
    parser.add_argument("--queries", type=int, default=300, help="distinct questions timed")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)

    results: dict = {}
    started = time.perf_counter()
    embedder = get_embedder()
    embedder.encode(["warm up"])
    results["model_load_s"] = time.perf_counter() - started
    work = Path(tempfile.mkdtemp(prefix="bench-kb-"))
    try:
        sf_dir = work / "stackfaq"
        sf_questions = stackfaq(EXTERNAL / "stackfaq" / "stackExchange-FAQ.xml", sf_dir)
        folders = [EXTERNAL / "plausible-docs", sf_dir]

        print("Ingest throughput (plausible-docs + StackFAQ, fresh embedded Chroma, batch 64)", flush=True)
        reuse = ReusingEncoder(embedder)
        throughput = bench_ingest(embedder, folders, work / "ingest", reuse.cache)
        results["ingest"] = throughput
        print(f"  chunks                     {throughput['chunks']:>8,}")
        print(f"  raw MiniLM encode          {throughput['raw_encode_chunks_per_s']:>8.1f} chunks/s")
        print(f"  ingest (chunk+embed+store) {throughput['ingest_chunks_per_s']:>8.1f} chunks/s")
        print(f"  ingest / raw               {throughput['ingest_share_of_raw']:>8.1%}   (goal >= 80%)")

        print(f"\nSearch latency at >= {args.chunks:,} chunks", flush=True)
        big = build_big_kb(folders, args.chunks, work)
        settings = Settings(home=work / "home", kb_dir=big)
        t0 = time.perf_counter()
        report = KnowledgeBase(settings, reuse).ingest()
        kb = KnowledgeBase(settings, embedder)
        t1 = time.perf_counter()
        kb.search("warm up the keyword index")
        index_seconds = time.perf_counter() - t1
        print(
            f"  index: {report.total_chunks:,} chunks ({time.perf_counter() - t0 - index_seconds:.1f}s to build); "
            f"keyword index built on first search in {index_seconds:.2f}s"
        )
        lumio = [q.question for q in load_questions(DATA / "support" / "questions_test.jsonl")]
        pool = list(dict.fromkeys(lumio + [q.question for q in sf_questions]))
        rng = np.random.default_rng(1)
        queries = [pool[i] for i in rng.permutation(len(pool))[: args.queries]]
        for q in queries[:5]:  # warm the code paths with questions that are not timed again
            kb.search(q + " (warm)")

        total, encode, chroma, rest = [], [], [], []
        retriever = kb.retriever
        store = retriever.store
        original_query = store.query
        original_encode = embedder.encode
        spent: dict[str, float] = {}

        def timed_query(*a: object, **k: object) -> object:
            s = time.perf_counter()
            out = original_query(*a, **k)  # type: ignore[arg-type]
            spent["chroma"] = spent.get("chroma", 0.0) + time.perf_counter() - s
            return out

        def timed_encode(*a: object, **k: object) -> object:
            s = time.perf_counter()
            out = original_encode(*a, **k)  # type: ignore[arg-type]
            spent["encode"] = spent.get("encode", 0.0) + time.perf_counter() - s
            return out

        store.query = timed_query  # type: ignore[method-assign]
        embedder.encode = timed_encode  # type: ignore[method-assign]
        try:
            for q in queries:
                spent.clear()
                s = time.perf_counter()
                kb.search(q, k=5)
                total.append(time.perf_counter() - s)
                encode.append(spent.get("encode", 0.0))
                chroma.append(spent.get("chroma", 0.0))
                rest.append(total[-1] - encode[-1] - chroma[-1])
            repeated = []
            for _ in range(100):
                s = time.perf_counter()
                kb.search(queries[0], k=5)
                repeated.append(time.perf_counter() - s)
        finally:
            store.query = original_query  # type: ignore[method-assign]
            embedder.encode = original_encode  # type: ignore[method-assign]
        results["search"] = {
            "chunks": report.total_chunks,
            "queries": len(total),
            "p50_ms": percentile(total, 50),
            "p95_ms": percentile(total, 95),
            "encode_p50_ms": percentile(encode, 50),
            "chroma_p50_ms": percentile(chroma, 50),
            "rest_p50_ms": percentile(rest, 50),
            "repeated_query_p50_ms": percentile(repeated, 50),
            "repeated_query_p95_ms": percentile(repeated, 95),
            "keyword_index_build_s": index_seconds,
        }
        s = results["search"]
        print(f"  {len(total)} distinct questions: p50 {s['p50_ms']:.1f} ms, p95 {s['p95_ms']:.1f} ms")
        print(
            f"    p50 parts: encode {s['encode_p50_ms']:.1f} ms, Chroma {s['chroma_p50_ms']:.1f} ms, "
            f"BM25 + fusion + features + confidence {s['rest_p50_ms']:.1f} ms"
        )
        print(
            f"  repeated question (embedding cached): p50 {s['repeated_query_p50_ms']:.1f} ms, "
            f"p95 {s['repeated_query_p95_ms']:.1f} ms"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nmodel load {results['model_load_s']:.1f}s; total {time.perf_counter() - started:.0f}s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
