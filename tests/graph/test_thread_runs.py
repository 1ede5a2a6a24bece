"""One run per thread, and decisions that never get lost.

- Two requests on one thread at once would both start from the same checkpoint, and the last write would
  erase the other's message and answer: the second is refused (`ThreadBusy`), in this process or another.
- A thread part-way through a run reads `running`, never `complete` with a stale answer (a watcher
  waiting for a decision would post the proposal as its outcome).
- A review decision that fails, is cancelled or dies with its process is settled: back in the queue when
  its interrupt still waits, completed from the thread when the graph already applied it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from langgraph.types import Command

from app.reviews import review_audit, reviews
from app.runs import RunStore, ThreadBusy, runs
from app.runtime import Copilot
from app.services import build_services
from app.settings import Settings
from graph.context import Context
from graph.review import ReviewDecision

FIRST = "What was our CAC last quarter?"
SECOND = "And what was our ROAS last quarter?"
UNANSWERABLE = "Do you offer a white-label version of Lumio that resellers can rebrand?"


@pytest.fixture
async def sqlite_copilot(settings: Settings) -> AsyncIterator[Copilot]:
    """The real services with the SQLite checkpointer (what the server uses)."""
    async with Copilot.open(settings, services=build_services(settings)) as c:
        yield c


class Gate:
    """A callback (`on_token`, or a run's heartbeat) that holds a run where it is first called until opened."""

    def __init__(self) -> None:
        self.reached = asyncio.Event()
        self.open = asyncio.Event()

    async def __call__(self, _what: object) -> None:
        self.reached.set()
        await self.open.wait()


async def test_a_second_request_on_a_busy_thread_is_refused_and_nothing_is_lost(sqlite_copilot: Copilot):
    copilot = sqlite_copilot
    gate = Gate()
    first = asyncio.create_task(copilot.ask(FIRST, thread_id="busy", user_id="sam", on_token=gate))
    await asyncio.wait_for(gate.reached.wait(), 120)
    assert (await copilot.thread("busy"))["status"] == "running"  # mid-run: its last answer is not its outcome
    with pytest.raises(ThreadBusy, match="still answering an earlier request"):
        await copilot.ask(SECOND, thread_id="busy", user_id="sam")
    gate.open.set()
    answered = await first
    assert "CAC" in answered.answer
    again = await copilot.ask(SECOND, thread_id="busy", user_id="sam")  # the thread is free again
    assert "ROAS" in again.answer
    thread = await copilot.thread("busy")
    assert thread["status"] == "complete"
    assert [m["content"] for m in thread["messages"] if m["role"] == "user"] == [FIRST, SECOND]
    assert [r.status for r in copilot.runs.list("busy")] == ["done", "done"]  # the refusal ran nothing


async def test_another_process_on_the_same_database_is_refused_too(settings: Settings, sqlite_copilot: Copilot):
    """The lock is the database's (a partial unique index), not a lock of this process."""
    engine = sa.create_engine(str(settings.database_url))
    mine, other = RunStore(engine), RunStore(engine)
    other.worker = "another-host:4242"  # a live worker elsewhere (fresh heartbeat)
    run_id = other.start("shared", "sam", "ask")
    with pytest.raises(ThreadBusy):
        mine.start("shared", "ana", "ask")
    other.finish(run_id, "done")
    assert mine.start("shared", "ana", "ask") > run_id


async def test_a_run_cancelled_here_does_not_lock_its_thread(sqlite_copilot: Copilot):
    """The chat's Stop button cancels a run: the next message on the thread still gets an answer."""
    copilot = sqlite_copilot
    gate = Gate()
    first = asyncio.create_task(copilot.ask(FIRST, thread_id="stopped", user_id="sam", on_token=gate))
    await asyncio.wait_for(gate.reached.wait(), 120)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    again = await copilot.ask(SECOND, thread_id="stopped", user_id="sam")
    assert "ROAS" in again.answer
    assert [r.status for r in copilot.runs.list("stopped")] == ["failed", "done"]  # the cancelled one taken over


async def _escalated(copilot: Copilot) -> tuple[str, str]:
    result = await copilot.ask(UNANSWERABLE, user_id="sam")
    assert result.escalated and result.review_id
    return result.thread_id, str(result.review_id)


async def test_a_claim_left_by_a_dead_decision_comes_back_to_the_queue(sqlite_copilot: Copilot):
    copilot = sqlite_copilot
    _, review_id = await _escalated(copilot)
    await copilot.reviews.claim(review_id, "rita")  # the process died right after claiming
    assert await copilot.settle_reviews(min_age_s=30) == []  # too fresh: another process may be deciding it
    assert [r["review_id"] for r in await copilot.reviews.list("pending")] == []
    assert await copilot.settle_reviews() == [review_id]
    assert [r["review_id"] for r in await copilot.pending_reviews()] == [review_id]
    result = await copilot.decide(review_id, ReviewDecision(action="approve", reviewer="ben"))
    assert result.answer and (await copilot.reviews.get(review_id))["decided_by"] == "ben"


async def test_a_decision_applied_but_not_recorded_is_completed_from_the_thread(settings: Settings):
    """The process died after the graph used the decision, before `reviews.complete`: the next start records it."""
    async with Copilot.open(settings, services=build_services(settings)) as copilot:
        thread_id, review_id = await _escalated(copilot)
        await copilot.reviews.claim(review_id, "rita")
        snapshot = await copilot.graph.aget_state({"configurable": {"thread_id": thread_id}})
        (pending,) = snapshot.interrupts
        text = "Lumio has no white-label edition; partners resell it under the Lumio name. Was this helpful?"
        decision = ReviewDecision(action="edit", text=text, reviewer="rita", note="checked with sales")
        await copilot.graph.ainvoke(
            Command(resume={pending.id: decision.model_dump()}),
            {"configurable": {"thread_id": thread_id}},
            context=Context(services=copilot.services, user_id="sam"),
        )
        assert (await copilot.reviews.get(review_id))["status"] == "deciding"  # as the crash left it
    async with Copilot.open(settings, services=build_services(settings)) as restarted:
        assert await restarted.resume_interrupted() == []
        review = await restarted.reviews.get(review_id)
        assert review["status"] == "decided" and review["decision"] == "edit" and review["decided_by"] == "rita"
        assert review["final_answer"] == text
        assert await restarted.reviews.ticket_of(review_id) is not None
        engine = sa.create_engine(str(settings.database_url))
        with engine.connect() as conn:
            audit = conn.execute(sa.select(review_audit).where(review_audit.c.review_id == review_id)).all()
            ticket_status = conn.execute(
                sa.text("select status from tickets where review_id = :r"), {"r": review_id}
            ).scalar_one()
        assert [(a.action, a.reviewer, a.after_text, a.note) for a in audit] == [
            ("edit", "rita", text, "checked with sales")
        ]
        assert ticket_status == "solved"


async def test_a_decision_cancelled_mid_run_is_finished_and_recorded_at_the_next_start(
    settings: Settings, tmp_path: Path
):
    async with Copilot.open(settings, services=build_services(settings)) as copilot:
        thread_id, review_id = await _escalated(copilot)
        gate = Gate()
        assert copilot.runs is not None
        copilot.runs.aheartbeat = gate  # type: ignore[method-assign]  # called after each step's checkpoint
        text = "No: Lumio is sold under its own name only. Was this helpful?"
        deciding = asyncio.create_task(
            copilot.decide(review_id, ReviewDecision(action="edit", text=text, reviewer="rita"))
        )
        await asyncio.wait_for(gate.reached.wait(), 120)  # human_review has applied the decision (checkpointed)
        deciding.cancel()  # a server shutting down
        with pytest.raises(asyncio.CancelledError):
            await deciding
        review = await copilot.reviews.get(review_id)
        # Never given back to the queue (no interrupt waits for it any more): still being decided, or already
        # recorded from the thread if the graph had finished by the time the cancellation landed.
        assert review["status"] in ("deciding", "decided")
        assert await copilot.pending_reviews() == []
    engine = sa.create_engine(str(settings.database_url))
    with engine.begin() as conn:  # the old process is gone: its row is another (dead) worker's
        conn.execute(
            runs.update()
            .where(runs.c.thread_id == thread_id, runs.c.status == "running")
            .values(worker="gone-host:1", heartbeat_at=datetime(2020, 1, 1, tzinfo=UTC))
        )
    async with Copilot.open(settings, services=build_services(settings)) as restarted:
        assert await restarted.resume_interrupted() in ([thread_id], [])  # [] when the graph had finished
        thread = await restarted.thread(thread_id)
        assert thread["status"] == "complete" and thread["last_answer"] == text
        review = await restarted.reviews.get(review_id)
        assert review["status"] == "decided" and review["final_answer"] == text and review["decided_by"] == "rita"
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(reviews)).scalar_one() == 1
        audit = conn.execute(sa.select(review_audit.c.action).where(review_audit.c.review_id == review_id)).all()
    assert [a.action for a in audit] == ["edit"]  # recorded once
