"""Support tools: the ticket API (volume, look up, list, create, update) over `app.tickets.TicketStore`.

`create_ticket` and `update_ticket` write, so they are marked `writes` (`graph.tools.deps.make_tool`): a call
that times out is not retried, since its insert or update may still finish in the worker thread (a retry
opened the same ticket three times when the insert was slow). The user is told to check `gtm ticket list`
instead.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Literal, get_args

from langchain_core.tools import BaseTool
from pydantic import BaseModel, ConfigDict, Field

from app.tickets import Priority, Status, TicketError, TicketStore, UnknownTicket
from graph.tools.base import FatalToolError, InvalidToolInput, Table, ToolResult
from graph.tools.deps import ToolDeps, make_tool

CREATE_TIMEOUT = "the ticket request timed out; it may still have been created: check `gtm ticket list`"
"""The error of a `create_ticket` call that timed out (it is not retried: it could open the ticket twice)."""
UPDATE_TIMEOUT = "the ticket update timed out; it may still have been applied: check `gtm ticket show <number>`"
"""The error of an `update_ticket` call that timed out (not retried either)."""

TicketGroup = Literal["category", "status", "priority", "channel"]
"""What ticket counts can be broken down by (`channel`: where the ticket came in)."""
TICKET_GROUP_ALIASES: dict[str, Any] = {
    "category": ["categories", "by topic", "per topic", "topics", "by type", "per type", "issue type"],
    "status": ["statuses", "by state"],
    "priority": ["priorities", "urgency"],
    "channel": ["channels", "by source", "per source", "intake channel"],
}
"""Phrases the offline model maps to each breakdown (JSON-schema `x-aliases`)."""
VOLUME_CUES: list[Any] = [
    *("opened", "created", "came in", "come in", "submitted", "raised", "filed", "logged", "received", "new tickets"),
    *("volume", "breakdown", "broken down", "by category", "per category", "by priority", "by channel", "by status"),
    *("resolution time", "backlog", "escalated", "solved"),
]
"""Words of a request about how many tickets came in over a period (`x-strong-cues` of `ticket_stats`): "How many
tickets were opened last week by category?" is a count, not the list of the newest tickets."""


class TicketStatsArgs(BaseModel):
    """Arguments of `ticket_stats`."""

    model_config = ConfigDict(json_schema_extra={"x-strong-cues": VOLUME_CUES})

    period: str = Field(default="last 7 days", description="Period phrase, e.g. 'last 7 days', 'last month'")
    group_by: TicketGroup | None = Field(
        default=None,
        description="Break the tickets created in the period down by this field (a count per value)",
        json_schema_extra={"x-aliases": TICKET_GROUP_ALIASES},
    )


TICKET_GROUPS: tuple[str, ...] = get_args(TicketGroup)


class LookupTicketArgs(BaseModel):
    """Arguments of `lookup_ticket`."""

    ticket_id: int = Field(ge=1, description="Ticket number")


class ListTicketsArgs(BaseModel):
    """Arguments of `list_tickets`."""

    status: Status | None = Field(default=None, description="Only tickets with this status")
    priority: Priority | None = Field(default=None, description="Only tickets with this priority")
    escalated: bool | None = Field(default=None, description="Only tickets escalated to a reviewer (true) or not")
    period: str | None = Field(
        default=None, description="Only tickets created in this period, e.g. 'last week'; any date when empty"
    )
    limit: int = Field(default=10, ge=1, le=50, description="How many tickets, newest first")


class CreateTicketArgs(BaseModel):
    """Arguments of `create_ticket`."""

    subject: str = Field(min_length=1, max_length=300, description="One-line summary of the problem")
    body: str | None = Field(default=None, max_length=20_000, description="The details, in the customer's words")
    priority: Priority = Field(default="normal", description="How urgent it is")
    category: str = Field(default="general", max_length=32, description="Topic, e.g. billing, shipping, sso")


class UpdateTicketArgs(BaseModel):
    """Arguments of `update_ticket`."""

    ticket_id: int = Field(ge=1, description="Ticket number")
    status: Status | None = Field(default=None, description="New status")
    priority: Priority | None = Field(default=None, description="New priority")


def ticket_stats(deps: ToolDeps, period: str = "last 7 days", group_by: str | None = None) -> ToolResult:
    """Support volume for a period (broken down by `group_by` when given) and the open backlog."""
    from app.data.queries import ticket_stats as stats

    p = deps.period(period, "last 7 days")
    data = stats(deps.engine, p.start, p.end)
    created = int(data.get("created", 0))
    by_category = sorted((data.get("by_category") or {}).items(), key=lambda kv: -kv[1])
    facts = [
        f"{data.get('solved', 0):,} solved; open backlog {data.get('open_backlog', 0):,} tickets",
        f"Median resolution time: {data.get('median_resolution_hours') or 0:.1f} hours",
        f"{data.get('escalated', 0):,} tickets were escalated to a human reviewer",
    ]
    table: Table | None = None
    headline = f"{created:,} support tickets created {p.label}"
    if group_by is not None:
        if group_by not in TICKET_GROUPS:
            raise InvalidToolInput(f"unknown breakdown {group_by!r}: expected one of {', '.join(TICKET_GROUPS)}")
        groups = sorted((data.get(f"by_{group_by}") or {}).items(), key=lambda kv: (-kv[1], kv[0]))
        headline += f", by {group_by}"
        table = Table(columns=[group_by, "tickets", "share"], rows=[[k, v, f"{v / created:.1%}"] for k, v in groups])
        facts.insert(0, f"By {group_by}: " + (", ".join(f"{k} {v:,}" for k, v in groups) or "no tickets"))
    elif by_category:
        facts.append("Top categories: " + ", ".join(f"{k} ({v})" for k, v in by_category[:4]))
    return ToolResult(
        headline=headline,
        facts=facts,
        table=table,
        method=f"Tickets created between {p.start} and {p.end}"
        + (f", counted by {group_by}" if group_by else "")
        + "; the open backlog is every open or pending ticket, of any date",
        data={**{k: v for k, v in data.items() if isinstance(v, int | float | str | dict)}, "group_by": group_by},
    )


def _ticket_line(t: dict[str, Any]) -> str:
    return f"#{t['id']} {t['status']} · {t['priority']} · {t['category']}: {t['subject']}"


def _ticket_data(t: dict[str, Any]) -> dict[str, Any]:
    return {k: t.get(k) for k in ("id", "status", "priority", "category", "channel", "review_id", "thread_id")}


def _store(deps: ToolDeps) -> TicketStore:
    return TicketStore(deps.engine)


def lookup_ticket(deps: ToolDeps, ticket_id: int) -> ToolResult:
    """One ticket by number, with its linked review when it was an escalation."""
    try:
        t = _store(deps).show(ticket_id)
    except UnknownTicket as exc:  # no retry or correction finds a ticket that is not there
        raise FatalToolError(str(exc)) from exc
    facts = [
        f"Created {t['created_at'][:16].replace('T', ' ')} UTC via {t['channel']}; "
        f"last update {t['updated_at'][:16].replace('T', ' ')} UTC",
        f"Category: {t['category']}",
    ]
    review = t.get("review")
    if review:
        decided = f", {review['decision']} by {review['decided_by']}" if review.get("decided_by") else ""
        facts.append(f"Escalation {review['review_id']}: {review['status']}{decided}")
    return ToolResult(
        headline=f"Ticket #{t['id']} is {t['status']} ({t['priority']} priority): {t['subject']}",
        facts=facts,
        data=_ticket_data(t),
    )


def list_tickets(
    deps: ToolDeps,
    status: str | None = None,
    priority: str | None = None,
    escalated: bool | None = None,
    period: str | None = None,
    limit: int = 10,
) -> ToolResult:
    """The newest tickets matching the filters (created in `period` when given)."""
    store = _store(deps)
    p = deps.period(period, "last 7 days") if period else None
    filters: dict[str, Any] = {"status": status, "priority": priority, "escalated": escalated}
    if p is not None:
        filters.update(created_from=p.start, created_to=p.end)
    try:
        rows = store.list(**filters, limit=limit)
        total = store.count(**filters) if len(rows) == limit else len(rows)
    except TicketError as exc:
        raise InvalidToolInput(str(exc)) from exc
    which = " ".join(x for x in (status, priority, "escalated" if escalated else None) if x)
    headline = f"{total:,} {which + ' ' if which else ''}ticket{'s' if total != 1 else ''}"
    if p is not None:
        headline += f" created {p.label}"
    if total > len(rows):
        headline += f"; the {len(rows)} newest"
    elif rows:
        headline += ", newest first"
    return ToolResult(
        headline=headline,
        facts=[_ticket_line(t) for t in rows] or ["No tickets match."],
        data={"total": total, "tickets": [_ticket_data(t) for t in rows]},
    )


def create_ticket(
    deps: ToolDeps, subject: str, body: str | None = None, priority: str = "normal", category: str = "general"
) -> ToolResult:
    """Open a ticket."""
    try:
        t = _store(deps).create(subject, body, priority=priority, category=category, channel="chat")
    except TicketError as exc:
        raise InvalidToolInput(str(exc)) from exc
    return ToolResult(
        headline=f"Opened ticket #{t['id']} ({t['priority']} priority): {t['subject']}",
        facts=[f"Status: {t['status']}; category: {t['category']}; channel: chat"],
        data=_ticket_data(t),
    )


def update_ticket(deps: ToolDeps, ticket_id: int, status: str | None = None, priority: str | None = None) -> ToolResult:
    """Change a ticket's status and/or priority (a closed ticket only by reopening it)."""
    store = _store(deps)
    try:
        current = store.get(ticket_id)
        if current["status"] == "closed" and status not in (None, "open"):
            raise TicketError(f"ticket #{ticket_id} is closed: reopen it (status open) before marking it {status}")
        if status == current["status"] and priority in (None, current["priority"]):
            return ToolResult(
                headline=f"Ticket #{ticket_id} is already {status} ({current['priority']} priority)",
                facts=[_ticket_line(current)],
                data=_ticket_data(current),
            )
        t = store.update(ticket_id, status=status, priority=priority)
    except (TicketError, UnknownTicket) as exc:  # no such ticket, or nothing to change: the request must change
        raise FatalToolError(str(exc)) from exc
    return ToolResult(
        headline=f"Ticket #{t['id']} is now {t['status']} ({t['priority']} priority)",
        facts=[_ticket_line(t)],
        data=_ticket_data(t),
    )


def build_support_tools(deps: ToolDeps) -> list[BaseTool]:
    """The Support agent's tools (retrieval itself is the graph's RAG step)."""
    tool = partial(make_tool, deps)

    return [
        tool(
            ticket_stats,
            "ticket_stats",
            "How many support tickets were created, solved or escalated in a period: support volume, backlog, "
            "resolution time, and counts by category, status, priority or channel.",
            TicketStatsArgs,
        ),
        tool(
            lookup_ticket,
            "lookup_ticket",
            "What is the status of ticket number N? Look up one support ticket by its number: status, priority, category.",
            LookupTicketArgs,
        ),
        tool(
            list_tickets,
            "list_tickets",
            "List or show the latest support tickets, e.g. all open tickets or urgent ones, newest first.",
            ListTicketsArgs,
        ),
        tool(
            create_ticket,
            "create_ticket",
            "Create a new support ticket: open or file a ticket for a customer problem, with a subject and details.",
            CreateTicketArgs,
            writes=CREATE_TIMEOUT,
        ),
        tool(
            update_ticket,
            "update_ticket",
            "Mark ticket number N as solved or closed, reopen it, or change its priority: update one existing ticket.",
            UpdateTicketArgs,
            writes=UPDATE_TIMEOUT,
        ),
    ]
