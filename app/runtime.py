"""The Copilot runtime: one compiled graph with its checkpointer and services.

Used by the CLI and the web app alike: ask, stream, read a thread, list and decide reviews.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, cast

from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Command

from app.reviews import ReviewConflict, ReviewStore
from app.settings import Settings, get_settings
from graph.builder import build_graph
from graph.context import Context, Services
from graph.review import ReviewDecision
from graph.state import AGENTS, WINBACK_ROUTE

STREAMED_NODES = frozenset({"respond"})
"""Nodes whose model tokens are the user's answer."""


class UnknownThread(LookupError):
    """No conversation with that id."""


class UnknownReview(LookupError):
    """No review with that id."""


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

    def to_json(self) -> dict[str, Any]:
        """The JSON object of `gtm ask --json` (charts counted, not inlined)."""
        data = asdict(self)
        data["charts"] = len(self.charts)
        return data


def agents_of(state: dict[str, Any]) -> list[str]:
    """Which agents worked on the current request."""
    route = state.get("route")
    if route == "parallel":
        report = state.get("results", {}).get("report", {})
        return list(report.get("sections", {}).keys()) or list(AGENTS)
    if route == WINBACK_ROUTE:
        return ["insights", "marketing", "finance"]
    return [route] if route else []


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

    async def warm_up(self) -> None:
        """Load the embedding model, classifier and knowledge-base index now instead of on first use.

        Everything heavy loads in worker threads, off the event loop.
        """
        if self.services.router is not None:
            await self.services.router("warm up", None)
        if self.services.knowledge is not None:
            await self.services.knowledge.asearch("warm up", k=1)

    @property
    def reviews(self) -> ReviewStore:
        """The review index."""
        store = self.services.reviews
        if not isinstance(store, ReviewStore):
            raise RuntimeError("the review store is not configured")
        return store

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
        )

    async def _run(
        self, payload: Any, thread_id: str, user_id: str, on_token: Callable[[str], Awaitable[None] | None] | None
    ) -> None:
        context = Context(services=self.services, user_id=user_id)
        async for part in self.graph.astream(
            payload, self._config(thread_id), context=context, stream_mode=["messages", "updates"]
        ):
            mode, chunk = cast(tuple[str, Any], part)
            if mode == "messages" and on_token is not None:
                message, meta = chunk
                if (
                    isinstance(message, AIMessageChunk)
                    and meta.get("langgraph_node") in STREAMED_NODES
                    and isinstance(message.content, str)
                    and message.content
                ):
                    maybe = on_token(message.content)
                    if maybe is not None:
                        await maybe

    async def ask(
        self,
        text: str,
        thread_id: str | None = None,
        user_id: str = "anonymous",
        on_token: Callable[[str], Awaitable[None] | None] | None = None,
    ) -> AskResult:
        """Send one request on a thread (a new one when `thread_id` is None) and return the outcome."""
        thread_id = thread_id or uuid.uuid4().hex
        snapshot = await self.graph.aget_state(self._config(thread_id))
        if snapshot.interrupts:
            raise ReviewConflict(
                f"thread {thread_id} is waiting for a reviewer ({self._pending_review_id(snapshot.values)}); "
                "ask again once it is decided, or start a new thread"
            )
        await self._run({"messages": [HumanMessage(text, id=uuid.uuid4().hex)]}, thread_id, user_id, on_token)
        return await self._result(thread_id)

    @staticmethod
    def _pending_review_id(values: dict[str, Any]) -> str:
        return str(values.get("review_id") or "a pending review")

    async def thread(self, thread_id: str) -> dict[str, Any]:
        """A thread's messages, status (`complete` / `pending_review`) and last answer.

        Raises:
            UnknownThread: no checkpoint exists for `thread_id`.
        """
        snapshot = await self.graph.aget_state(self._config(thread_id))
        if not snapshot.values:
            raise UnknownThread(f"no thread with id {thread_id!r}")
        messages = snapshot.values.get("messages", [])
        return {
            "thread_id": thread_id,
            "status": "pending_review" if snapshot.interrupts else "complete",
            "review_id": snapshot.values.get("review_id") if snapshot.interrupts else None,
            "route": snapshot.values.get("route"),
            "messages": [
                {"role": "user" if isinstance(m, HumanMessage) else "assistant", "name": m.name, "content": m.content}
                for m in messages
                if isinstance(m, HumanMessage | AIMessage)
            ],
            "last_answer": _last_answer(messages),
        }

    async def pending_reviews(self) -> list[dict[str, Any]]:
        """Pending escalations across all threads, each confirmed against its checkpoint."""
        out = []
        for review in await self.reviews.list("pending"):
            snapshot = await self.graph.aget_state(self._config(review["thread_id"]))
            if not snapshot.interrupts:
                continue
            review["interrupt_id"] = snapshot.interrupts[0].id
            out.append(review)
        return out

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
        await self.reviews.claim(review_id, decision.reviewer)
        try:
            config = self._config(review["thread_id"])
            snapshot = await self.graph.aget_state(config)
            matching = [i for i in snapshot.interrupts if i.value.get("review_id") == review_id]
            if not matching:
                raise ReviewConflict(f"review {review_id} is no longer waiting in its thread")
            resume: Command[Any] = Command(resume={matching[0].id: decision.model_dump()})
            await self._run(resume, review["thread_id"], review["requester"], on_token)
        except BaseException:
            await self.reviews.release(review_id)
            raise
        result = await self._result(review["thread_id"])
        await self.reviews.complete(review_id, decision.action, decision.reviewer, result.answer, decision.note)
        return result


def _last_answer(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, AIMessage):
            return str(message.content)
    return ""
