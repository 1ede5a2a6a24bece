"""The Copilot compiled against `AsyncPostgresSaver` with the business database on PostgreSQL too:
a finance answer, an escalation decided by a reviewer, and the weekly report — same code as SQLite,
chosen by settings."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

from app.runtime import Copilot
from app.settings import Settings
from app.tickets import TicketStore
from graph.review import OutboxDecision, ReviewDecision
from tests.durability.server import WHITE_LABEL
from tests.graph.test_outbox import WINBACK

from .conftest import Stack

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def settings_for(stack: Stack) -> Settings:
    return Settings(
        home=stack.homes[0],
        kb_dir=stack.kb_dir,
        database_url=stack.database_url,
        checkpoint_url=stack.checkpoint_url,
        redis_url=stack.redis_url,
        llm_provider="offline",
        retry_wait_min_s=0.0,
        retry_wait_max_s=0.0,
    )


async def test_finance_escalation_and_weekly_report_on_postgres(stack: Stack):
    settings = settings_for(stack)
    async with Copilot.open(settings) as copilot:
        assert isinstance(copilot.graph.checkpointer, AsyncPostgresSaver)
        finance = await copilot.ask("What was our CAC by channel last quarter?", user_id="pat")
        assert finance.route == "finance" and "CAC" in finance.answer and not finance.errors

        escalated = await copilot.ask(WHITE_LABEL, user_id="pat")
        assert escalated.escalated and escalated.review_id
        pending = await copilot.pending_reviews()
        assert [r["review_id"] for r in pending] == [escalated.review_id]
        decided = await copilot.decide(
            escalated.review_id, ReviewDecision(action="edit", text="Not today: see our partner programme.")
        )
        assert "partner programme" in decided.answer
        assert (await copilot.thread(escalated.thread_id))["status"] == "complete"
        assert await copilot.pending_reviews() == []

        report = await copilot.ask("Give me the weekly report", user_id="pat")
        assert report.route == "parallel" and "weekly" in report.answer.lower() and len(report.agents) >= 3

        assert await copilot.thread_owner(report.thread_id) == "pat"
    engine = sa.create_engine(stack.database_url)
    try:
        with engine.connect() as conn:
            checkpoints = conn.execute(
                sa.text("select count(*) from checkpoints where thread_id = :t"), {"t": finance.thread_id}
            ).scalar_one()
            reviews = conn.execute(
                sa.text("select status, decision from reviews where review_id = :r"), {"r": escalated.review_id}
            ).one()
            runs = conn.execute(
                sa.text("select kind, status from runs where thread_id = :t order by id"), {"t": escalated.thread_id}
            ).all()
            logged = conn.execute(sa.text("select count(*) from request_log")).scalar_one()
    finally:
        engine.dispose()
    assert checkpoints > 0  # the graph's state is in PostgreSQL
    assert tuple(reviews) == ("decided", "edit")
    assert [tuple(r) for r in runs] == [("ask", "done"), ("review", "done")]
    assert logged >= 4


async def test_winback_outbox_and_tickets_on_postgres(stack: Stack, smtp):
    settings = settings_for(stack).model_copy(update={"smtp_port": smtp.port, "smtp_timeout_s": 5.0})
    async with Copilot.open(settings) as copilot:
        paused = await copilot.ask(WINBACK, user_id="maya@lumio.io")
        assert paused.pending_approval and (await copilot.thread(paused.thread_id))["status"] == "pending_approval"
        items = await copilot.outbox_items(paused.thread_id)
        assert len(items) >= 5 and {i.status for i in items} == {"draft"}
        assert [a["thread_id"] for a in await copilot.pending_approvals()] == [paused.thread_id]
        dropped = items[0].customer_id
        result = await copilot.decide_outbox(
            paused.thread_id, OutboxDecision(action="approve_some", drop=[dropped], reviewer="rita")
        )
        assert f"sent {len(items) - 1}, dropped 1, failed 0" in result.answer
        after = {i.customer_id: i.status for i in await copilot.outbox_items(paused.thread_id)}
        assert after[dropped] == "dropped" and set(after.values()) == {"dropped", "sent"}
    assert len(smtp.inbox.messages) == len(items) - 1
    tickets = TicketStore(sa.create_engine(stack.database_url))
    try:
        opened = tickets.create("PG ticket", "on postgres", priority="high")
        updated = tickets.update(opened["id"], status="closed")
        assert tickets.get(opened["id"])["subject"] == "PG ticket" and updated["status"] == "closed"
    finally:
        tickets.engine.dispose()
