"""The `runs` table: one row per graph run (a request, a review decision, an outbox decision).

A row is written when a run starts and updated when it ends, so after a crash (SIGKILL, power loss)
the runs that never finished are exactly the rows still `running` — start-up looks at those rows
only, never at every checkpoint. The first run of a thread also names its owner (who may read it).

Several app processes may share one business database (scale-out): each row carries the worker
(`host:pid`) that runs it and a heartbeat renewed while it streams. A row is *abandoned* when its
worker is a dead process on this host, or its heartbeat is older than `stale_s` (another host's
crashed worker). Only abandoned rows are resumed; `claim` is atomic, so two processes starting at
the same time never resume the same run twice.

A thread has at most one `running` row (a partial unique index): two requests on one thread at once,
from two tabs or two processes, would both start from the same checkpoint and the last write would
erase the other's message and answer. The second `start` raises `ThreadBusy` instead, unless the row in
its way is abandoned, or was left by a run of this process that was cancelled (a chat's Stop button):
then that row is closed as `failed` and the new run takes the thread.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import os
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from app.reviews import ReviewConflict

RunStatus = Literal["running", "done", "failed"]
"""`running` until the run ends; `done` (finished or paused for a person) or `failed` (raised)."""

log = logging.getLogger(__name__)

STALE_S = 120.0
"""A `running` row of another host whose heartbeat is older than this is considered abandoned."""

HEARTBEAT_S = 5.0
"""Least interval between two heartbeat writes of one run."""

metadata = sa.MetaData()
_create_lock = threading.Lock()
_ACTIVE: dict[str, set[int]] = {}
"""Per database URL, the ids of this process's runs still going (see `RunStore.start`)."""

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("thread_id", sa.String(200), nullable=False, index=True),
    sa.Column("user_id", sa.String(200), nullable=False, comment="Who the run answers (the thread's requester)"),
    sa.Column("kind", sa.String(16), nullable=False, comment="ask | review | outbox | resume"),
    sa.Column("status", sa.String(16), nullable=False, index=True, comment="running | done | failed"),
    sa.Column("worker", sa.String(300), nullable=False, comment="host:pid of the process running it"),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("error", sa.Text),
)
"""Graph runs, for crash recovery and thread ownership."""

one_running_run = sa.Index(
    "uq_runs_one_running_per_thread",
    runs.c.thread_id,
    unique=True,
    sqlite_where=runs.c.status == "running",
    postgresql_where=runs.c.status == "running",
)
"""At most one `running` row per thread (SQLite and PostgreSQL partial index)."""


class ThreadBusy(ReviewConflict):
    """Another request on the thread is still running (a conflict, like a review someone else is deciding)."""

    def __init__(self, thread_id: str) -> None:
        """Name the thread in a message a person can act on."""
        super().__init__(
            f"thread {thread_id} is still answering an earlier request; ask again once it has finished, "
            "or start a new thread"
        )
        self.thread_id = thread_id


def worker_id() -> str:
    """This process as `host:pid`."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes (stored as UTC)."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def worker_dead(worker: str) -> bool:
    """Whether `worker` (`host:pid`) is known to be gone: a process of this host that no longer exists."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    return int(pid) != os.getpid() and not _pid_alive(int(pid))


@dataclass(frozen=True, slots=True)
class Run:
    """One row of `runs`."""

    id: int
    thread_id: str
    user_id: str
    kind: str
    status: str
    worker: str
    started_at: datetime
    heartbeat_at: datetime


def _row_run(row: Any) -> Run:
    return Run(
        id=row.id,
        thread_id=row.thread_id,
        user_id=row.user_id,
        kind=row.kind,
        status=row.status,
        worker=row.worker,
        started_at=as_utc(row.started_at),
        heartbeat_at=as_utc(row.heartbeat_at),
    )


class RunStore:
    """The `runs` table in the business database (blocking; async callers use the `a*` wrappers)."""

    def __init__(self, engine: Engine, *, stale_s: float = STALE_S) -> None:
        """Use `engine`; the table is created on first use."""
        self.engine = engine
        self.stale_s = stale_s
        self.worker = worker_id()
        self._ready = False
        self._beats: dict[int, datetime] = {}
        self._active = _ACTIVE.setdefault(engine.url.render_as_string(hide_password=False), set())
        """Runs of this process on this database that are still going (shared by every store of the process:
        rows carry the process as their worker; a cancelled run is left out, so its row may be taken over)."""

    def _ensure(self) -> None:
        if self._ready:
            return
        with _create_lock:
            try:
                metadata.create_all(self.engine, checkfirst=True)
            except sa.exc.DatabaseError:  # another engine or process created it between check and create
                if not sa.inspect(self.engine).has_table(runs.name):
                    raise
            try:  # a table created before the index existed gets it now
                one_running_run.create(self.engine, checkfirst=True)
            except sa.exc.DatabaseError as exc:  # another process created it, or old rows break it
                if one_running_run.name not in {i["name"] for i in sa.inspect(self.engine).get_indexes(runs.name)}:
                    log.warning("runs: one-running-run-per-thread index not created (%s)", exc)
        self._ready = True

    def start(self, thread_id: str, user_id: str, kind: str) -> int:
        """Record a run that starts now; returns its id.

        Raises:
            ThreadBusy: another run of the thread is still going.
        """
        self._ensure()
        for attempt in range(2):
            now = _now()
            try:
                with self.engine.begin() as conn:
                    result = conn.execute(
                        runs.insert().values(
                            thread_id=thread_id,
                            user_id=user_id,
                            kind=kind,
                            status="running",
                            worker=self.worker,
                            started_at=now,
                            heartbeat_at=now,
                        )
                    )
                    key = result.inserted_primary_key
                    assert key is not None
                    run_id = int(key[0])
            except sa.exc.IntegrityError as exc:
                if attempt or not self._take_over(thread_id):
                    raise ThreadBusy(thread_id) from exc
                continue
            self._beats[run_id] = now
            self._active.add(run_id)
            return run_id
        raise AssertionError("unreachable")

    def _take_over(self, thread_id: str) -> bool:
        """Close the thread's `running` row when its run is gone (a dead worker, or cancelled here)."""
        cutoff = _now() - timedelta(seconds=self.stale_s)
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.thread_id == thread_id, runs.c.status == "running")).first()
            if row is None:
                return True  # it finished in between
            run = _row_run(row)
            mine = run.worker == self.worker
            gone = (mine and run.id not in self._active) or (
                not mine and (worker_dead(run.worker) or run.heartbeat_at < cutoff)
            )
            if not gone:
                return False
            closed = conn.execute(
                runs.update()
                .where(runs.c.id == run.id, runs.c.status == "running", runs.c.worker == run.worker)
                .values(
                    status="failed", finished_at=_now(), error="abandoned: a new request on the thread took it over"
                )
            ).rowcount
        return closed == 1

    def release(self, run_id: int) -> None:
        """Forget a run of this process that was cancelled.

        Its row stays `running` (a restart resumes it), and a new request on its thread may take it over.
        """
        self._active.discard(run_id)
        self._beats.pop(run_id, None)

    def finish(self, run_id: int, status: RunStatus, error: str | None = None) -> None:
        """Record that a run ended."""
        self._ensure()
        self._beats.pop(run_id, None)
        self._active.discard(run_id)
        with self.engine.begin() as conn:
            conn.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(status=status, finished_at=_now(), error=(error or None) and error[:2000])
            )

    def heartbeat(self, run_id: int) -> None:
        """Say the run is alive (written at most every `HEARTBEAT_S` seconds)."""
        now = _now()
        last = self._beats.get(run_id)
        if last is not None and (now - last).total_seconds() < HEARTBEAT_S:
            return
        self._beats[run_id] = now
        with self.engine.begin() as conn:
            conn.execute(runs.update().where(runs.c.id == run_id).values(heartbeat_at=now))

    def due_heartbeat(self, run_id: int) -> bool:
        """Whether `heartbeat` would write now (lets async callers skip a worker-thread hop)."""
        last = self._beats.get(run_id)
        return last is None or (_now() - last).total_seconds() >= HEARTBEAT_S

    def unfinished(self) -> builtins.list[Run]:
        """Every `running` row, oldest first."""
        self._ensure()
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(runs).where(runs.c.status == "running").order_by(runs.c.id))
            return [_row_run(r) for r in rows]

    def abandoned(self) -> builtins.list[Run]:
        """`running` rows whose worker is gone: a dead process of this host, or a stale heartbeat."""
        cutoff = _now() - timedelta(seconds=self.stale_s)
        return [
            r
            for r in self.unfinished()
            if r.worker != self.worker and (worker_dead(r.worker) or r.heartbeat_at < cutoff)
        ]

    def claim(self, run: Run) -> bool:
        """Atomically take over an abandoned run (False when another process took it first)."""
        self._ensure()
        now = _now()
        with self.engine.begin() as conn:
            taken = conn.execute(
                runs.update()
                .where(runs.c.id == run.id, runs.c.status == "running", runs.c.worker == run.worker)
                .values(worker=self.worker, heartbeat_at=now)
            ).rowcount
        if taken == 1:
            self._beats[run.id] = now
            self._active.add(run.id)
        return taken == 1

    def active(self, thread_id: str) -> bool:
        """Whether a run of the thread is going now (a `running` row whose worker is alive)."""
        cutoff = _now() - timedelta(seconds=self.stale_s)
        for run in self.unfinished():
            if run.thread_id != thread_id:
                continue
            if run.worker == self.worker:
                return run.id in self._active
            return not worker_dead(run.worker) and run.heartbeat_at >= cutoff
        return False

    def owner(self, thread_id: str) -> str | None:
        """Who started the thread (the user of its first run), or `None` when no run is recorded."""
        self._ensure()
        with self.engine.connect() as conn:
            value = conn.execute(
                sa.select(runs.c.user_id).where(runs.c.thread_id == thread_id).order_by(runs.c.id).limit(1)
            ).scalar_one_or_none()
        return str(value) if value is not None else None

    def list(self, thread_id: str) -> builtins.list[Run]:
        """A thread's runs, oldest first."""
        self._ensure()
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(runs).where(runs.c.thread_id == thread_id).order_by(runs.c.id))
            return [_row_run(r) for r in rows]

    # -- async wrappers (worker thread) --------------------------------------------------------
    async def astart(self, thread_id: str, user_id: str, kind: str) -> int:
        """`start` off the event loop."""
        return await asyncio.to_thread(self.start, thread_id, user_id, kind)

    async def afinish(self, run_id: int, status: RunStatus, error: str | None = None) -> None:
        """`finish` off the event loop."""
        await asyncio.to_thread(self.finish, run_id, status, error)

    async def aheartbeat(self, run_id: int) -> None:
        """`heartbeat` off the event loop (no hop when none is due)."""
        if self.due_heartbeat(run_id):
            await asyncio.to_thread(self.heartbeat, run_id)

    async def aactive(self, thread_id: str) -> bool:
        """`active` off the event loop."""
        return await asyncio.to_thread(self.active, thread_id)

    async def aowner(self, thread_id: str) -> str | None:
        """`owner` off the event loop."""
        return await asyncio.to_thread(self.owner, thread_id)
