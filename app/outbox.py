"""The outbox: win-back drafts waiting for approval, and the record of what was sent.

One row per recipient of a campaign, keyed by (thread, campaign, customer): staging the same drafts
again (a node that re-runs, a retried request) never duplicates a row. The row's `status` is the
single source of truth for sending:

    draft ─approve→ approved ─claim→ sending ─┬→ sent
      │                                        └→ failed
      └─drop / reject→ dropped

Sending claims a row atomically (`approved → sending`, one writer wins) *before* talking to the mail
server and records `sent` (with the time and the deterministic Message-ID) right after, in the same
step. A resumed or retried run only ever picks up `approved` rows, so an email is never sent twice.
A row left in `sending` means the process stopped mid-send: it may have been delivered, so it is
never retried automatically (look for its Message-ID in the mail log). A `failed` row was refused or
never reached the server; `retry_failed` (`gtm outbox retry`) puts it back to `approved` and sends it
again with the same Message-ID, so a receiving server can still recognise a duplicate.

A campaign id is the id of the request message that started it, so a second win-back on the same
thread gets its own rows.

Every email keeps its compliance footer (`app.mail.with_compliance_footer`: the sender's sign-off, the
postal address and the recipient's unsubscribe link): a draft or an approver's edit without it gets the
missing parts re-appended when it is staged or decided (`footer_gaps` says which, to tell the approver),
and sending checks once more and adds a `List-Unsubscribe` header.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from app.data.schema import customers
from app.mail import (
    Sender,
    SendError,
    SenderUnavailable,
    compose,
    message_id,
    missing_compliance,
    unsubscribe_headers,
    with_compliance_footer,
)

OutboxStatus = Literal["draft", "approved", "dropped", "sending", "sent", "failed"]
"""Where one recipient's email stands."""

OPEN_STATUSES = ("draft", "approved")
"""Rows a decision may still change."""

WINBACK_STATUSES: tuple[OutboxStatus, ...] = ("sent", "sending", "failed", "approved", "draft")
"""Rows that count as a customer's win-back (all but `dropped`), the furthest along first."""

DEFAULT_SUBJECT = "A note from Lumio"
"""Subject used when a draft does not start with a `Subject:` line."""

metadata = sa.MetaData()

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("thread_id", sa.String(200), nullable=False, index=True),
    sa.Column("campaign_id", sa.String(200), nullable=False),
    sa.Column("customer_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("email", sa.String(254)),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("original_body", sa.Text, comment="The draft as written, when an approver edited it"),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("message_id", sa.String(300), nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("decided_by", sa.String(200)),
    sa.Column("note", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    sa.UniqueConstraint("thread_id", "campaign_id", "customer_id", name="uq_outbox_recipient"),
)
"""One drafted email per recipient and campaign."""

_SUBJECT = re.compile(r"\A\s*subject:\s*(?P<subject>[^\n]*)\n+", re.IGNORECASE)


def split_draft(text: str) -> tuple[str, str]:
    """Subject and body of a draft whose first line may be `Subject: ...`."""
    match = _SUBJECT.match(text)
    if not match or not match.group("subject").strip():
        return DEFAULT_SUBJECT, text.strip()
    return match.group("subject").strip(), text[match.end() :].strip()


@dataclass
class OutboxItem:
    """One outbox row."""

    thread_id: str
    campaign_id: str
    customer_id: str
    name: str
    email: str | None
    subject: str
    body: str
    status: OutboxStatus
    message_id: str
    error: str | None = None
    decided_by: str | None = None
    note: str | None = None
    original_body: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    sent_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (times as ISO strings)."""
        data = asdict(self)
        for key in ("created_at", "updated_at", "sent_at"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


@dataclass
class Delivery:
    """What one sending pass did."""

    sent: list[str]
    """Customers whose email went out in this pass."""
    failed: dict[str, str]
    """Customers whose email failed in this pass, with the error."""


def _now() -> datetime:
    return datetime.now(UTC)


class Outbox:
    """Outbox rows in the business database (SQLite by default, any SQLAlchemy URL); calls run in threads."""

    def __init__(self, engine: Engine, from_address: str = "Lumio <hello@lumio.io>") -> None:
        """Use `engine` (the table is created on first use); `from_address` names the Message-IDs."""
        self.engine = engine
        self.from_address = from_address
        self._ready = False

    def _ensure(self) -> None:
        if not self._ready:
            metadata.create_all(self.engine, checkfirst=True)
            self._ready = True

    @staticmethod
    def _item(row: Any) -> OutboxItem:
        data = dict(row._mapping)
        data.pop("id", None)
        return OutboxItem(**data)

    def _select(
        self, conn: Connection, thread_id: str | None, campaign_id: str | None, status: str | None
    ) -> list[OutboxItem]:
        query = sa.select(outbox).order_by(outbox.c.id)
        if thread_id is not None:
            query = query.where(outbox.c.thread_id == thread_id)
        if campaign_id is not None:
            query = query.where(outbox.c.campaign_id == campaign_id)
        if status is not None:
            query = query.where(outbox.c.status == status)
        return [self._item(r) for r in conn.execute(query)]

    # -- staging -------------------------------------------------------------------------------
    def _insert_missing(self, conn: Connection, rows: list[dict[str, Any]]) -> None:
        dialect = conn.dialect.name
        key = ["thread_id", "campaign_id", "customer_id"]
        if dialect == "sqlite":
            from sqlalchemy.dialects import sqlite

            conn.execute(sqlite.insert(outbox).on_conflict_do_nothing(index_elements=key), rows)
            return
        if dialect == "postgresql":
            from sqlalchemy.dialects import postgresql

            conn.execute(postgresql.insert(outbox).on_conflict_do_nothing(index_elements=key), rows)
            return
        for row in rows:  # other databases: one savepoint per row, a duplicate is skipped
            try:
                with conn.begin_nested():
                    conn.execute(outbox.insert().values(**row))
            except IntegrityError:
                continue

    def _stage(self, thread_id: str, campaign_id: str, drafts: dict[str, str]) -> list[OutboxItem]:
        self._ensure()
        with self.engine.begin() as conn:
            columns = (
                customers.c.id,
                customers.c.name,
                customers.c.contact_name,
                customers.c.email,
                customers.c.country,
            )
            contacts = {str(r.id): r for r in conn.execute(sa.select(*columns).where(customers.c.id.in_(list(drafts))))}
            now = _now()
            rows = []
            for customer_id, text in drafts.items():
                subject, body = split_draft(text)
                contact = contacts.get(customer_id)
                body, _ = with_compliance_footer(body, customer_id, contact.country if contact else None)
                rows.append(
                    {
                        "thread_id": thread_id,
                        "campaign_id": campaign_id,
                        "customer_id": customer_id,
                        "name": str((contact.contact_name or contact.name) if contact else customer_id),
                        "email": (contact.email or None) if contact else None,
                        "subject": subject,
                        "body": body,
                        "status": "draft",
                        "message_id": message_id(self.from_address, thread_id, campaign_id, customer_id),
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            if rows:
                self._insert_missing(conn, rows)
            return self._select(conn, thread_id, campaign_id, None)

    async def stage(self, thread_id: str, campaign_id: str, drafts: dict[str, str]) -> list[OutboxItem]:
        """Put one draft per customer in the outbox (existing rows are left as they are) and return the campaign.

        Args:
            thread_id: the conversation.
            campaign_id: the request that started the campaign.
            drafts: draft text by customer id (a first line `Subject: ...` becomes the subject).
        """
        return await asyncio.to_thread(self._stage, thread_id, campaign_id, drafts)

    # -- reading -------------------------------------------------------------------------------
    def _items(self, thread_id: str | None, campaign_id: str | None, status: str | None) -> list[OutboxItem]:
        self._ensure()
        with self.engine.connect() as conn:
            return self._select(conn, thread_id, campaign_id, status)

    async def items(
        self, thread_id: str | None = None, campaign_id: str | None = None, status: str | None = None
    ) -> list[OutboxItem]:
        """Outbox rows, oldest first, optionally of one thread, campaign or status."""
        return await asyncio.to_thread(self._items, thread_id, campaign_id, status)

    def _countries(self, conn: Connection, customer_ids: list[str]) -> dict[str, str | None]:
        query = sa.select(customers.c.id, customers.c.country).where(customers.c.id.in_(customer_ids))
        return {str(r.id): r.country for r in conn.execute(query)}

    def _footer_gaps(self, edits: dict[str, str]) -> dict[str, list[str]]:
        with self.engine.connect() as conn:
            countries = self._countries(conn, list(edits))
        gaps = {cid: missing_compliance(split_draft(text)[1], cid, countries.get(cid)) for cid, text in edits.items()}
        return {cid: missing for cid, missing in gaps.items() if missing}

    async def footer_gaps(self, edits: dict[str, str]) -> dict[str, list[str]]:
        """For each edited draft (text by customer id) that lacks part of the compliance footer, the parts it lacks.

        `decide` re-appends those parts; this tells the approver which (e.g. `["unsubscribe link"]`).
        """
        return await asyncio.to_thread(self._footer_gaps, dict(edits))

    def _winback_statuses(self, customer_ids: list[str]) -> dict[str, OutboxStatus]:
        self._ensure()
        query = sa.select(outbox.c.customer_id, outbox.c.status).where(
            outbox.c.customer_id.in_(customer_ids), outbox.c.status.in_(WINBACK_STATUSES)
        )
        best: dict[str, OutboxStatus] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                cid, status = str(row.customer_id), row.status
                if cid not in best or WINBACK_STATUSES.index(status) < WINBACK_STATUSES.index(best[cid]):
                    best[cid] = status
        return best

    async def winback_statuses(self, customer_ids: list[str]) -> dict[str, OutboxStatus]:
        """How far each customer's win-back has gone, over every thread.

        `sent` if one was sent, else `sending`, `failed`, `approved` (not sent yet) or `draft` (waiting for
        approval); customers without one (or with only dropped ones) are left out.
        """
        return await asyncio.to_thread(self._winback_statuses, list(customer_ids))

    # -- the approver's decision ---------------------------------------------------------------
    def _decide(
        self,
        thread_id: str,
        campaign_id: str,
        action: str,
        edits: dict[str, str],
        drop: list[str],
        reviewer: str,
        note: str | None,
    ) -> list[OutboxItem]:
        self._ensure()
        now = _now()
        campaign = (outbox.c.thread_id == thread_id) & (outbox.c.campaign_id == campaign_id)
        undecided = campaign & (outbox.c.status == "draft") & outbox.c.decided_by.is_(None)
        with self.engine.begin() as conn:
            # The first statement takes the write lock: of two concurrent decisions, one applies, the other
            # finds nothing undecided and changes nothing.
            claimed = conn.execute(
                outbox.update().where(undecided).values(decided_by=reviewer, note=note, updated_at=now)
            ).rowcount
            if claimed:
                mine = campaign & (outbox.c.decided_by == reviewer) & outbox.c.status.in_(OPEN_STATUSES)
                if action == "reject":
                    conn.execute(outbox.update().where(mine).values(status="dropped"))
                else:
                    countries = self._countries(conn, list(edits))
                    for customer_id, text in edits.items():
                        subject, body = split_draft(text)
                        body, _ = with_compliance_footer(body, customer_id, countries.get(customer_id))
                        row = mine & (outbox.c.customer_id == customer_id)
                        conn.execute(
                            outbox.update()
                            .where(row & outbox.c.original_body.is_(None))
                            .values(original_body=outbox.c.body)
                        )
                        values: dict[str, Any] = {"body": body}
                        if _SUBJECT.match(text):
                            values["subject"] = subject
                        conn.execute(outbox.update().where(row).values(**values))
                    if drop:
                        conn.execute(
                            outbox.update().where(mine & outbox.c.customer_id.in_(drop)).values(status="dropped")
                        )
                    conn.execute(outbox.update().where(mine & (outbox.c.status == "draft")).values(status="approved"))
            return self._select(conn, thread_id, campaign_id, None)

    async def decide(
        self,
        thread_id: str,
        campaign_id: str,
        *,
        action: str,
        edits: dict[str, str] | None = None,
        drop: list[str] | None = None,
        reviewer: str = "reviewer",
        note: str | None = None,
    ) -> list[OutboxItem]:
        """Apply an approver's decision to a campaign's drafts, once.

        Edits replace a draft's body (and its subject when the text starts with `Subject:`; the
        original is kept); an edit without the compliance footer gets its missing parts re-appended
        (`footer_gaps` names them). Dropped recipients and every draft of a rejection become `dropped`, the
        other drafts `approved`. A campaign already decided is left unchanged, so applying the same
        decision again (a resumed node) or a second decision (a concurrent approver) is harmless.

        Returns:
            The campaign's rows after the decision.
        """
        return await asyncio.to_thread(
            self._decide, thread_id, campaign_id, action, dict(edits or {}), list(drop or []), reviewer, note
        )

    # -- sending -------------------------------------------------------------------------------
    def _claim(self, thread_id: str, campaign_id: str, customer_id: str) -> OutboxItem | None:
        self._ensure()
        key = (
            (outbox.c.thread_id == thread_id)
            & (outbox.c.campaign_id == campaign_id)
            & (outbox.c.customer_id == customer_id)
        )
        with self.engine.begin() as conn:
            won = conn.execute(
                outbox.update().where(key & (outbox.c.status == "approved")).values(status="sending", updated_at=_now())
            ).rowcount
            if won != 1:
                return None
            row = conn.execute(sa.select(outbox).where(key)).first()
            if row is None:
                return None
            item = self._item(row)
            # A row staged or edited without the compliance footer (by an older version, or by hand) gets it now,
            # and the row keeps the text that is sent.
            country = self._countries(conn, [customer_id]).get(customer_id)
            item.body, added = with_compliance_footer(item.body, customer_id, country)
            if added:
                conn.execute(outbox.update().where(key).values(body=item.body))
        return item

    def _finish(self, item: OutboxItem, error: str | None) -> None:
        key = (
            (outbox.c.thread_id == item.thread_id)
            & (outbox.c.campaign_id == item.campaign_id)
            & (outbox.c.customer_id == item.customer_id)
            & (outbox.c.status == "sending")
        )
        now = _now()
        values: dict[str, Any] = (
            {"status": "failed", "error": error, "updated_at": now}
            if error
            else {"status": "sent", "error": None, "sent_at": now, "updated_at": now}
        )
        with self.engine.begin() as conn:
            conn.execute(outbox.update().where(key).values(**values))

    def _requeue(self, thread_id: str, customers: list[str] | None) -> list[str]:
        self._ensure()
        failed = (outbox.c.thread_id == thread_id) & (outbox.c.status == "failed")
        if customers:
            failed = failed & outbox.c.customer_id.in_(customers)
        with self.engine.begin() as conn:
            campaigns = [
                str(c) for c in conn.execute(sa.select(outbox.c.campaign_id).where(failed).distinct()).scalars()
            ]
            conn.execute(outbox.update().where(failed).values(status="approved", error=None, updated_at=_now()))
        return campaigns

    async def retry_failed(self, thread_id: str, sender: Sender, customers: list[str] | None = None) -> Delivery:
        """Send a thread's `failed` emails again (all, or only `customers`'), each at most once more.

        The rows go back to `approved` and through `deliver`, so the claim protocol still guarantees
        a single send per row even if two retries race; `sent`, `dropped` and `sending` rows are never
        touched.
        """
        campaigns = await asyncio.to_thread(self._requeue, thread_id, list(customers or []))
        sent: list[str] = []
        failed: dict[str, str] = {}
        for campaign_id in campaigns:
            delivery = await self.deliver(thread_id, campaign_id, sender)
            sent += delivery.sent
            failed.update(delivery.failed)
        return Delivery(sent=sent, failed=failed)

    async def deliver(self, thread_id: str, campaign_id: str, sender: Sender) -> Delivery:
        """Send every `approved` email of a campaign through `sender`, each exactly once.

        Each row is claimed (`approved → sending`) before it is sent and marked `sent` or `failed`
        right after. Every email has the compliance footer (re-appended if missing) and a
        `List-Unsubscribe` header. When the server is unavailable, the remaining rows are marked `failed` with the
        same error without further attempts. Nothing raises for a failed email: the outcome is in the
        returned `Delivery` and in the rows.
        """
        pending = await self.items(thread_id, campaign_id, "approved")
        sent: list[str] = []
        failed: dict[str, str] = {}
        unavailable: str | None = None
        for candidate in pending:
            item = await asyncio.to_thread(self._claim, thread_id, campaign_id, candidate.customer_id)
            if item is None:  # someone else claimed it (or it was decided differently meanwhile)
                continue
            error = unavailable
            if error is None and not item.email:
                error = "no email address on file for this customer"
            if error is None:
                message = compose(
                    from_address=sender.from_address,
                    to=f"{item.name} <{item.email}>",
                    subject=item.subject,
                    body=item.body,
                    msg_id=item.message_id,
                    headers={
                        "X-GTM-Thread": thread_id,
                        "X-GTM-Customer": item.customer_id,
                        **unsubscribe_headers(item.customer_id),
                    },
                )
                try:
                    await sender.send(message)
                except SenderUnavailable as exc:
                    error = unavailable = str(exc)
                except SendError as exc:
                    error = str(exc)
                except Exception as exc:  # noqa: BLE001 - a broken sender fails the email, never the run
                    error = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
            await asyncio.to_thread(self._finish, item, error)
            if error is None:
                sent.append(item.customer_id)
            else:
                failed[item.customer_id] = error
        return Delivery(sent=sent, failed=failed)
