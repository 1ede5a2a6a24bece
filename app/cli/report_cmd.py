"""`gtm report weekly --out FILE.md|FILE.html`: the weekly GTM report for scheduled runs."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from app.cli.base import CliError, emit_json

FORMATS = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html"}
"""Output format by file extension."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `report`."""
    report = sub.add_parser("report", help="write reports to files (for scheduled runs)")
    kinds = report.add_subparsers(dest="report_command", required=True, metavar="REPORT")
    weekly = kinds.add_parser(
        "weekly",
        help="the weekly GTM report: all four agents in parallel, aggregated",
        description="Run the weekly report through the copilot and write it as markdown or self-contained HTML "
        "(charts embedded, no network needed to view it). Give --out more than once to write both.",
    )
    weekly.add_argument(
        "--out", required=True, action="append", metavar="FILE", help="FILE.md (markdown) or FILE.html (with charts)"
    )
    weekly.add_argument("--user", default="report", help="who asks (default: report)")
    weekly.add_argument("--json", action="store_true", help="print one JSON object describing what was written")
    weekly.set_defaults(func=run_weekly)


def _targets(outs: list[str]) -> list[tuple[Path, str]]:
    targets = []
    for out in outs:
        path = Path(out).expanduser()
        kind = FORMATS.get(path.suffix.lower())
        if kind is None:
            raise CliError(f"--out {out}: unknown format {path.suffix or '(no extension)'!r}; use .md or .html")
        if not path.parent.exists():
            raise CliError(f"--out {out}: the folder {path.parent} does not exist")
        targets.append((path, kind))
    return targets


def run_weekly(args: argparse.Namespace) -> int:
    """Run the report and write each requested file."""
    from app.report import ReportRouteError, WeeklyReport, render_html, render_markdown, weekly_report
    from app.runtime import Copilot

    targets = _targets(args.out)

    async def run() -> WeeklyReport:
        async with Copilot.open() as copilot:
            return await weekly_report(copilot, user_id=args.user)

    try:
        report = asyncio.run(run())
    except ReportRouteError as exc:
        raise CliError(str(exc), exit_code=1) from exc
    written = []
    for path, kind in targets:
        text = render_html(report) if kind == "html" else render_markdown(report)
        path.write_text(text, encoding="utf-8")
        written.append({"path": str(path), "format": kind, "bytes": len(text.encode("utf-8"))})
    charts = sum(len(c) for c in report.charts.values())
    if args.json:
        emit_json({"thread_id": report.thread_id, "failed_sections": report.failed, "charts": charts, "files": written})
    else:
        for item in written:
            print(f"wrote {item['path']} ({item['format']}, {item['bytes']:,} bytes)")
        if report.failed:
            print(f"warning: sections failed: {', '.join(report.failed)} (their errors are in the report)")
    return 0
