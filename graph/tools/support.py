"""Support tools: the ticket API (look up, list volume) over the business database."""

from __future__ import annotations

from functools import partial

import sqlalchemy as sa
from langchain_core.tools import BaseTool
from pydantic import BaseModel, Field

from graph.tools.base import InvalidToolInput, ToolResult
from graph.tools.deps import ToolDeps, make_tool


class TicketStatsArgs(BaseModel):
    """Arguments of `ticket_stats`."""

    period: str = Field(default="last 7 days", description="Period phrase, e.g. 'last 7 days', 'last month'")


class LookupTicketArgs(BaseModel):
    """Arguments of `lookup_ticket`."""

    ticket_id: int = Field(ge=1, description="Ticket number")


def ticket_stats(deps: ToolDeps, period: str = "last 7 days") -> ToolResult:
    """Support volume for a period and the open backlog."""
    from app.data.queries import ticket_stats as stats

    p = deps.period(period, "last 7 days")
    data = stats(deps.engine, p.start, p.end)
    by_category = sorted((data.get("by_category") or {}).items(), key=lambda kv: -kv[1])
    facts = [
        f"{data.get('solved', 0):,} solved; open backlog {data.get('open_backlog', 0):,} tickets",
        f"Median resolution time: {data.get('median_resolution_hours') or 0:.1f} hours",
        f"{data.get('escalated', 0):,} tickets were escalated to a human reviewer",
    ]
    if by_category:
        facts.append("Top categories: " + ", ".join(f"{k} ({v})" for k, v in by_category[:4]))
    return ToolResult(
        headline=f"{data.get('created', 0):,} support tickets created {p.label}",
        facts=facts,
        method=f"Tickets created between {p.start} and {p.end}",
        data={k: v for k, v in data.items() if isinstance(v, int | float | str | dict)},
    )


def lookup_ticket(deps: ToolDeps, ticket_id: int) -> ToolResult:
    """One ticket by number."""
    from app.data.schema import tickets

    with deps.engine.connect() as conn:
        row = conn.execute(sa.select(tickets).where(tickets.c.id == ticket_id)).first()
    if row is None:
        raise InvalidToolInput(f"no ticket #{ticket_id}")
    t = row._mapping
    return ToolResult(
        headline=f"Ticket #{t['id']} is {t['status']} ({t['priority']} priority): {t['subject']}",
        facts=[
            f"Created {t['created_at']:%Y-%m-%d %H:%M} UTC via {t['channel']}; last update {t['updated_at']:%Y-%m-%d %H:%M} UTC",
            f"Category: {t['category']}" + (f"; review {t['review_id']}" if t["review_id"] else ""),
        ],
        data={"id": t["id"], "status": t["status"], "priority": t["priority"], "category": t["category"]},
    )


def build_support_tools(deps: ToolDeps) -> list[BaseTool]:
    """The Support agent's tools (retrieval itself is the graph's RAG step)."""
    tool = partial(make_tool, deps)

    return [
        tool(
            ticket_stats,
            "ticket_stats",
            "Support volume: tickets created, solved, backlog and escalations for a period.",
            TicketStatsArgs,
        ),
        tool(
            lookup_ticket,
            "lookup_ticket",
            "Look up one support ticket by its number: status, priority, category.",
            LookupTicketArgs,
        ),
    ]
