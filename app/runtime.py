"""The Copilot runtime: one compiled graph with its checkpointer and services.

Used by the CLI and the web app alike: ask, stream, read a thread, list and decide reviews, and
approve (or reject) the win-back emails waiting in the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, cast

from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Command, Durability

from app.monitoring import Monitor, RequestKind, RequestTrace
from app.outbox import Outbox, OutboxItem
from app.reviews import ReviewConflict, ReviewStore
from app.runs import RunStore, as_utc
from app.settings import Settings, get_settings
from app.text import valid_text
from graph.builder import build_graph
from graph.context import Context, Services
from graph.review import OUTBOX_APPROVAL, OutboxDecision, OutboxReviewRequest, ReviewDecision, interrupt_type
from graph.state import AGENTS, WINBACK_ROUTE

STREAMED_NODES = frozenset({"respond"})
"""Nodes whose model tokens are the user's answer."""

DURABILITY: Durability = "sync"
"""Each step's checkpoint is written before the next step starts, so a crash (SIGKILL) never loses a
request that was accepted: the thread and its message exist, and the run resumes from its last step."""


log = logging.getLogger(__name__)


THREAD_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")
"""What a thread id may be (ours are uuid4 hex; callers may bring their own)."""


@dataclass(frozen=True, slots=True)
class RunEvent:
    """One thing that happened during a run, for live progress displays (the chat's steps).

    `kind` is `update` (a node finished: `data` is its state update, or the interrupt for node
    `__interrupt__`) or `token` (a model token written inside a node that is not an answer-writing node,
    e.g. the support draft: `data` is the text).
    """

    kind: Literal["update", "token"]
    node: str
    data: Any


OnEvent = Callable[[RunEvent], Awaitable[None] | None]
"""Receives the `RunEvent`s of a run, in order."""


async def _emit(on_event: OnEvent | None, event: RunEvent) -> None:
    if on_event is not None:
        maybe = on_event(event)
        if maybe is not None:
            await maybe


def _retrieve(task: asyncio.Task[Any]) -> None:
    """Mark a background task's exception as seen (it is reported where it is awaited, if anywhere)."""
    if not task.cancelled():
        task.exception()


def _failed(task: asyncio.Task[Any]) -> bool:
    """Whether `task` ended by raising (or was cancelled)."""
    return task.done() and (task.cancelled() or task.exception() is not None)


CLAIM_GRACE_S = 30.0
"""A review claimed longer ago than this, with no run going on its thread, is settled (`Copilot.settle_reviews`)."""


@dataclass(frozen=True, slots=True)
class _ResumeWith:
    """A resume payload whose interrupt id is known only once the thread is held (see `Copilot._thread_run`)."""

    interrupt_ids: list[str]
    """Filled by the check that runs once the thread is held."""
    value: Any

    def command(self) -> Command[Any]:
        return Command(resume={self.interrupt_ids[0]: self.value})


class UnknownThread(LookupError):
    """No conversation with that id."""


class UnknownReview(LookupError):
    """No review with that id."""


class NoPendingApproval(LookupError):
    """The thread has no win-back emails waiting for approval."""


class InvalidDecision(ValueError):
    """A decision names recipients that are not in the outbox it decides."""


@dataclass
class AskResult:
    """What one request produced (the `gtm ask --json` object)."""

    answer: str
    route: str | None
    agents: list[str]
    citations: list[str]
    confidence: float | None
    escalated: bool
    review_id: str | None
    thread_id: str
    charts: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    pending_approval: bool = False
    grounding: dict[str, Any] | None = None
    """Support with an OpenAI-compatible model: its verdict on the passages (`graph.llm.grounding`)."""

    def to_json(self) -> dict[str, Any]:
        """The JSON object of `gtm ask --json` (charts counted, not inlined)."""
        data = asdict(self)
        data["charts"] = len(self.charts)
        return data


def agents_of(state: dict[str, Any]) -> list[str]:
    """Which agents worked on the current request (every part's, for a compound message; each agent once)."""
    parts = state.get("parts") or []
    if len(parts) > 1:
        return list(dict.fromkeys(str(p["route"]) for p in parts))  # two finance questions: finance worked
    route = state.get("route")
    if route == "parallel":
        report = state.get("results", {}).get("report", {})
        return list(report.get("sections", {}).keys()) or list(AGENTS)
    if route == WINBACK_ROUTE:
        return ["insights", "marketing", "finance"]
    return [route] if route in AGENTS else []


async def open_checkpointer(settings: Settings, stack: AsyncExitStack) -> BaseCheckpointSaver[Any]:
    """The checkpointer named by the settings: SQLite (WAL, busy timeout) or PostgreSQL."""
    location = settings.checkpoint_path
    if location.startswith(("postgres://", "postgresql://")):
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        pg_saver = await stack.enter_async_context(AsyncPostgresSaver.from_conn_string(location))
        await pg_saver.setup()
        return pg_saver
    import aiosqlite
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    settings.ensure_home()
    conn = await aiosqlite.connect(location)
    stack.push_async_callback(conn.close)
    await conn.execute("PRAGMA journal_mode=WAL")
    await conn.execute("PRAGMA busy_timeout=30000")
    await conn.execute("PRAGMA synchronous=NORMAL")
    saver = AsyncSqliteSaver(conn)
    await saver.setup()
    return saver


class Copilot:
    """The graph, compiled with a checkpointer, plus the services its nodes use."""

    def __init__(self, services: Services, checkpointer: BaseCheckpointSaver[Any]) -> None:
        """Compile the graph; use `Copilot.open()` to build one from settings."""
        self.services = services
        self.settings = services.settings
        self.graph = build_graph().compile(checkpointer=checkpointer)
        self.monitor = Monitor(self.settings, engine=services.extras.get("engine"))
        engine = services.extras.get("engine")
        self.runs: RunStore | None = RunStore(engine) if engine is not None else None
        """Started and finished runs (crash recovery, thread owners); `None` without a business database."""
        self._loading: asyncio.Task[None] | None = None
        self._warming: asyncio.Task[None] | None = None

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        settings: Settings | None = None,
        *,
        services: Services | None = None,
        checkpointer: BaseCheckpointSaver[Any] | None = None,
    ) -> AsyncIterator[Copilot]:
        """Build the services and the checkpointer from `settings`, and close them afterwards."""
        settings = settings or (services.settings if services else get_settings())
        async with AsyncExitStack() as stack:
            if services is None:
                from app.services import build_services

                services = build_services(settings)
            saver = checkpointer or await open_checkpointer(settings, stack)
            yield cls(services, saver)

    def start_warm_up(self) -> asyncio.Task[None]:
        """Start loading everything heavy in the background (once); returns the task that finishes with it.

        The embedding model, the routing classifier and the knowledge-base index load side by side in
        worker threads (the event loop stays free); then the knowledge-base sentence vectors are embedded
        (or read back from the file an earlier start saved). Requests that arrive meanwhile are served:
        each waits only for the part it needs.
        """
        if self._warming is None or _failed(self._warming):  # a failed warm-up may be started again
            if self._loading is None or _failed(self._loading):
                self._loading = asyncio.create_task(self._load_models(), name="warm-up: models")
            self._warming = asyncio.create_task(self._warm_vectors(self._loading), name="warm-up: vectors")
            for task in (self._loading, self._warming):  # failures are reported by whoever awaits them
                task.add_done_callback(_retrieve)
        return self._warming

    async def _load_models(self) -> None:
        loads: list[Awaitable[Any]] = []
        if self.services.router is not None:
            loads.append(self.services.router("warm up", None))
        if self.services.knowledge is not None:
            loads.append(self.services.knowledge.asearch("warm up", k=1))
        await asyncio.gather(*loads)

    async def _warm_vectors(self, loading: asyncio.Task[None]) -> None:
        await loading
        warm = getattr(self.services.knowledge, "warm", None)
        if warm is not None:
            await warm()

    async def warm_after_ready(self) -> None:
        """Warm what only makes answers faster, not possible (the passages' word-piece vectors), once ready."""
        warm = getattr(self.services.knowledge, "warm_tokens", None)
        if warm is not None:
            await warm()

    async def load_models(self) -> None:
        """Load the embedding model, classifier and knowledge-base index, without the sentence vectors.

        A one-shot process (`gtm ask`) calls it before its first request, so the request's recorded latency
        (`app.monitoring`) is the request's own, not the 10-17 s of loading a process pays once.
        """
        if self._loading is None or _failed(self._loading):
            self._loading = asyncio.create_task(self._load_models(), name="warm-up: models")
            self._loading.add_done_callback(_retrieve)
        await asyncio.shield(self._loading)

    async def warm_up(self) -> None:
        """Load the embedding model, classifier and knowledge-base index now instead of on first use.

        Returns once they are loaded; the sentence vectors go on in the background (`wait_warm`).
        """
        self.start_warm_up()
        assert self._loading is not None
        await asyncio.shield(self._loading)

    async def wait_warm(self) -> None:
        """Wait until the warm-up's background work (knowledge-base sentence vectors too) is done."""
        if self._warming is not None:
            await asyncio.shield(self._warming)

    async def stop_warm_up(self) -> None:
        """Cancel the warm-up if it is still running (at shutdown); a load already in a thread finishes there."""
        for task in (self._warming, self._loading):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    @property
    def reviews(self) -> ReviewStore:
        """The review index."""
        store = self.services.reviews
        if not isinstance(store, ReviewStore):
            raise RuntimeError("the review store is not configured")
        return store

    @property
    def outbox(self) -> Outbox:
        """The outbox of win-back emails."""
        if self.services.outbox is None:
            raise RuntimeError("the outbox is not configured")
        return self.services.outbox

    def _config(self, thread_id: str) -> RunnableConfig:
        return {"configurable": {"thread_id": thread_id}}

    async def _result(self, thread_id: str) -> AskResult:
        snapshot = await self.graph.aget_state(self._config(thread_id))
        state = snapshot.values
        return AskResult(
            answer=_last_answer(state.get("messages", [])),
            route=state.get("route"),
            agents=agents_of(state),
            citations=[] if snapshot.interrupts else list(state.get("citations") or []),
            confidence=state.get("confidence"),
            escalated=bool(state.get("escalated")),
            review_id=state.get("review_id"),
            thread_id=thread_id,
            charts=list(state.get("charts") or []),
            errors=list(state.get("errors") or []),
            pending_approval=any(interrupt_type(i.value) == OUTBOX_APPROVAL for i in snapshot.interrupts),
            grounding=state.get("grounding"),
        )

    @asynccontextmanager
    async def _thread_run(
        self, thread_id: str, user_id: str, kind: str, check: Callable[[], Awaitable[None]] | None = None
    ) -> AsyncIterator[int | None]:
        """Hold the thread's one running run (its `runs` row) for the block; yields the row id.

        `check` runs once the thread is held, so what it checks (the thread is not paused; the interrupt a
        decision resumes is still there) cannot change before the run starts. A crash leaves the row
        `running` for `resume_interrupted`; so does a cancellation, whose row a new request may take over.

        Raises:
            ThreadBusy: another request on the thread is running (in this process or another).
        """
        runs = self.runs
        if runs is None:
            if check is not None:
                await check()
            yield None
            return
        run_id = await runs.astart(thread_id, user_id, kind)
        try:
            if check is not None:
                await check()
        except BaseException as exc:
            await runs.afinish(run_id, "failed", f"refused: {exc}")
            raise
        try:
            yield run_id
        except Exception as exc:
            await runs.afinish(run_id, "failed", f"{type(exc).__name__}: {exc}")
            raise
        except BaseException:
            runs.release(run_id)
            raise
        await runs.afinish(run_id, "done")

    async def _run(
        self,
        payload: Any,
        thread_id: str,
        user_id: str,
        on_token: Callable[[str], Awaitable[None] | None] | None,
        trace: RequestTrace | None = None,
        on_event: OnEvent | None = None,
        check: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Stream one run while holding its thread (`_thread_run`; `check` runs once the thread is held)."""
        async with self._thread_run(thread_id, user_id, trace.kind if trace else "ask", check) as run_id:
            if isinstance(payload, _ResumeWith):
                payload = payload.command()
            await self._stream(payload, thread_id, user_id, on_token, trace, on_event, run_id)

    async def _stream(
        self,
        payload: Any,
        thread_id: str,
        user_id: str,
        on_token: Callable[[str], Awaitable[None] | None] | None,
        trace: RequestTrace | None = None,
        on_event: OnEvent | None = None,
        run_id: int | None = None,
    ) -> None:
        context = Context(services=self.services, user_id=user_id)
        config = self._config(thread_id)
        if trace is not None:  # sees every model and tool call of the run (tokens, cost, tools)
            config["callbacks"] = [trace]
        async for part in self.graph.astream(
            payload, config, context=context, stream_mode=["messages", "updates"], durability=DURABILITY
        ):
            mode, chunk = cast(tuple[str, Any], part)
            if mode == "updates" and trace is not None:
                trace.observe(chunk)
            if mode == "updates" and self.runs is not None and run_id is not None:
                await self.runs.aheartbeat(run_id)
            if mode == "updates" and on_event is not None:
                for node, update in cast(dict[str, Any], chunk).items():
                    await _emit(on_event, RunEvent("update", node, update))
            if mode == "messages":
                message, meta = chunk
                if not (isinstance(message, AIMessageChunk) and isinstance(message.content, str) and message.content):
                    continue
                node = str(meta.get("langgraph_node"))
                if node in STREAMED_NODES and on_token is not None:
                    maybe = on_token(message.content)
                    if maybe is not None:
                        await maybe
                elif node not in STREAMED_NODES:
                    await _emit(on_event, RunEvent("token", node, message.content))

    async def ask(
        self,
        text: str,
        thread_id: str | None = None,
        user_id: str = "anonymous",
        on_token: Callable[[str], Awaitable[None] | None] | None = None,
        *,
        on_event: OnEvent | None = None,
    ) -> AskResult:
        """Send one request on a thread (a new one when `thread_id` is None) and return the outcome.

        `on_token` receives the answer's tokens; `on_event` every node's update and the other nodes' tokens.
        """
        thread_id = thread_id or uuid.uuid4().hex
        payload = {"messages": [HumanMessage(valid_text(text), id=uuid.uuid4().hex)]}

        async def not_paused() -> None:
            snapshot = await self.graph.aget_state(self._config(thread_id))
            if any(interrupt_type(i.value) == OUTBOX_APPROVAL for i in snapshot.interrupts):
                raise ReviewConflict(
                    f"thread {thread_id} is waiting for approval of its win-back emails (gtm outbox approve|reject "
                    f"{thread_id}); ask again once it is decided, or start a new thread"
                )
            if snapshot.interrupts:
                raise ReviewConflict(
                    f"thread {thread_id} is waiting for a reviewer ({self._pending_review_id(snapshot.values)}); "
                    "ask again once it is decided, or start a new thread"
                )

        await not_paused()  # the common refusal, before the request is recorded
        return await self._monitored("ask", payload, thread_id, user_id, user_id, on_token, on_event, not_paused)

    async def _monitored(
        self,
        kind: RequestKind,
        payload: Any,
        thread_id: str,
        user_id: str,
        actor: str,
        on_token: Callable[[str], Awaitable[None] | None] | None,
        on_event: OnEvent | None = None,
        check: Callable[[], Awaitable[None]] | None = None,
    ) -> AskResult:
        """Run the graph and read the result, recording the request (`app.monitoring`) either way.

        A request refused because its thread is busy or paused (`ReviewConflict`) is not recorded: nothing ran.
        """
        trace = self.monitor.start(kind, thread_id, actor)
        try:
            await self._run(payload, thread_id, user_id, on_token, trace, on_event, check)
        except ReviewConflict:
            raise
        except Exception as exc:
            await self.monitor.finish(trace, error=exc)
            raise
        result = await self._result(thread_id)
        await self.monitor.finish(trace, result)
        return result

    @staticmethod
    def _pending_review_id(values: dict[str, Any]) -> str:
        return str(values.get("review_id") or "a pending review")

    async def resume_interrupted(
        self, on_resumed: Callable[[str, AskResult], Awaitable[None]] | None = None
    ) -> list[str]:
        """Finish the runs a crashed process left behind (rows of `runs` still `running`, worker gone).

        Each abandoned run is claimed atomically (two processes never both resume it), then its thread
        continues from its last checkpoint for the same user: `ainvoke(None)`-style, the pending nodes
        run. A thread that is already complete, or paused for a person, only has its row closed. A thread
        whose checkpoint ends on its user's request with nothing left to run (a crash can leave one: its
        writes and its checkpoint are saved separately, langgraph#8039) is asked that request again, as the
        same message, so nothing is duplicated; every side effect downstream is idempotent per request.

        Args:
            on_resumed: Called with the thread id and result of every run finished here (e.g. to post
                the answer into the chat history).

        Returns:
            The ids of the threads resumed.
        """
        if self.runs is None:
            return []
        resumed: list[str] = []
        for run in await asyncio.to_thread(self.runs.abandoned):
            if not await asyncio.to_thread(self.runs.claim, run):
                continue
            snapshot = await self.graph.aget_state(self._config(run.thread_id))
            payload = _unanswered(snapshot)
            if not _mid_run(snapshot) and payload is None:  # complete, or paused for a person
                await self.runs.afinish(run.id, "done")
                continue
            if payload is not None:
                log.warning("thread %s stopped without answering its request; asking it again", run.thread_id)
            kind: RequestKind = "review" if run.kind == "review" else "outbox" if run.kind == "outbox" else "ask"
            trace = self.monitor.start(kind, run.thread_id, run.user_id)
            try:
                await self._stream(payload, run.thread_id, run.user_id, None, trace, None, run.id)
                again = _unanswered(await self.graph.aget_state(self._config(run.thread_id)))
                if payload is None and again is not None:  # the resumed steps ended without an answer
                    log.warning("thread %s resumed without an answer; asking its request again", run.thread_id)
                    await self._stream(again, run.thread_id, run.user_id, None, trace, None, run.id)
            except Exception as exc:  # noqa: BLE001 - one broken thread must not stop the others
                await self.runs.afinish(run.id, "failed", f"{type(exc).__name__}: {exc}")
                await self.monitor.finish(trace, error=exc)
                continue
            await self.runs.afinish(run.id, "done")
            result = await self._result(run.thread_id)
            await self.monitor.finish(trace, result)
            resumed.append(run.thread_id)
            if on_resumed is not None:
                await on_resumed(run.thread_id, result)
        settled = await self.settle_reviews(min_age_s=CLAIM_GRACE_S)  # decisions the crash interrupted
        if settled:
            log.warning("settled %d review(s) a crash left mid-decision: %s", len(settled), ", ".join(settled))
        return resumed

    async def thread_owner(self, thread_id: str) -> str | None:
        """Who started the thread (the user of its first recorded run), or `None` when unknown."""
        return await self.runs.aowner(thread_id) if self.runs is not None else None

    async def thread(self, thread_id: str) -> dict[str, Any]:
        """A thread's messages, status (`complete` / `running` / `pending_review` / `pending_approval`) and last answer.

        `pending_review` is a support escalation waiting for a reviewer; `pending_approval` is win-back
        emails waiting in the outbox for an explicit approval; `running` is a run part-way through (a
        decision being applied, or a run a crash interrupted that the next start resumes): its last
        answer is not its outcome yet.

        Raises:
            UnknownThread: no checkpoint exists for `thread_id`.
        """
        snapshot = await self.graph.aget_state(self._config(thread_id))
        if not snapshot.values:
            raise UnknownThread(f"no thread with id {thread_id!r}")
        messages = snapshot.values.get("messages", [])
        kinds = {interrupt_type(i.value) for i in snapshot.interrupts}
        status = (
            "pending_approval"
            if OUTBOX_APPROVAL in kinds
            else "pending_review"
            if kinds
            else "running"
            if _mid_run(snapshot)
            else "complete"
        )
        return {
            "thread_id": thread_id,
            "status": status,
            "review_id": snapshot.values.get("review_id") if status == "pending_review" else None,
            "route": snapshot.values.get("route"),
            "messages": [
                {"role": "user" if isinstance(m, HumanMessage) else "assistant", "name": m.name, "content": m.content}
                for m in messages
                if isinstance(m, HumanMessage | AIMessage)
            ],
            "last_answer": _last_answer(messages),
        }

    async def pending_reviews(self) -> list[dict[str, Any]]:
        """Pending escalations across all threads, each confirmed against its checkpoint (outbox approvals excluded).

        Claims a failed or dead decision left behind are settled first (`settle_reviews`), so such a review
        comes back to the queue instead of vanishing from it.
        """
        try:
            await self.settle_reviews(min_age_s=CLAIM_GRACE_S)
        except Exception:  # noqa: BLE001 - the queue still lists what is pending
            log.exception("settling abandoned review claims failed")
        out = []
        for review in await self.reviews.list("pending"):
            snapshot = await self.graph.aget_state(self._config(review["thread_id"]))
            waiting = [
                i
                for i in snapshot.interrupts
                if interrupt_type(i.value) != OUTBOX_APPROVAL and i.value.get("review_id") == review["review_id"]
            ]
            if not waiting:
                continue
            review["interrupt_id"] = waiting[0].id
            out.append(review)
        return out

    async def review_gaps(self, reviews: list[dict[str, Any]]) -> dict[str, dict[str, list[str]]]:
        """What each review's evidence does not cover (`app.kb.gaps`), by review id.

        Empty when the knowledge base cannot say (none configured, or it fails: the queue works without).
        """
        explain = getattr(self.services.knowledge, "question_gaps", None)
        found: dict[str, dict[str, list[str]]] = {}
        if explain is None:
            return found
        for review in reviews:
            try:
                found[review["review_id"]] = await explain(review["question"], list(review.get("passages") or []))
            except Exception as exc:  # noqa: BLE001 - an explanation is optional
                log.warning("could not explain review %s: %s", review["review_id"], exc)
                break
        return found

    async def decide(
        self,
        review_id: str,
        decision: ReviewDecision,
        on_token: Callable[[str], Awaitable[None] | None] | None = None,
    ) -> AskResult:
        """Apply a reviewer's decision: resume the paused thread with the typed payload.

        Raises:
            UnknownReview: no such review.
            ReviewConflict: it was already decided, or its thread is no longer waiting.
        """
        review = await self.reviews.get(review_id)
        if review is None:
            raise UnknownReview(f"no review with id {review_id!r}")
        thread_id = str(review["thread_id"])
        await self.reviews.claim(review_id, decision.reviewer)
        waiting: list[str] = []

        async def still_waiting() -> None:  # checked while the thread is held: nothing can resume it meanwhile
            snapshot = await self.graph.aget_state(self._config(thread_id))
            waiting[:] = [i.id for i in snapshot.interrupts if i.value.get("review_id") == review_id]
            if not waiting:
                raise ReviewConflict(f"review {review_id} is no longer waiting in its thread")

        trace = self.monitor.start("review", thread_id, decision.reviewer)
        resume = _ResumeWith(waiting, decision.model_dump())
        try:
            await self._run(resume, thread_id, review["requester"], on_token, trace, check=still_waiting)
        except BaseException as exc:
            if isinstance(exc, Exception) and not isinstance(exc, ReviewConflict):  # a refusal ran nothing
                await self.monitor.finish(trace, error=exc)
            await self._give_back_or_settle(review_id)
            raise
        result = await self._result(thread_id)
        await self.monitor.finish(trace, result)
        await self.reviews.complete(review_id, decision.action, decision.reviewer, result.answer, decision.note)
        return result

    async def _give_back_or_settle(self, review_id: str) -> None:
        """After a decision failed or was cancelled: back to the queue if its interrupt still waits, else settled.

        A decision the graph already took must not go back to `pending` (nothing would be waiting for it);
        it is completed from the thread once its run has ended (`settle_reviews`), here or at the next start.
        """
        try:
            await asyncio.shield(self.settle_reviews(only=review_id))
        except Exception:  # noqa: BLE001 - the start-up settles it then
            log.exception("could not settle review %s after its decision failed", review_id)

    async def settle_reviews(self, *, only: str | None = None, min_age_s: float = 0.0) -> list[str]:
        """Reconcile reviews left `deciding` by a decision that failed, was cancelled or died with its process.

        For each such review whose thread has no run going: if its interrupt still waits, it goes back to the
        queue (`pending`); if the thread got past it (the reviewer's decision was applied), it is completed
        from the thread: its outcome, the reviewer who claimed it, the answer and the reviewer's note, with
        the audit entry and the ticket update a normal decision writes. A thread still part-way through its
        run is left to `resume_interrupted`, which settles it when it finishes.

        Args:
            only: Settle this review only.
            min_age_s: Give back no claim younger than this (another process may have only just taken it);
                completing a decision the thread has applied needs no wait.

        Returns:
            The ids of the reviews settled (given back or completed).
        """
        settled = []
        now = datetime.now(UTC)
        for review in await self.reviews.list("deciding"):
            review_id, thread_id = str(review["review_id"]), str(review["thread_id"])
            if only is not None and review_id != only:
                continue
            claimed = review.get("decided_at")
            young = claimed is not None and (now - as_utc(claimed)).total_seconds() < min_age_s
            if self.runs is not None and await self.runs.aactive(thread_id):
                continue
            snapshot = await self.graph.aget_state(self._config(thread_id))
            values = snapshot.values or {}
            if any(i.value.get("review_id") == review_id for i in snapshot.interrupts):
                if young:
                    continue  # another process may have just claimed it and not started its run yet
                await self.reviews.release(review_id)
            elif _mid_run(snapshot):
                continue  # mid-run: `resume_interrupted` finishes it
            elif values.get("review_id") == review_id and values.get("review_outcome"):
                await self.reviews.complete(
                    review_id,
                    str(values["review_outcome"]),
                    str(review.get("decided_by") or "reviewer"),
                    _last_answer(values.get("messages", [])),
                    values.get("review_note"),
                )
                log.warning("review %s: its decision was applied but not recorded; recorded now", review_id)
            else:
                continue
            settled.append(review_id)
        return settled

    async def pending_approval(self, thread_id: str) -> tuple[str, OutboxReviewRequest]:
        """The interrupt id and payload of a thread's pending outbox approval.

        Raises:
            UnknownThread: no checkpoint exists for `thread_id`.
            NoPendingApproval: the thread is not waiting for an outbox approval.
        """
        snapshot = await self.graph.aget_state(self._config(thread_id))
        if not snapshot.values:
            raise UnknownThread(f"no thread with id {thread_id!r}")
        for pending in snapshot.interrupts:
            if interrupt_type(pending.value) == OUTBOX_APPROVAL:
                return pending.id, OutboxReviewRequest.model_validate(pending.value)
        raise NoPendingApproval(
            f"thread {thread_id} has no win-back emails waiting for approval (already decided, or not a win-back)"
        )

    async def pending_approvals(self) -> list[dict[str, Any]]:
        """Outbox approvals waiting across all threads (from the outbox's drafts, confirmed against checkpoints)."""
        out = []
        for thread_id in dict.fromkeys(i.thread_id for i in await self.outbox.items(status="draft")):
            try:
                interrupt_id, request = await self.pending_approval(thread_id)
            except LookupError:
                continue
            out.append({"interrupt_id": interrupt_id, **request.model_dump()})
        return out

    async def outbox_items(self, thread_id: str | None = None) -> list[OutboxItem]:
        """Outbox rows (every thread's, or one thread's), oldest first."""
        return await self.outbox.items(thread_id)

    async def record_send_status(self, thread_id: str, items: list[OutboxItem]) -> None:
        """Write the outbox's per-recipient outcome back into a finished thread (after `gtm outbox retry`)."""
        config = self._config(thread_id)
        snapshot = await self.graph.aget_state(config)
        if not snapshot.values or _mid_run(snapshot) or snapshot.interrupts:
            return  # unknown, or still running / waiting: the run itself records the outcome
        update = {
            "send_status": {i.customer_id: i.status == "sent" for i in items},
            "outbox_status": {i.customer_id: i.status for i in items},
        }
        await self.graph.aupdate_state(config, update, as_node="respond")

    async def decide_outbox(
        self,
        thread_id: str,
        decision: OutboxDecision,
        on_token: Callable[[str], Awaitable[None] | None] | None = None,
        *,
        on_event: OnEvent | None = None,
    ) -> AskResult:
        """Approve (all, or all but some, with edits) or reject a thread's win-back emails, and send.

        Resumes the thread's outbox interrupt (by its id) with the typed decision; the graph applies it
        to the outbox and sends the approved emails. Deciding a thread that is no longer waiting raises
        instead of sending anything again.

        Raises:
            UnknownThread: no such thread.
            NoPendingApproval: the thread has no outbox approval pending.
            InvalidDecision: the decision edits or drops customers that are not in this outbox.
        """
        waiting: list[str] = []
        requester: list[str] = []

        async def still_waiting() -> None:  # checked while the thread is held: a second decision finds it gone
            interrupt_id, request = await self.pending_approval(thread_id)
            known = {r.customer_id for r in request.recipients}
            unknown = sorted((set(decision.edits) | set(decision.drop)) - known)
            if unknown:
                raise InvalidDecision(
                    f"not in the outbox of thread {thread_id}: {', '.join(unknown[:5])} "
                    f"(its recipients: {', '.join(sorted(known)[:10])}{'…' if len(known) > 10 else ''})"
                )
            waiting[:] = [interrupt_id]
            requester[:] = [request.requester]

        await still_waiting()  # the common refusals, before anything is recorded
        resume = _ResumeWith(waiting, decision.model_dump())
        return await self._monitored(
            "outbox", resume, thread_id, requester[0], decision.reviewer, on_token, on_event, still_waiting
        )


def _mid_run(snapshot: Any) -> bool:
    """Whether a thread's run stopped part-way: steps left to run, or a step's writes saved but not yet applied.

    The second happens when a run is cancelled or killed between saving a step's writes and its checkpoint
    (langgraph#8039): `next` is then empty, but the step's task is still listed, with its result.
    """
    return bool(snapshot.next) or any(not task.interrupts for task in snapshot.tasks)


def _unanswered(snapshot: Any) -> dict[str, Any] | None:
    """The request to ask again when a thread is idle and its last message is its user's (else `None`)."""
    if _mid_run(snapshot) or snapshot.interrupts:
        return None
    messages = snapshot.values.get("messages") or []
    if messages and isinstance(messages[-1], HumanMessage):
        return {"messages": [messages[-1]]}
    return None


def _last_answer(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, AIMessage):
            return str(message.content)
    return ""
