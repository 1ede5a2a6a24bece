"""Liveness and readiness: `/healthz` answers as soon as the server listens, `/readyz` once the warm-up is
done, and requests that arrive in between wait for what they need instead of failing."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from app.services import ClassifierRouter, KnowledgeAdapter
from app.settings import Settings

from .test_api import bearer

SUPPORT = "How do I get a refund for an annual plan?"


async def wait_ready(client: Any, timeout_s: float = 120.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        response = await client.get("/readyz")
        if response.status_code == 200 or loop.time() > deadline:
            return response
        await asyncio.sleep(0.05)


async def test_requests_before_ready_are_answered_and_readyz_turns_ready_after_the_warm_up(
    start_web: Any, web_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = threading.Event()  # the routing classifier is "still loading" until set
    vectors = asyncio.Event()  # the knowledge-base sentence vectors are "still being embedded" until set
    load, warm = ClassifierRouter.load, KnowledgeAdapter.warm

    def slow_load(self: ClassifierRouter) -> Any:
        assert models.wait(60)
        return load(self)

    async def slow_warm(self: KnowledgeAdapter) -> int:
        await vectors.wait()
        return await warm(self)

    monkeypatch.setattr(ClassifierRouter, "load", slow_load)
    monkeypatch.setattr(KnowledgeAdapter, "warm", slow_warm)
    async with start_web(web_settings) as web:
        client = web.client()
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        waiting = await client.get("/readyz")
        assert waiting.status_code == 503 and waiting.json() == {"status": "warming up"}

        api = await bearer(web, "staff")
        asking = asyncio.create_task(api.post("/api/ask", json={"message": SUPPORT}))
        await asyncio.sleep(0.2)
        assert not asking.done()  # it needs the router, which is still loading: it waits
        models.set()
        response = await asyncio.wait_for(asking, 120)
        assert response.status_code == 200, response.text
        assert response.json()["route"] == "support" and response.json()["answer"]
        assert (await client.get("/readyz")).status_code == 503  # sentence vectors not done yet

        vectors.set()
        ready = await wait_ready(client)
        assert ready.status_code == 200 and ready.json() == {"status": "ready"}


async def test_a_failed_warm_up_keeps_readyz_at_503_and_is_tried_again(
    start_web: Any, web_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    search = KnowledgeAdapter.asearch
    broken = True

    async def flaky(self: KnowledgeAdapter, query: str, k: int = 5, **options: Any) -> Any:
        if broken:
            raise RuntimeError("index unreadable")
        return await search(self, query, k, **options)

    monkeypatch.setattr(KnowledgeAdapter, "asearch", flaky)
    monkeypatch.setattr("app.web.server.WARM_UP_RETRY_S", (0.05, 0.05))
    async with start_web(web_settings) as web:
        client = web.client()
        for _ in range(200):
            response = await client.get("/readyz")
            if response.json()["status"] != "warming up":
                break
            await asyncio.sleep(0.05)
        assert response.status_code == 503
        assert response.json() == {"status": "warm-up failed"}  # no details for unauthenticated callers
        assert (await client.get("/healthz")).status_code == 200

        broken = False  # the index is readable again: the next attempt succeeds
        ready = await wait_ready(client)
        assert ready.status_code == 200 and ready.json() == {"status": "ready"}


async def test_blocking_work_of_many_chats_runs_side_by_side(start_web: Any, web_settings: Settings) -> None:
    """Twenty blocking calls (embedding, SQLite, pandas) are in flight at once: asyncio's default pool would
    queue them behind its cpu_count + 4 threads (6 on two cores) and the barrier would time out."""
    from app.web.server import BLOCKING_THREADS

    side_by_side = 20
    assert side_by_side < BLOCKING_THREADS  # room for the warm-up's own threads
    barrier = threading.Barrier(side_by_side, timeout=30)
    async with start_web(web_settings):
        waited = await asyncio.gather(*(asyncio.to_thread(barrier.wait) for _ in range(side_by_side)))
    assert sorted(waited) == list(range(side_by_side))
