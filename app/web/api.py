"""The JSON API: ask (plain or streamed as server-sent events), read a thread, list and decide reviews.

Routes (all JSON; errors are `{"error": "..."}` with a 4xx status, never a traceback):

- `POST /api/ask` — body `{"message": str, "thread_id": str | null}`; answers the `gtm ask --json`
  object. With `?stream=true` (or `Accept: text/event-stream`) it streams SSE events instead:
  `step` (a graph node finished), `token` (answer text), then `done` (the same object) or `error`.
- `GET /api/session` — who the caller is, and (cookie sessions) the CSRF token for `X-CSRF-Token`.
- `GET /api/threads/{thread_id}` — the thread's messages and status (`Copilot.thread`).
- `GET /api/reviews` — pending escalations with what their evidence does not cover (reviewer or admin role).
- `POST /api/reviews/{review_id}/decide` — body `{"action": "approve"|"edit"|"reject", "text", "note", "add_to_kb"}`.

Authentication: `Authorization: Bearer <token>` (`gtm users token NAME`), or the signed-in session
cookie of the chat and console; with the cookie, a POST must carry the session's CSRF token in an
`X-CSRF-Token` header. Threads belong to whoever started them (the first recorded run, or the chat
history's author): a staff account reads only its own, reviewers and admins read any.

A request's graph run is a task of its own: a client that disconnects does not cancel it (the answer
lands in the thread), and a crash leaves it to `Copilot.resume_interrupted` at the next start.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.auth.users import User, UserStore
from app.reviews import ReviewConflict
from app.runtime import THREAD_ID_RE, AskResult, Copilot, RunEvent, UnknownReview, UnknownThread
from app.web.copilot_holder import get_copilot, get_user_store
from app.web.review_console import same_text
from app.web.session import WebKeys, csrf_token, csrf_valid, session_claims
from graph.review import ReviewDecision, error_text
from graph.routing.text import normalize_request

log = logging.getLogger(__name__)

API_PREFIX = "/api"
CSRF_HEADER = "X-CSRF-Token"
"""Thread ids the API accepts (what the chat and the CLI generate: uuid hex or uuid strings)."""

_tasks: set[asyncio.Task[Any]] = set()
"""Runs still going after their client left (held so they are not garbage-collected)."""


class ApiError(Exception):
    """A client error, answered as `{"error": message}` with `status`."""

    def __init__(self, status: int, message: str) -> None:
        """Remember the status and the message."""
        super().__init__(message)
        self.status = status
        self.message = message


class AskBody(BaseModel):
    """`POST /api/ask`."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(description="The question (non-empty, at most GTM_MAX_REQUEST_CHARS characters)")
    thread_id: str | None = Field(default=None, description="Continue this thread; a new one when null")


class DecideBody(BaseModel):
    """`POST /api/reviews/{review_id}/decide` (the reviewer is the caller)."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["approve", "edit", "reject"]
    text: str | None = None
    note: str | None = None
    add_to_kb: bool = False
    """Also add the approved or edited answer to the knowledge base (as the console's checkbox does)."""


# -- authentication ------------------------------------------------------------------------------
async def api_user(request: Request) -> User:
    """The caller: a bearer token's account, or the session cookie's (POSTs need the CSRF header).

    Raises:
        ApiError: 401 when not authenticated, 403 when a cookie POST lacks a valid CSRF token.
    """
    users: UserStore = await get_user_store()
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "use `Authorization: Bearer <token>` (create one with `gtm users token NAME`)")
        user = await users.aby_token(token.strip())
        if user is None:
            raise ApiError(401, "invalid, revoked or disabled API token")
        return user
    claims = session_claims(request)
    account = await users.aget(claims[0]) if claims else None
    if account is None or not account.session_valid(claims[1] if claims else None):
        raise ApiError(401, "sign in (session cookie) or send `Authorization: Bearer <token>`")
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        keys: WebKeys = request.app.state.web_keys
        if not csrf_valid(keys, request, request.headers.get(CSRF_HEADER)):
            raise ApiError(403, f"missing or invalid {CSRF_HEADER} header (a cookie session needs its CSRF token)")
    return account


async def api_reviewer(user: Annotated[User, Depends(api_user)]) -> User:
    """The caller, if their role may review escalations."""
    if not user.can_review:
        raise ApiError(403, f"{user.username} ({user.role}) may not review: a reviewer or admin account is needed")
    return user


async def copilot_dep() -> Copilot:
    """The process's Copilot."""
    return await get_copilot()


ApiUser = Annotated[User, Depends(api_user)]
ApiReviewer = Annotated[User, Depends(api_reviewer)]
CopilotDep = Annotated[Copilot, Depends(copilot_dep)]


async def thread_owner(copilot: Copilot, thread_id: str) -> str | None:
    """Who started a thread: its first recorded run, else the chat history's author, else `None`."""
    owner = await copilot.thread_owner(thread_id)
    if owner is not None:
        return owner
    try:
        from app.web import history

        author = await history.data_layer().get_thread_author(thread_id)
    except Exception:  # noqa: BLE001 - no history (CLI-only threads): ownership stays unknown
        return None
    return author or None


async def check_access(copilot: Copilot, user: User, thread_id: str) -> None:
    """Refuse (403) a staff account another person's thread; reviewers and admins read any thread."""
    if user.can_review:
        return
    owner = await thread_owner(copilot, thread_id)
    if owner != user.username:
        raise ApiError(403, f"thread {thread_id} belongs to another user")


# -- routes --------------------------------------------------------------------------------------
router = APIRouter(prefix=API_PREFIX, tags=["api"])


def _check_thread_id(thread_id: str) -> str:
    if not THREAD_ID_RE.match(thread_id):
        raise ApiError(422, "thread_id: use 1-200 letters, digits or . _ : -")
    return thread_id


async def _prepare_ask(copilot: Copilot, user: User, body: AskBody) -> tuple[str, str]:
    """Validate an ask; returns (text, thread id)."""
    text = body.message.strip()
    if not text:
        raise ApiError(422, "message: must not be empty")
    try:
        normalize_request(text)  # what the supervisor routes: nothing left but control or invisible characters?
    except ValueError as exc:
        raise ApiError(422, "message: has no visible text (only control or formatting characters)") from exc
    limit = copilot.settings.max_request_chars
    if len(text) > limit:
        raise ApiError(413, f"message: too long ({len(text):,} characters; the limit is {limit:,})")
    if body.thread_id is None:
        return text, uuid.uuid4().hex
    thread_id = _check_thread_id(body.thread_id)
    try:
        thread = await copilot.thread(thread_id)
    except UnknownThread:
        return text, thread_id  # a new thread with the caller's id
    owner = await thread_owner(copilot, thread_id)
    if owner != user.username and user.role != "admin":
        raise ApiError(403, f"thread {thread_id} belongs to another user")
    if thread["status"] == "pending_review":  # refused before a stream starts, with a real status code
        raise ApiError(409, f"thread {thread_id} is waiting for a reviewer ({thread['review_id']}); start a new thread")
    if thread["status"] == "pending_approval":
        raise ApiError(409, f"thread {thread_id} is waiting for approval of its win-back emails; start a new thread")
    return text, thread_id


def _keep(task: asyncio.Task[Any]) -> None:
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n".encode()


def _error_text(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def _step_data(event: RunEvent, thread_id: str) -> dict[str, Any]:
    data: dict[str, Any] = {"thread_id": thread_id, "node": event.node}
    if isinstance(event.data, dict):
        for key in ("route", "escalated", "confidence", "review_id"):
            if event.data.get(key) is not None:
                data[key] = event.data[key]
    return data


async def _stream_ask(copilot: Copilot, user: User, text: str, thread_id: str) -> AsyncIterator[bytes]:
    """SSE events of one run: `step`, `token`, then `done` or `error`."""
    queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue()

    def on_token(token: str) -> None:
        queue.put_nowait(("token", {"text": token}))

    def on_event(event: RunEvent) -> None:
        if event.kind == "update":
            queue.put_nowait(("step", _step_data(event, thread_id)))

    async def run() -> AskResult:
        try:
            result = await copilot.ask(text, thread_id, user.username, on_token=on_token, on_event=on_event)
        except ReviewConflict as exc:
            queue.put_nowait(("error", {"error": _error_text(exc), "status": 409}))
            raise
        except Exception as exc:
            queue.put_nowait(("error", {"error": f"the request failed: {_error_text(exc)}", "status": 500}))
            raise
        queue.put_nowait(("done", result.to_json()))
        return result

    task = asyncio.create_task(run())
    _keep(task)
    task.add_done_callback(lambda t: t.cancelled() or t.exception() or None)  # retrieved: no "never retrieved"
    yield _sse("step", {"thread_id": thread_id, "node": "__start__"})
    while True:
        item = await queue.get()
        if item is None:
            break
        event, data = item
        yield _sse(event, data)
        if event in ("done", "error"):
            break


@router.post("/ask", response_model=None)
async def ask(
    body: AskBody,
    request: Request,
    user: ApiUser,
    copilot: CopilotDep,
    stream: Annotated[bool, Query(description="stream server-sent events")] = False,
) -> dict[str, Any] | StreamingResponse:
    """Ask the copilot; the `gtm ask --json` object, or an SSE stream of it."""
    text, thread_id = await _prepare_ask(copilot, user, body)
    if stream or "text/event-stream" in request.headers.get("accept", ""):
        return StreamingResponse(
            _stream_ask(copilot, user, text, thread_id),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    task = asyncio.create_task(copilot.ask(text, thread_id, user.username))
    _keep(task)
    try:
        result = await asyncio.shield(task)
    except ReviewConflict as exc:
        raise ApiError(409, _error_text(exc)) from exc
    return result.to_json()


@router.get("/session")
async def session(request: Request, user: ApiUser) -> dict[str, Any]:
    """The caller's account, and the CSRF token a cookie session sends in `X-CSRF-Token` (empty for tokens)."""
    keys: WebKeys = request.app.state.web_keys
    bearer = bool(request.headers.get("authorization"))
    return {"username": user.username, "role": user.role, "csrf_token": "" if bearer else csrf_token(keys, request)}


@router.get("/threads/{thread_id}")
async def get_thread(thread_id: str, user: ApiUser, copilot: CopilotDep) -> dict[str, Any]:
    """A thread's messages, status and last answer."""
    _check_thread_id(thread_id)
    try:
        thread = await copilot.thread(thread_id)
    except UnknownThread as exc:
        raise ApiError(404, f"no thread with id {thread_id!r}") from exc
    await check_access(copilot, user, thread_id)
    return thread


@router.get("/reviews")
async def list_reviews(user: ApiReviewer, copilot: CopilotDep) -> dict[str, Any]:
    """Pending escalations across every thread."""
    pending = await copilot.pending_reviews()
    gaps = await copilot.review_gaps(pending)
    for review in pending:  # the question's words the knowledge base, or the passages, never mention
        review["not_covered"] = gaps.get(review["review_id"])
    return {"reviews": json.loads(json.dumps(pending, default=str))}


@router.post("/reviews/{review_id}/decide")
async def decide_review(review_id: str, body: DecideBody, user: ApiReviewer, copilot: CopilotDep) -> dict[str, Any]:
    """Approve, edit or reject an escalation; resumes its thread and returns the outcome."""
    limit = copilot.settings.max_request_chars
    if body.text is not None and len(body.text) > limit:
        raise ApiError(413, f"text: too long ({len(body.text):,} characters; the limit is {limit:,})")
    text = body.text if body.action == "edit" else None
    if body.action != "edit" and (body.text or "").strip():
        pending = await copilot.reviews.get(review_id)
        if pending is None or not same_text(body.text or "", pending["draft"]):
            raise ApiError(422, f"text: {body.action} sends no text of yours; use the action edit to send your version")
    if body.add_to_kb and body.action == "reject":
        raise ApiError(422, "add_to_kb: a rejected answer is not added to the knowledge base")
    try:
        decision = ReviewDecision(action=body.action, text=text, note=body.note, reviewer=user.username)
    except ValidationError as exc:
        raise ApiError(422, "; ".join(error_text(e) for e in exc.errors())) from exc
    task = asyncio.create_task(copilot.decide(review_id, decision))
    _keep(task)
    try:
        result = await asyncio.shield(task)
    except UnknownReview as exc:
        raise ApiError(404, _error_text(exc)) from exc
    except ReviewConflict as exc:
        raise ApiError(409, _error_text(exc)) from exc
    review = await copilot.reviews.get(review_id)
    if review is not None:
        from app.web.review_watch import record_in_history

        try:  # for a requester who is away; a live chat posts the same message (same id) only once
            await record_in_history({**review, "decided_by": user.username}, result.answer)
        except Exception:  # noqa: BLE001 - the decision stands; a connected chat still shows it
            log.exception("writing the outcome of %s to the chat history failed", review_id)
    out = result.to_json()
    if body.add_to_kb and review is not None:
        from app.kb.reviewed import add_reviewed_answer

        try:
            out["kb_document"] = await add_reviewed_answer(
                copilot.settings, review_id, review["question"], result.answer
            )
            await copilot.reviews.record_kb_document(review_id, out["kb_document"])
        except Exception as exc:  # noqa: BLE001 - the decision stands; the caller is told the KB step failed
            log.exception("adding %s to the knowledge base failed", review_id)
            out["kb_error"] = " ".join(str(exc).split())[:200]
        else:
            from app.web.review_watch import answer_same_questions_in_chat

            out["also_answered"] = await answer_same_questions_in_chat(copilot, review, result.answer, user.username)
    return out


# -- crash recovery: resumed answers into the chat history ---------------------------------------
async def post_to_history(thread_id: str, result: AskResult) -> None:
    """Add a resumed run's answer to the thread's chat history (when the thread came from the chat)."""
    from app.web import history

    layer = history.data_layer()
    if not await layer.get_thread_author(thread_id):
        return  # an API or CLI thread: the answer is in the checkpoint only
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    step = {
        "id": str(uuid.uuid4()),
        "threadId": thread_id,
        "name": "GTM Copilot",
        "type": "assistant_message",
        "output": result.answer,
        "createdAt": now,
        "start": now,
        "end": now,
        "streaming": False,
        "metadata": {"resumed": True},
    }
    create = getattr(type(layer).create_step, "__wrapped__", None)  # skip Chainlit's per-session queueing
    if create is not None:
        await create(layer, step)
    else:
        await layer.create_step(step)


async def resume_interrupted_runs(copilot: Copilot) -> None:
    """Finish runs a crash interrupted (start-up, in the background); never raises."""
    try:
        resumed = await copilot.resume_interrupted(on_resumed=_post_quietly)
    except Exception:  # noqa: BLE001 - recovery must never take the server down
        log.exception("resuming interrupted runs failed")
        return
    if resumed:
        log.warning("resumed %d interrupted run(s): %s", len(resumed), ", ".join(resumed))


async def _post_quietly(thread_id: str, result: AskResult) -> None:
    try:
        await post_to_history(thread_id, result)
    except Exception as exc:  # noqa: BLE001 - the answer is in the checkpoint regardless
        log.warning("could not post the resumed answer of %s to the chat history: %s", thread_id, exc)


def start_recovery(copilot: Copilot) -> asyncio.Task[None]:
    """Start `resume_interrupted_runs` in the background (kept referenced until it ends)."""
    task = asyncio.create_task(resume_interrupted_runs(copilot))
    _keep(task)
    return task


# -- installation --------------------------------------------------------------------------------
async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse({"error": exc.message}, status_code=exc.status)


async def _validation_error(request: Request, exc: Exception) -> Response:
    """Body/query validation errors: `{"error": ...}` under `/api`, FastAPI's default elsewhere."""
    assert isinstance(exc, RequestValidationError)
    if not request.url.path.startswith(API_PREFIX + "/"):
        return await request_validation_exception_handler(request, exc)
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
        parts.append(f"{where}: {error.get('msg')}" if where else str(error.get("msg")))
    return JSONResponse({"error": "; ".join(parts) or "invalid request"}, status_code=422)


def install(app: FastAPI) -> None:
    """Add the API routes and their JSON error handlers."""
    app.include_router(router)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
