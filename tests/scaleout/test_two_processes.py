"""Two app processes (real `gtm serve`, separate GTM_HOMEs) sharing PostgreSQL (checkpoints, business data,
accounts), Redis and the session secret, serving one thread: one after the other, then both at once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from tests.durability.server import Server, add_user, token

from .conftest import REDIS_DB, Stack

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

FIRST = "What is our monthly churn rate?"
FOLLOW_UP = "and last quarter?"
"""A fragment: in a thread it keeps the previous turn's route (insights); alone it goes to finance."""


@pytest.fixture(scope="module")
def staff_token(stack: Stack) -> str:
    """An account made through process A's settings; its token works on every process (shared database)."""
    return add_user(stack.env(0), "pat", "staff")


@pytest.fixture
def servers(stack: Stack) -> Iterator[list[Server]]:
    started = [Server(stack.env(0), name="scaleout-a"), Server(stack.env(1), name="scaleout-b")]
    try:
        yield started
    finally:
        for server in started:
            server.stop()


def turns(thread: dict) -> list[tuple[str, str]]:
    return [(m["role"], m["content"][:40]) for m in thread["messages"]]


def test_process_b_continues_a_thread_started_on_process_a(stack: Stack, staff_token: str, servers: list[Server]):
    a, b = servers
    thread_id = "shared-" + uuid.uuid4().hex
    a.start()
    with a.client(staff_token) as client:
        first = client.post("/api/ask", json={"message": FIRST, "thread_id": thread_id})
    assert first.status_code == 200, first.text
    assert first.json()["route"] == "insights"
    a.stop()

    b.start()  # a different process and home: only PostgreSQL and Redis are shared
    with b.client(staff_token) as client:
        follow = client.post("/api/ask", json={"message": FOLLOW_UP, "thread_id": thread_id})
        assert follow.status_code == 200, follow.text
        thread = client.get(f"/api/threads/{thread_id}").json()
        other = client.post("/api/ask", json={"message": FOLLOW_UP})  # the same fragment without the history
    # answered in context: the fragment kept the route of A's turn, which it does not take on its own
    assert follow.json()["route"] == "insights"
    assert other.json()["route"] == "finance"
    assert [role for role, _ in turns(thread)] == ["user", "assistant", "user", "assistant"]
    assert thread["messages"][0]["content"] == FIRST and thread["messages"][2]["content"] == FOLLOW_UP
    assert thread["last_answer"] == follow.json()["answer"]
    assert redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB).dbsize() > 0  # the shared L2 cache is used


def test_both_processes_at_once_alternate_on_one_thread(stack: Stack, staff_token: str, servers: list[Server]):
    a, b = servers
    a.start()
    b.start()
    second = token(stack.env(1), "pat")  # a second token, made through process B's settings
    thread_id = "alternate-" + uuid.uuid4().hex
    questions = [
        "What is our monthly churn rate?",
        "and last quarter?",
        "What was our CAC last quarter?",
        "and last month?",
    ]
    answers = []
    with a.client(staff_token) as on_a, b.client(second) as on_b:
        for i, question in enumerate(questions):
            client = on_a if i % 2 == 0 else on_b
            response = client.post("/api/ask", json={"message": question, "thread_id": thread_id})
            assert response.status_code == 200, (i, response.text)
            answers.append(response.json())
        seen_by_a = on_a.get(f"/api/threads/{thread_id}").json()
        seen_by_b = on_b.get(f"/api/threads/{thread_id}").json()
    assert seen_by_a == seen_by_b
    assert [m["content"] for m in seen_by_a["messages"] if m["role"] == "user"] == questions
    assert [m["content"] for m in seen_by_a["messages"] if m["role"] == "assistant"] == [x["answer"] for x in answers]
    assert [x["route"] for x in answers] == ["insights", "insights", "finance", "finance"]  # each in context
    assert all(a["thread_id"] == thread_id for a in answers)
