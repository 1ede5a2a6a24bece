"""The weekly GTM report as a file: markdown, or a self-contained HTML page with the charts embedded.

`weekly_report(copilot)` runs the report through the graph (the request goes through the supervisor,
which must route it to `parallel`); `render_markdown` / `render_html` turn it into a document. The HTML
page inlines plotly.js once (no CDN: scheduled runs and readers may be offline) and places each chart
under the section of the agent that produced it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from graph.llm.writers import OFFLINE_TAG
from graph.state import AGENTS, REPORT_SECTIONS

if TYPE_CHECKING:
    from app.runtime import Copilot

WEEKLY_REQUEST = "give me the weekly report"
"""What the report command asks the copilot."""

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1000px;margin:2rem auto;
padding:0 1rem;color:#1f2328;line-height:1.5}
h1{border-bottom:1px solid #d0d7de;padding-bottom:.3rem}h2{margin-top:2rem;border-bottom:1px solid #eaeef2}
table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}th,td{border:1px solid #d0d7de;padding:.3rem .6rem}
th{background:#f6f8fa}.meta{color:#57606a;font-size:.85rem}.chart{margin:1rem 0}
"""


class ReportRouteError(RuntimeError):
    """The report request was not routed to the parallel report."""


@dataclass
class WeeklyReport:
    """One run of the weekly report."""

    markdown: str
    """The report as the copilot wrote it (without the offline-model tag)."""
    charts: dict[str, list[dict[str, Any]]]
    """Plotly figures (JSON dicts) by the agent whose section produced them."""
    failed: list[str]
    """Agents whose section failed."""
    thread_id: str
    """The thread the report ran on."""
    offline: bool
    """Whether the offline model wrote it."""
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    """When it was produced."""


async def weekly_report(copilot: Copilot, user_id: str = "report") -> WeeklyReport:
    """Ask for the weekly report and collect its text and its charts by section.

    Raises:
        ReportRouteError: the supervisor sent the request somewhere other than the parallel report.
    """
    result = await copilot.ask(WEEKLY_REQUEST, user_id=user_id)
    if result.route != "parallel":
        raise ReportRouteError(f"the weekly report request was routed to {result.route!r}, expected 'parallel'")
    snapshot = await copilot.graph.aget_state({"configurable": {"thread_id": result.thread_id}})
    report = snapshot.values.get("results", {}).get("report", {})
    sections = report.get("sections", {})
    charts: dict[str, list[dict[str, Any]]] = {
        agent: [
            r["chart"] for r in sections.get(agent, {}).get("results", []) if isinstance(r, dict) and r.get("chart")
        ]
        for agent in AGENTS
    }
    text = result.answer.strip()
    offline = text.startswith(OFFLINE_TAG)
    if offline:
        text = text[len(OFFLINE_TAG) :].lstrip()
    return WeeklyReport(
        markdown=text,
        charts=charts,
        failed=list(report.get("failed", [])),
        thread_id=result.thread_id,
        offline=offline,
    )


def _footer(report: WeeklyReport) -> str:
    who = "GTM Copilot's offline model" if report.offline else "GTM Copilot"
    return f"Generated {report.generated_at:%Y-%m-%d %H:%M} UTC by {who} (thread {report.thread_id})."


def render_markdown(report: WeeklyReport) -> str:
    """The report as a markdown document (charts are in the HTML version)."""
    count = sum(len(c) for c in report.charts.values())
    lines = [report.markdown.rstrip(), "", "---", f"_{_footer(report)}"]
    if count:
        lines[-1] += f" {count} chart(s) are embedded in the HTML version (`--out report.html`)."
    lines[-1] += "_"
    return "\n".join(lines) + "\n"


def _split_sections(markdown: str) -> list[tuple[str | None, str]]:
    """(agent or None, markdown) chunks: one per `## ` section, the agent found from its title."""
    titles = {title.lower(): agent for agent, title in REPORT_SECTIONS.items()}
    chunks: list[tuple[str | None, list[str]]] = [(None, [])]
    for line in markdown.splitlines():
        if line.startswith("## "):
            heading = line[3:].strip().lower()
            agent = next((a for t, a in titles.items() if heading.startswith(t) or t.startswith(heading)), None)
            chunks.append((agent, [line]))
        else:
            chunks[-1][1].append(line)
    return [(agent, "\n".join(lines)) for agent, lines in chunks]


def render_html(report: WeeklyReport) -> str:
    """A self-contained HTML page: the report, each agent's charts under its section, plotly.js inlined once."""
    import plotly.graph_objects as go
    import plotly.io as pio
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    first_chart = True

    def figures(items: list[dict[str, Any]]) -> str:
        nonlocal first_chart
        out = []
        for chart in items:
            snippet = pio.to_html(go.Figure(chart), full_html=False, include_plotlyjs=first_chart)
            first_chart = False
            out.append(f'<div class="chart">{snippet}</div>')
        return "\n".join(out)

    placed: set[str] = set()
    body = []
    for agent, chunk in _split_sections(report.markdown):
        body.append(md.render(chunk))
        if agent and agent not in placed:
            placed.add(agent)
            body.append(figures(report.charts.get(agent, [])))
    rest = [c for a in AGENTS if a not in placed for c in report.charts.get(a, [])]
    if rest:
        body += ["<h2>Charts</h2>", figures(rest)]
    return (
        "<!doctype html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        f"<title>Weekly GTM report — {report.generated_at:%Y-%m-%d}</title>\n<style>{_CSS}</style>\n</head>\n"
        f"<body>\n{''.join(body)}\n<hr>\n<p class='meta'>{html.escape(_footer(report))}</p>\n</body>\n</html>\n"
    )
