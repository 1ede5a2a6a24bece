"""The ticket API: create, look up, update and list support tickets in the business database.

Escalations open a ticket linked to their review (`app.reviews`); deciding the review solves it. The
same functions back `gtm ticket ...` and are available to agents. Everything blocks (synchronous SQL):
async callers use the `a*` wrappers, which run in a worker thread.
"""

from __future__ import annotations

import asyncio
import builtins
import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, get_args

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from app.cache.versions import bump_data_versions
from app.data.schema import customers, tickets

Status = Literal["open", "pending", "solved", "closed"]
"""Ticket lifecycle: open (waiting on us) → pending (waiting on the customer) → solved → closed."""
Priority = Literal["low", "normal", "high", "urgent"]
"""How soon it needs an answer."""
Channel = Literal["email", "chat", "web", "phone"]
"""Where it came in."""

STATUSES: tuple[str, ...] = get_args(Status)
PRIORITIES: tuple[str, ...] = get_args(Priority)
CHANNELS: tuple[str, ...] = get_args(Channel)

MAX_SUBJECT_CHARS = 300
"""The `subject` column's size."""
MAX_BODY_CHARS = 20_000
"""Longest ticket body accepted."""
MAX_LIST = 500
"""Most tickets one `list` returns."""


class TicketError(ValueError):
    """Invalid ticket input: a user-facing message saying what was expected."""


class UnknownTicket(LookupError):
    """No ticket with that number."""


def _check(value: str | None, allowed: tuple[str, ...], what: str) -> str | None:
    if value is None:
        return None
    if value not in allowed:
        raise TicketError(f"unknown {what} {value!r}: expected one of {', '.join(allowed)}")
    return value


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _as_json(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    for key, value in data.items():
        if isinstance(value, datetime | date):
            data[key] = value.isoformat()
    return data


MAX_TICKET_ID = 2**63 - 1
"""Ticket numbers are 64-bit database integers: no larger number can name a ticket."""


def parse_ticket_id(value: str | int) -> int:
    """`123`, `"123"` or `"#123"` → 123."""
    text = str(value).strip().lstrip("#")
    if not text.isdigit() or int(text) < 1:
        raise TicketError(f"invalid ticket number {str(value)[:40]!r}: expected a positive integer such as 42 or #42")
    return int(text)


def _known(ticket_id: int) -> int:
    """`ticket_id` when it could name a ticket; otherwise `UnknownTicket` (the database refuses larger integers)."""
    if not 1 <= ticket_id <= MAX_TICKET_ID:
        raise UnknownTicket(f"no ticket #{str(ticket_id)[:40]}")
    return ticket_id


class TicketStore:
    """Tickets in the business database."""

    def __init__(self, engine: Engine) -> None:
        """Use `engine` (usually `app.services.business_engine(settings)`)."""
        self.engine = engine
        self._ready = False

    def _ensure(self) -> None:
        if not self._ready:
            from app.reviews import metadata as review_metadata

            tickets.metadata.create_all(self.engine, checkfirst=True)
            review_metadata.create_all(self.engine, checkfirst=True)
            self._ready = True

    # -- writes --------------------------------------------------------------------------------
    def create(
        self,
        subject: str,
        body: str | None = None,
        *,
        priority: str = "normal",
        category: str = "general",
        channel: str = "web",
        customer_id: str | None = None,
        review_id: str | None = None,
        thread_id: str | None = None,
    ) -> dict[str, Any]:
        """Open a ticket and return it.

        Raises:
            TicketError: empty or oversized subject/body, unknown priority/channel, unknown customer.
        """
        subject = " ".join(subject.split())
        if not subject:
            raise TicketError("the ticket subject is empty")
        if len(subject) > MAX_SUBJECT_CHARS:
            raise TicketError(f"the subject is {len(subject):,} characters long; the limit is {MAX_SUBJECT_CHARS}")
        text = (body or subject).strip()
        if len(text) > MAX_BODY_CHARS:
            raise TicketError(f"the body is {len(text):,} characters long; the limit is {MAX_BODY_CHARS:,}")
        category = " ".join(category.split()).lower()[:32] or "general"
        _check(priority, PRIORITIES, "priority")
        _check(channel, CHANNELS, "channel")
        self._ensure()
        now = _now()
        with self.engine.begin() as conn:
            if customer_id is not None:
                found = conn.execute(sa.select(customers.c.id).where(customers.c.id == customer_id)).first()
                if found is None:
                    raise TicketError(f"no customer with id {customer_id!r}")
            try:
                ticket_id = conn.execute(
                    tickets.insert().values(
                        created_at=now,
                        updated_at=now,
                        customer_id=customer_id,
                        subject=subject,
                        body=text,
                        status="open",
                        priority=priority,
                        category=category,
                        channel=channel,
                        review_id=review_id,
                        thread_id=thread_id[:64] if thread_id else None,
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
            except IntegrityError as exc:
                raise TicketError(f"could not create the ticket: {exc.orig}") from exc
            bump_data_versions(conn, "tickets")
        return self.get(int(ticket_id))

    def update(self, ticket_id: int, *, status: str | None = None, priority: str | None = None) -> dict[str, Any]:
        """Change a ticket's status and/or priority and return it.

        Raises:
            TicketError: nothing to change, or an unknown status/priority.
            UnknownTicket: no such ticket.
        """
        values: dict[str, Any] = {}
        if _check(status, STATUSES, "status"):
            values["status"] = status
        if _check(priority, PRIORITIES, "priority"):
            values["priority"] = priority
        if not values:
            raise TicketError(
                f"nothing to update: give a new status ({', '.join(STATUSES)}) and/or priority ({', '.join(PRIORITIES)})"
            )
        _known(ticket_id)
        self._ensure()
        with self.engine.begin() as conn:
            changed = conn.execute(
                tickets.update().where(tickets.c.id == ticket_id).values(**values, updated_at=_now())
            ).rowcount
            bump_data_versions(conn, "tickets")
        if changed != 1:
            raise UnknownTicket(f"no ticket #{ticket_id}")
        return self.get(ticket_id)

    # -- reads ---------------------------------------------------------------------------------
    def get(self, ticket_id: int) -> dict[str, Any]:
        """One ticket (JSON-ready: timestamps as ISO strings).

        Raises:
            UnknownTicket: no such ticket.
        """
        _known(ticket_id)
        self._ensure()
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(tickets).where(tickets.c.id == ticket_id)).first()
        if row is None:
            raise UnknownTicket(f"no ticket #{ticket_id}")
        return _as_json(row)

    def by_review(self, review_id: str) -> dict[str, Any] | None:
        """The ticket opened for an escalation, or `None`."""
        self._ensure()
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(tickets).where(tickets.c.review_id == review_id).order_by(tickets.c.id).limit(1)
            ).first()
        return _as_json(row) if row else None

    def show(self, ticket_id: int) -> dict[str, Any]:
        """A ticket with its linked review (question, draft, status, decision, who and when) and audit trail.

        Raises:
            UnknownTicket: no such ticket.
        """
        from app.reviews import review_audit, reviews

        ticket = self.get(ticket_id)
        ticket["review"] = None
        if ticket.get("review_id"):
            with self.engine.connect() as conn:
                row = conn.execute(sa.select(reviews).where(reviews.c.review_id == ticket["review_id"])).first()
                audit = conn.execute(
                    sa.select(review_audit)
                    .where(review_audit.c.review_id == ticket["review_id"])
                    .order_by(review_audit.c.id)
                ).all()
            if row is not None:
                review = _as_json(row)
                review.pop("id", None)
                review["passages"] = [
                    {k: p.get(k) for k in ("doc", "section", "score")} for p in json.loads(review.pop("passages_json"))
                ]
                review["audit"] = [_as_json(a) for a in audit]
                ticket["review"] = review
        return ticket

    def list(
        self,
        *,
        status: str | None = None,
        priority: str | None = None,
        category: str | None = None,
        customer_id: str | None = None,
        review_id: str | None = None,
        escalated: bool | None = None,
        created_from: date | None = None,
        created_to: date | None = None,
        limit: int = 50,
    ) -> builtins.list[dict[str, Any]]:
        """Tickets matching every filter given, newest first.

        `created_from` and `created_to` keep tickets created on or after / on or before those days (inclusive).

        Raises:
            TicketError: an unknown status/priority, or `limit` outside 1..500.
        """
        if not 1 <= limit <= MAX_LIST:
            raise TicketError(f"limit must be between 1 and {MAX_LIST}, got {limit}")
        query = sa.select(tickets).order_by(tickets.c.created_at.desc(), tickets.c.id.desc()).limit(limit)
        query = query.where(
            *_filters(status, priority, category, customer_id, review_id, escalated, created_from, created_to)
        )
        self._ensure()
        with self.engine.connect() as conn:
            return [_as_json(r) for r in conn.execute(query)]

    def count(
        self,
        *,
        status: str | None = None,
        priority: str | None = None,
        category: str | None = None,
        customer_id: str | None = None,
        review_id: str | None = None,
        escalated: bool | None = None,
        created_from: date | None = None,
        created_to: date | None = None,
    ) -> int:
        """How many tickets match every filter given (`list` returns at most `limit` of them).

        Raises:
            TicketError: an unknown status/priority.
        """
        query = sa.select(sa.func.count()).select_from(tickets)
        query = query.where(
            *_filters(status, priority, category, customer_id, review_id, escalated, created_from, created_to)
        )
        self._ensure()
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    # -- async wrappers (worker thread) --------------------------------------------------------
    async def aby_review(self, review_id: str) -> dict[str, Any] | None:
        """`by_review` off the event loop."""
        return await asyncio.to_thread(self.by_review, review_id)


def _filters(
    status: str | None,
    priority: str | None,
    category: str | None,
    customer_id: str | None,
    review_id: str | None,
    escalated: bool | None,
    created_from: date | None = None,
    created_to: date | None = None,
) -> list[sa.ColumnElement[bool]]:
    """The WHERE clauses of `TicketStore.list` and `TicketStore.count` (created dates inclusive).

    Raises:
        TicketError: an unknown status/priority.
    """
    _check(status, STATUSES, "status")
    _check(priority, PRIORITIES, "priority")
    values = {
        tickets.c.status: status,
        tickets.c.priority: priority,
        tickets.c.category: category,
        tickets.c.customer_id: customer_id,
        tickets.c.review_id: review_id,
    }
    out: list[sa.ColumnElement[bool]] = [column == value for column, value in values.items() if value is not None]
    if escalated is not None:
        out.append(tickets.c.review_id.is_not(None) if escalated else tickets.c.review_id.is_(None))
    if created_from is not None:
        out.append(tickets.c.created_at >= datetime.combine(created_from, time.min))
    if created_to is not None:  # the whole last day: before midnight of the day after
        out.append(tickets.c.created_at < datetime.combine(created_to + timedelta(days=1), time.min))
    return out
