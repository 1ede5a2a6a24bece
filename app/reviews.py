"""The review index: every escalation, its state and an audit log of decisions.

The pending interrupt itself lives in the LangGraph checkpointer (so it survives restarts); this
index lets the console and `gtm review list` find it across threads without scanning every
checkpoint, makes "two reviewers decide the same item" safe (an atomic claim), and keeps the audit.
"""

from __future__ import annotations

import asyncio
import builtins
import json
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from app.data.db import add_missing_columns
from app.data.schema import tickets

metadata = sa.MetaData()

reviews = sa.Table(
    "reviews",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("review_id", sa.String(32), unique=True),
    sa.Column("thread_id", sa.String(200), nullable=False, index=True),
    sa.Column("request_message_id", sa.String(200), nullable=False),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("draft", sa.Text, nullable=False),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("passages_json", sa.Text, nullable=False, default="[]"),
    sa.Column("grounding_json", sa.Text),  # the model's grounding verdict (graph.llm.grounding), or NULL
    sa.Column("requester", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),  # pending | deciding | decided
    sa.Column("decision", sa.String(16)),
    sa.Column("final_answer", sa.Text),
    sa.Column("decided_by", sa.String(200)),
    sa.Column("decided_at", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("thread_id", "request_message_id", name="uq_review_request"),
)

review_audit = sa.Table(
    "review_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("review_id", sa.String(32), nullable=False, index=True),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("reviewer", sa.String(200), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("before_text", sa.Text),
    sa.Column("after_text", sa.Text),
    sa.Column("note", sa.Text),
    sa.Column("kb_document", sa.String(300)),  # the knowledge-base document the answer was added as, or NULL
)


class ReviewConflict(Exception):
    """Someone else already decided (or is deciding) this review."""


class ReviewStore:
    """Escalation records in the business database (SQLite by default, any SQLAlchemy URL)."""

    def __init__(self, engine: Engine) -> None:
        """Use `engine`; tables are created on first use."""
        self.engine = engine
        self._ready = False

    def _ensure(self) -> None:
        if not self._ready:
            tickets.metadata.create_all(self.engine)
            metadata.create_all(self.engine)
            add_missing_columns(self.engine, reviews)  # a table made by an earlier version
            add_missing_columns(self.engine, review_audit)
            self._ready = True

    # -- writes --------------------------------------------------------------------------------
    def _open(self, fields: dict[str, Any]) -> str:
        self._ensure()
        key = (fields["thread_id"], fields["request_message_id"])
        with self.engine.begin() as conn:
            existing = conn.execute(
                sa.select(reviews.c.review_id).where(
                    reviews.c.thread_id == key[0], reviews.c.request_message_id == key[1]
                )
            ).scalar()
            if existing:
                return str(existing)
            row_id = conn.execute(
                reviews.insert().values(
                    thread_id=key[0],
                    request_message_id=key[1],
                    question=fields["question"],
                    draft=fields["draft"],
                    confidence=float(fields["confidence"]),
                    passages_json=json.dumps(fields.get("passages", []), default=str),
                    grounding_json=json.dumps(fields["grounding"]) if fields.get("grounding") else None,
                    requester=fields.get("requester", "anonymous"),
                    status="pending",
                    created_at=datetime.now(UTC),
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            review_id = f"R-{int(row_id):05d}"
            conn.execute(reviews.update().where(reviews.c.id == row_id).values(review_id=review_id))
            now = datetime.now(UTC).replace(tzinfo=None)
            conn.execute(
                tickets.insert().values(
                    created_at=now,
                    updated_at=now,
                    subject=fields["question"][:300],
                    body=fields["question"],
                    status="open",
                    priority="normal",
                    category="escalation",
                    channel="chat",
                    review_id=review_id,
                    thread_id=key[0][:64],
                )
            )
            return review_id

    async def open_review(self, **fields: Any) -> str:
        """Record a pending review (idempotent per thread and request message) and return its id."""
        return await asyncio.to_thread(self._open, fields)

    def _claim(self, review_id: str, reviewer: str) -> None:
        self._ensure()
        with self.engine.begin() as conn:
            updated = conn.execute(
                reviews.update()
                .where(reviews.c.review_id == review_id, reviews.c.status == "pending")
                .values(status="deciding", decided_by=reviewer, decided_at=datetime.now(UTC))  # when claimed
            ).rowcount
        if updated == 1:
            return
        with self.engine.connect() as conn:  # read after losing, so the message names who won
            row = conn.execute(
                sa.select(reviews.c.status, reviews.c.decided_by).where(reviews.c.review_id == review_id)
            ).first()
        if row is None:
            raise KeyError(review_id)
        by = row.decided_by or "another reviewer"
        if row.status == "deciding":
            raise ReviewConflict(f"review {review_id} is being decided by {by} right now")
        if row.status == "pending":  # the winner gave it back (its decision failed) in between
            raise ReviewConflict(f"review {review_id} changed while you were deciding; try again")
        raise ReviewConflict(f"review {review_id} was already decided by {by} ({row.status})")

    async def claim(self, review_id: str, reviewer: str) -> None:
        """Take a pending review for a decision (atomic: exactly one reviewer wins).

        Raises:
            KeyError: no such review.
            ReviewConflict: it is no longer pending.
        """
        await asyncio.to_thread(self._claim, review_id, reviewer)

    def _release(self, review_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                reviews.update()
                .where(reviews.c.review_id == review_id, reviews.c.status == "deciding")
                .values(status="pending", decided_by=None, decided_at=None)
            )

    async def release(self, review_id: str) -> None:
        """Give a claimed review back (the decision could not be applied)."""
        await asyncio.to_thread(self._release, review_id)

    def _complete(self, review_id: str, action: str, reviewer: str, final_answer: str, note: str | None) -> None:
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            draft = conn.execute(sa.select(reviews.c.draft).where(reviews.c.review_id == review_id)).scalar()
            conn.execute(
                reviews.update()
                .where(reviews.c.review_id == review_id)
                .values(
                    status="decided", decision=action, final_answer=final_answer, decided_by=reviewer, decided_at=now
                )
            )
            conn.execute(
                review_audit.insert().values(
                    review_id=review_id,
                    action=action,
                    reviewer=reviewer,
                    at=now,
                    before_text=draft,
                    after_text=final_answer,
                    note=note,
                )
            )
            # The escalation's ticket: an answer was sent (approve / edit) → solved; a rejection tells the
            # requester their request "stays open", so the ticket does too.
            conn.execute(
                tickets.update()
                .where(tickets.c.review_id == review_id)
                .values(
                    status="open" if action == "reject" else "solved",
                    updated_at=now.replace(tzinfo=None, microsecond=0),
                )
            )

    async def complete(self, review_id: str, action: str, reviewer: str, final_answer: str, note: str | None) -> None:
        """Mark a review decided and write the audit entry (who, when, what changed)."""
        await asyncio.to_thread(self._complete, review_id, action, reviewer, final_answer, note)

    def _record_kb_document(self, review_id: str, document: str) -> bool:
        self._ensure()
        with self.engine.begin() as conn:
            last = conn.execute(
                sa.select(sa.func.max(review_audit.c.id)).where(review_audit.c.review_id == review_id)
            ).scalar()
            if last is None:
                return False
            conn.execute(review_audit.update().where(review_audit.c.id == last).values(kb_document=document))
            return True

    async def record_kb_document(self, review_id: str, document: str) -> bool:
        """Note in the review's latest audit entry that its answer was added to the knowledge base as `document`.

        Returns:
            Whether an audit entry was found (the review was decided).
        """
        return await asyncio.to_thread(self._record_kb_document, review_id, document)

    # -- reads ---------------------------------------------------------------------------------
    @staticmethod
    def _row(row: Any) -> dict[str, Any]:
        data = dict(row._mapping)
        data["passages"] = json.loads(data.pop("passages_json") or "[]")
        grounding = data.pop("grounding_json", None)
        data["grounding"] = json.loads(grounding) if grounding else None
        data.pop("id", None)
        return data

    def _get(self, review_id: str) -> dict[str, Any] | None:
        self._ensure()
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(reviews).where(reviews.c.review_id == review_id)).first()
        return self._row(row) if row else None

    async def get(self, review_id: str) -> dict[str, Any] | None:
        """One review by id, or `None`."""
        return await asyncio.to_thread(self._get, review_id)

    async def ticket_of(self, review_id: str) -> int | None:
        """The number of the ticket opened with a review (with it, in one transaction), or `None`."""
        from app.tickets import TicketStore

        ticket = await TicketStore(self.engine).aby_review(review_id)
        return int(ticket["id"]) if ticket else None

    def _list(self, status: str | None) -> list[dict[str, Any]]:
        self._ensure()
        query = sa.select(reviews).order_by(reviews.c.id)
        if status:
            query = query.where(reviews.c.status == status)
        with self.engine.connect() as conn:
            return [self._row(r) for r in conn.execute(query)]

    async def list(self, status: str | None = "pending") -> list[dict[str, Any]]:
        """Reviews with `status` (all when `None`), oldest first."""
        return await asyncio.to_thread(self._list, status)

    async def pending_escalations(self) -> int:
        """How many reviews are waiting."""
        return len(await self.list("pending"))

    def _audit(self, review_id: str | None) -> builtins.list[dict[str, Any]]:
        self._ensure()
        query = sa.select(review_audit).order_by(review_audit.c.id)
        if review_id:
            query = query.where(review_audit.c.review_id == review_id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    async def audit(self, review_id: str | None = None) -> builtins.list[dict[str, Any]]:
        """The decisions made, oldest first (one review's when `review_id` is given)."""
        return await asyncio.to_thread(self._audit, review_id)
