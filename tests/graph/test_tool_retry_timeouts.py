"""Tool retries outside the agent loop back off exponentially, and a tool that writes is not retried after a
timeout (its worker thread may still write): one slow insert opens one ticket, not three.

Real tools over the seeded SQLite database; the failures are injected into the data layer they call."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
import sqlalchemy as sa
from langgraph.checkpoint.memory import InMemorySaver

from app.data.db import get_engine
from app.runtime import Copilot
from app.services import build_services
from app.settings import Settings
from app.tickets import TicketStore
from graph.tools import executor
from graph.tools.executor import call_with_retries
from graph.tools.registry import build_tools


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits the executor asks `asyncio.sleep` for (returned at once)."""
    requested: list[float] = []
    real_sleep = asyncio.sleep

    async def record(delay: float, result: Any = None) -> Any:
        requested.append(delay)
        return await real_sleep(0, result)

    monkeypatch.setattr(executor.asyncio, "sleep", record)
    return requested


@pytest.fixture
def locked_ticket_stats(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """`ticket_stats`' query fails as SQLite does when the database stays locked (a transient error)."""
    calls: list[int] = []

    def locked(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        raise sa.exc.OperationalError("SELECT count(*) FROM tickets", {}, Exception("database is locked"))

    monkeypatch.setattr("app.data.queries.ticket_stats", locked)
    return calls


@pytest.mark.parametrize(
    ("attempts", "wait_min", "wait_max", "expected"),
    [
        (3, 2.0, 10.0, [2.0, 4.0]),  # the product rule: 3 attempts, the seed's 2 s .. 10 s
        (5, 0.5, 1.5, [0.5, 1.0, 1.5, 1.5]),  # doubling, capped at the maximum
    ],
)
async def test_call_with_retries_backs_off_like_the_retry_node(
    settings: Settings,
    waits: list[float],
    locked_ticket_stats: list[int],
    attempts: int,
    wait_min: float,
    wait_max: float,
    expected: list[float],
) -> None:
    tuned = settings.model_copy(update={"retry_wait_min_s": wait_min, "retry_wait_max_s": wait_max})
    engine = get_engine(tuned.business_db_url)
    try:
        tool = next(t for t in build_tools(engine, tuned)["support"] if t.name == "ticket_stats")
        with pytest.raises(RuntimeError, match="database is locked"):
            await call_with_retries(tool, "support", {"period": "last 7 days"}, attempts=attempts, timeout_s=30.0)
    finally:
        engine.dispose()
    assert len(locked_ticket_stats) == attempts
    assert waits == expected  # one wait between two attempts, none after the last


async def test_report_branches_wait_between_retries(
    settings: Settings, waits: list[float], locked_ticket_stats: list[int]
) -> None:
    tuned = settings.model_copy(update={"retry_wait_min_s": 0.25, "retry_wait_max_s": 1.0})
    async with Copilot.open(tuned, services=build_services(tuned), checkpointer=InMemorySaver()) as copilot:
        result = await copilot.ask("give me the weekly report")
    assert result.route == "parallel"
    assert len(locked_ticket_stats) == tuned.max_tool_attempts == 3
    assert "database is locked" in result.answer  # the support section failed; the report did not
    assert waits == [0.25, 0.5]


class SlowInserts:
    """Holds every `TicketStore.create` until released, counting the calls and the ones still running."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0
        self.running = 0
        self.changed = threading.Condition()

    def wrap(self, create: Any) -> Any:
        def slow_create(store: TicketStore, *args: Any, **kwargs: Any) -> Any:
            with self.changed:
                self.calls += 1
                self.running += 1
            try:
                self.release.wait(timeout=60)
                return create(store, *args, **kwargs)
            finally:
                with self.changed:
                    self.running -= 1
                    self.changed.notify_all()

        return slow_create

    def finish(self) -> None:
        """Let the held inserts run and wait until all of them are done."""
        self.release.set()
        with self.changed:
            assert self.changed.wait_for(lambda: self.running == 0, timeout=60)


async def test_a_timed_out_ticket_is_not_opened_again(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    slow = SlowInserts()
    monkeypatch.setattr(TicketStore, "create", slow.wrap(TicketStore.create))
    tuned = settings.model_copy(update={"tool_timeout_s": 0.05})
    subject = "The hub in room 9 keeps rebooting"
    async with Copilot.open(tuned, services=build_services(tuned), checkpointer=InMemorySaver()) as copilot:
        store = TicketStore(copilot.services.extras["engine"])
        before = store.count()
        try:
            result = await copilot.ask(f"Open a ticket: {subject.lower()}", user_id="sam")
        finally:
            slow.finish()  # the abandoned insert still completes in its thread
        after = store.list(limit=5)
        assert store.count() == before + 1
    assert slow.calls == 1  # not retried
    assert [t["subject"] for t in after].count(subject) == 1
    assert "may still have been created" in result.answer and "gtm ticket list" in result.answer
    assert "Traceback" not in result.answer
