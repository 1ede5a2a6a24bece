"""Concurrent chats on the SQLite checkpointer: no "database is locked", no lost message."""

from __future__ import annotations

import asyncio

from app.runtime import Copilot
from app.services import build_services
from app.settings import Settings

REQUESTS = [
    "What was our CAC last quarter?",
    "What is the API rate limit on the Starter plan?",
    "Segment our customers with RFM",
    "How did our channels perform over the last 30 days?",
]


async def test_two_processes_worth_of_connections_write_concurrently(settings: Settings):
    # Two Copilots = two checkpointer connections to one SQLite file, as two app processes would have.
    async with (
        Copilot.open(settings, services=build_services(settings)) as first,
        Copilot.open(settings, services=build_services(settings)) as second,
    ):
        jobs = [
            (first if i % 2 else second).ask(REQUESTS[i % len(REQUESTS)], thread_id=f"t{i}", user_id=f"u{i}")
            for i in range(12)
        ]
        results = await asyncio.gather(*jobs)
        assert all(r.answer and not r.errors for r in results)
        for i, result in enumerate(results):
            view = await (second if i % 2 else first).thread(f"t{i}")  # read through the other connection
            assert [m["role"] for m in view["messages"]] == ["user", "assistant"]
            assert view["messages"][0]["content"] == REQUESTS[i % len(REQUESTS)]
            assert view["last_answer"] == result.answer
