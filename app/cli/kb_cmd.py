"""`gtm kb ingest|search|add|calibrate`: maintain and query the knowledge base."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.cli.base import CliError, check_text, emit_json, texts_from
from app.text import valid_text

if TYPE_CHECKING:
    from app.kb.service import KnowledgeBase

DEFAULT_QUESTIONS = Path("bench/data/support/questions_dev.jsonl")
"""Labelled questions `gtm kb calibrate` fits on (relative to the project checkout)."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `kb`."""
    kb = sub.add_parser("kb", help="ingest, search and calibrate the knowledge base")
    actions = kb.add_subparsers(dest="kb_command", required=True, metavar="ACTION")

    p = actions.add_parser("ingest", help="index a folder of markdown (incremental; default GTM_KB_DIR)")
    p.add_argument("directory", nargs="?", type=Path, help="folder of .md/.mdx files (default: GTM_KB_DIR)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(func=run_ingest)

    p = actions.add_parser("search", help="hybrid search; TEXT '-' reads one query per line from stdin")
    p.add_argument("text", metavar="TEXT")
    p.add_argument("-k", type=int, default=5, help="passages to return (1-50, default 5)")
    p.add_argument("--json", action="store_true", help="one JSON object per query")
    p.set_defaults(func=run_search)

    p = actions.add_parser("add", help="add a document (e.g. an approved answer) and index it")
    p.add_argument("title", help="document title (usually the question it answers)")
    p.add_argument("file", type=Path, help="markdown file with the body, or '-' for stdin")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_add)

    p = actions.add_parser("calibrate", help="re-fit the confidence model on labelled questions")
    p.add_argument("--questions", type=Path, help=f"JSONL with question/answerable (default {DEFAULT_QUESTIONS})")
    p.add_argument("--output", type=Path, help="where to write the model (default app/kb/confidence_model.json)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run_calibrate)


def _knowledge_base() -> KnowledgeBase:
    from app.kb.service import get_knowledge_base
    from app.settings import get_settings

    return get_knowledge_base(get_settings())


def run_ingest(args: argparse.Namespace) -> int:
    """Index the folder and print what changed."""
    kb = _knowledge_base()
    folder: Path = args.directory or kb.kb_dir
    if not folder.is_dir():
        raise CliError(f"knowledge-base folder not found: {folder} (give a folder of markdown files)")
    report = kb.ingest(folder)
    if args.json:
        emit_json(report.as_dict())
    else:
        print(
            f"{report.directory}: {len(report.added)} added, {len(report.updated)} updated, "
            f"{len(report.unchanged)} unchanged, {len(report.removed)} removed"
            + (f", {len(report.empty)} with no text" if report.empty else "")
            + (
                f", {len(report.not_text)} not UTF-8 text (skipped: {', '.join(report.not_text)})"
                if report.not_text
                else ""
            )
            + "; "
            f"{report.chunks_embedded} chunks embedded, {report.total_chunks} in the index ({report.seconds:.1f}s)"
        )
    return 0


def run_search(args: argparse.Namespace) -> int:
    """Search once, or once per stdin line with the model loaded once."""
    from app.settings import get_settings

    if not 1 <= args.k <= 50:
        raise CliError(f"-k must be between 1 and 50, got {args.k}")
    limit = get_settings().max_request_chars
    kb = _knowledge_base()
    if not kb.kb_dir.is_dir() and kb.store.count() == 0:
        raise CliError(
            f"the knowledge base is empty and its folder {kb.kb_dir} does not exist: "
            "set GTM_KB_DIR to a folder of markdown files, or run `gtm kb ingest DIR`"
        )
    batch = args.text == "-"
    for raw in texts_from(args.text):
        try:
            query = check_text(raw, max_chars=limit, what="query")
        except CliError as exc:
            if not batch:
                raise
            if args.json:
                emit_json({"query": valid_text(raw), "error": str(exc)})
            else:
                print(f"error: {exc}", file=sys.stderr)
            continue
        result = kb.search(query, k=args.k)
        if args.json:
            emit_json(result.to_dict())
            continue
        print(f"{query}\n  confidence {result.confidence:.2f}")
        for i, p in enumerate(result.passages, start=1):
            where = f"{p.doc} — {p.section}" if p.section else p.doc
            snippet = " ".join(p.text.split())
            print(f"  {i}. [{p.score:.3f}] {where}\n     {snippet[:200]}{'…' if len(snippet) > 200 else ''}")
    return 0


def run_add(args: argparse.Namespace) -> int:
    """Add one document to the KB folder and index it."""
    from app.settings import get_settings

    title = check_text(args.title, max_chars=300, what="title")
    if str(args.file) == "-":
        body = sys.stdin.read()
    else:
        if not args.file.is_file():
            raise CliError(f"file not found: {args.file}")
        body = args.file.read_text(encoding="utf-8")
    body = check_text(body, max_chars=get_settings().max_request_chars * 10, what="document")
    doc = _knowledge_base().add_document(title, body)
    if args.json:
        emit_json({"doc": doc})
    else:
        print(f"added {doc}")
    return 0


def _load_labelled(path: Path) -> list[tuple[str, bool]]:
    rows: list[tuple[str, bool]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item: dict[str, Any] = json.loads(line)
            rows.append((str(item["question"]), bool(item["answerable"])))
        except (ValueError, KeyError, TypeError) as exc:
            raise CliError(f"{path}:{number}: expected a JSON object with 'question' and 'answerable'") from exc
    return rows


def run_calibrate(args: argparse.Namespace) -> int:
    """Fit the confidence model on labelled questions against the current index and save it."""
    from app.kb.confidence import DEFAULT_C, MODEL_PATH, expected_calibration_error, fit
    from app.kb.retrieval import FEATURES
    from app.settings import REPO_ROOT

    path: Path = args.questions or REPO_ROOT / DEFAULT_QUESTIONS
    if not path.is_file():
        raise CliError(f"labelled questions not found: {path}")
    labelled = _load_labelled(path)
    if len({answerable for _, answerable in labelled}) < 2:
        raise CliError(f"{path} needs both answerable and unanswerable questions")
    kb = _knowledge_base()
    kb.ingest()
    rows = [kb.retriever.retrieve(question).features for question, _ in labelled]
    labels = [answerable for _, answerable in labelled]
    model = fit(rows, labels, FEATURES, c=DEFAULT_C, meta={"fitted_on": str(path), "questions": len(rows)})
    probs = [model.predict(r) for r in rows]
    threshold = kb.settings.confidence_threshold
    unanswerable = [p for p, y in zip(probs, labels, strict=True) if not y]
    answerable = [p for p, y in zip(probs, labels, strict=True) if y]
    summary = {
        "questions": len(rows),
        "ece": round(expected_calibration_error(probs, labels), 4),
        "unanswerable_escalated": round(sum(p < threshold for p in unanswerable) / len(unanswerable), 4),
        "answerable_escalated": round(sum(p < threshold for p in answerable) / len(answerable), 4),
    }
    model = type(model)(model.features, model.mean, model.scale, model.coef, model.intercept, model.meta | summary)
    written = model.save(args.output or MODEL_PATH)
    if args.json:
        emit_json({"model": str(written), **summary})
    else:
        print(
            f"fitted on {len(rows)} questions ({path.name}); wrote {written}\n"
            f"  on these questions at {threshold}: {summary['unanswerable_escalated']:.0%} of unanswerable and "
            f"{summary['answerable_escalated']:.0%} of answerable escalate; ECE {summary['ece']:.3f}"
        )
    return 0
