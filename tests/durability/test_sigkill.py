"""SIGKILL the real server in the middle of a graph run and with an escalation pending, restart it on the
same GTM_HOME, and find nothing lost: the thread and its message are there, the interrupted run resumes
to completion (also into the chat history), and the pending review is still decidable."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.kb_slice import copy_kb

from .server import WHITE_LABEL, Server, add_user, base_env, gtm, sse, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

REPORT = "Give me the weekly report"
OWNER = "alice"


@dataclass
class Crash:
    server: Server
    home: Path
    staff: str
    reviewer: str
    thread_id: str
    nodes_before_kill: list[str]
    events_before_kill: list[str]
    review_id: str
    review_thread: str


def add_chat_thread(home: Path, thread_id: str, username: str) -> None:
    """The chat history row Chainlit writes when a chat starts (the thread is the LangGraph thread)."""
    db = sqlite3.connect(home / "chainlit.db")
    with db:
        db.execute(
            "INSERT OR IGNORE INTO users (id, identifier, metadata, createdAt) VALUES (?, ?, '{}', '2026-01-01')",
            ("u-" + username, username),
        )
        db.execute(
            'INSERT INTO threads (id, "createdAt", name, "userId", "userIdentifier") VALUES (?, ?, ?, ?, ?)',
            (thread_id, "2026-01-01T00:00:00Z", REPORT, "u-" + username, username),
        )
    db.close()


@pytest.fixture(scope="module")
def crash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crash]:
    root = tmp_path_factory.mktemp("durability")
    home = root / "home"
    env = base_env(home, copy_kb(root / "kb"), GTM_OFFLINE_LATENCY_S="1.5")
    gtm(env, "setup")
    staff = add_user(env, OWNER, "staff")
    reviewer = add_user(env, "rita", "reviewer")
    server = Server(env, name="durability").start()
    try:
        with server.client(staff) as client:
            escalated = client.post("/api/ask", json={"message": WHITE_LABEL}).json()
            assert escalated["escalated"] and escalated["review_id"], escalated
            thread_id = "crash-" + uuid.uuid4().hex
            add_chat_thread(home, thread_id, OWNER)
            nodes: list[str] = []
            events: list[str] = []
            with client.stream("POST", "/api/ask?stream=true", json={"message": REPORT, "thread_id": thread_id}) as r:
                assert r.status_code == 200
                for event, data in sse(r.iter_lines()):
                    events.append(event)
                    if event == "step":
                        nodes.append(data["node"])
                    if event == "step" and data["node"] != "__start__":
                        server.kill()  # after the first node's update: the rest of the run is pending
                        break
        server.start()
        yield Crash(
            server=server,
            home=home,
            staff=staff,
            reviewer=reviewer,
            thread_id=thread_id,
            nodes_before_kill=nodes,
            events_before_kill=events,
            review_id=escalated["review_id"],
            review_thread=escalated["thread_id"],
        )
    finally:
        server.stop()


def test_run_killed_mid_way_resumes_after_restart(crash: Crash):
    assert crash.nodes_before_kill[:1] == ["__start__"] and len(crash.nodes_before_kill) == 2
    assert "done" not in crash.events_before_kill and "token" not in crash.events_before_kill
    with crash.server.client(crash.staff) as client:
        thread = client.get(f"/api/threads/{crash.thread_id}")
        assert thread.status_code == 200, thread.text  # the thread survived, and still belongs to its owner
        assert thread.json()["messages"][0] == {"role": "user", "name": None, "content": REPORT}

        def finished():
            body = client.get(f"/api/threads/{crash.thread_id}").json()
            return body if body["status"] == "complete" and body["last_answer"] else None

        done = wait_for(finished, timeout_s=240)
    assert done["route"] == "parallel"
    assert [m["role"] for m in done["messages"]][:1] == ["user"] and done["messages"][-1]["role"] == "assistant"
    answer = done["last_answer"]
    assert "weekly" in answer.lower() and len(answer) > 300, answer[:500]

    def history_steps():  # the resumed answer also reaches the chat history of the thread (just after)
        db = sqlite3.connect(crash.home / "chainlit.db")
        try:
            return db.execute(
                "SELECT type, output FROM steps WHERE \"threadId\" = ? AND type = 'assistant_message'",
                (crash.thread_id,),
            ).fetchall()
        finally:
            db.close()

    assert wait_for(history_steps, timeout_s=60) == [("assistant_message", answer)]
    db = sqlite3.connect(crash.home / "business.db")
    runs = db.execute("SELECT status, worker FROM runs WHERE thread_id = ?", (crash.thread_id,)).fetchall()
    db.close()
    assert len(runs) == 1 and runs[0][0] == "done"


def test_pending_escalation_survives_sigkill_and_is_approved(crash: Crash):
    with crash.server.client(crash.reviewer) as reviewer:
        pending = reviewer.get("/api/reviews").json()["reviews"]
        assert [r["review_id"] for r in pending] == [crash.review_id]
        assert pending[0]["requester"] == OWNER and "white-label" in pending[0]["question"]
        draft = pending[0]["draft"]
        decided = reviewer.post(f"/api/reviews/{crash.review_id}/decide", json={"action": "approve"})
        assert decided.status_code == 200, decided.text
        assert reviewer.get("/api/reviews").json()["reviews"] == []
    with crash.server.client(crash.staff) as client:
        thread = client.get(f"/api/threads/{crash.review_thread}").json()
    assert thread["status"] == "complete"
    assert thread["messages"][0]["content"] == WHITE_LABEL
    assert thread["last_answer"] == decided.json()["answer"]
    assert draft.split(".")[0] in thread["last_answer"]
