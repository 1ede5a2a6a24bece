"""The `runs` table: which runs count as abandoned, atomic claims, thread owners."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from app.runs import RunStore, runs, worker_dead


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_finished_runs_are_not_abandoned_and_owner_is_the_first_user(tmp_path):
    store = RunStore(sa.create_engine(f"sqlite:///{tmp_path / 'b.db'}"))
    first = store.start("t1", "alice", "ask")
    store.finish(first, "done")
    second = store.start("t1", "rita", "review")
    assert store.owner("t1") == "alice" and store.owner("nope") is None
    assert [r.id for r in store.unfinished()] == [second]
    assert store.abandoned() == []  # running, but in this (live) process
    store.finish(second, "failed", "boom")
    assert [(r.kind, r.status) for r in store.list("t1")] == [("ask", "done"), ("review", "failed")]


def test_a_dead_local_worker_or_a_stale_remote_one_is_abandoned_and_claimed_once(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'b.db'}")
    store = RunStore(engine, stale_s=60)
    crashed = store.start("t-dead", "alice", "ask")
    remote_stale = store.start("t-stale", "bob", "ask")
    remote_live = store.start("t-live", "carol", "ask")
    local_dead = f"{socket.gethostname()}:{dead_pid()}"
    old = datetime.now(UTC) - timedelta(seconds=600)
    with engine.begin() as conn:
        conn.execute(runs.update().where(runs.c.id == crashed).values(worker=local_dead))
        conn.execute(runs.update().where(runs.c.id == remote_stale).values(worker="elsewhere:1", heartbeat_at=old))
        conn.execute(runs.update().where(runs.c.id == remote_live).values(worker="elsewhere:2"))
    assert worker_dead(local_dead) and not worker_dead("elsewhere:1")
    other_process = RunStore(engine, stale_s=60)
    abandoned = other_process.abandoned()
    assert [r.thread_id for r in abandoned] == ["t-dead", "t-stale"]
    assert other_process.claim(abandoned[0]) is True
    assert store.claim(abandoned[0]) is False  # already taken over: nobody resumes it twice
    assert [r.thread_id for r in other_process.abandoned()] == ["t-stale"]
