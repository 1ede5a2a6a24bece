"""The Chainlit chat: password sign-in, streamed answers with steps and charts, live review outcomes.

Signs people in against the `users` table, streams the graph's answer, shows each agent, tool call,
report branch and support stage as a step (`app.web.run_steps`), renders charts (kept in the thread's
history), posts a reviewer's decision on an escalation into the chat when it is made, and lets a
reviewer or admin approve or reject win-back emails waiting in the outbox with two buttons.
"""

from __future__ import annotations

import asyncio
import logging

import chainlit as cl
import plotly.graph_objects as go
from chainlit.context import local_steps
from chainlit.session import WebsocketSession
from chainlit.types import ThreadDict

from app.reviews import ReviewConflict
from app.runtime import AskResult, UnknownThread
from app.web import history
from app.web.copilot_holder import get_copilot, get_user_store
from app.web.review_watch import REVIEWER_AUTHOR, review_message, review_message_id, wait_for_review
from app.web.run_steps import RunSteps
from app.web.session import session_metadata, token_claims
from app.web.token_batches import TokenBatches
from app.web.uploads import save_uploads, with_attachments
from graph.llm.factory import describe_models
from graph.review import OutboxDecision

log = logging.getLogger(__name__)

STARTERS = [
    ("Weekly report", "Give me the weekly report"),
    ("Win-back campaign", "Launch a win-back campaign for churned customers"),
    ("CAC by channel", "What was our CAC by channel last quarter?"),
    ("RFM segments", "Segment our customers with RFM"),
    ("Support question", "How long do I have to return a sensor I don't need?"),
    ("Escalation", "Do you offer a white-label version of Lumio for resellers?"),
]

APPROVERS = frozenset({"reviewer", "admin"})
"""Roles that may approve or reject win-back emails from the chat."""

APPROVE_ACTION = "outbox_approve"
REJECT_ACTION = "outbox_reject"
"""Names of the outbox buttons (`cl.action_callback`)."""

CONSOLE_URL = "/review"
"""The reviewer console (where drafts can be edited and recipients dropped)."""

_watchers: set[asyncio.Task[None]] = set()
"""Running review watchers (held here so they are not garbage-collected; each ends on its own)."""


cl.data_layer(history.data_layer)


@cl.password_auth_callback
async def password_login(username: str, password: str) -> cl.User | None:
    """Check the password against the `users` table (bcrypt, in a worker thread)."""
    users = await get_user_store()
    user = await users.aauthenticate(username, password)
    if user is None:
        return None
    return cl.User(identifier=user.username, display_name=user.username, metadata=session_metadata(user.role))


@cl.set_starters
async def starters(user: cl.User | None = None, language: str | None = None) -> list[cl.Starter]:
    """Starter prompts for the demo scenarios."""
    return [cl.Starter(label=label, message=message) for label, message in STARTERS]


@cl.on_chat_start
async def start() -> None:
    """Warm the services so the first answer is quick; say which model answers."""
    copilot = await get_copilot()
    if not copilot.settings.use_openai:
        content = "🔌 **Offline model** — deterministic answers from real tools and documents, no API key needed."
    else:
        content = f"🔗 **OpenAI-compatible model** — {describe_models(copilot.settings)}."
    await cl.Message(content=content, author="GTM Copilot").send()


@cl.on_chat_resume
async def resume(thread: ThreadDict) -> None:
    """Continue a thread from the sidebar: the LangGraph thread is the same id, so the graph keeps its memory.

    If the thread is still waiting for a reviewer, watch for the decision again (this is a new session).
    """
    try:
        state = await (await get_copilot()).thread(thread["id"])
    except UnknownThread:
        return
    if state["status"] == "pending_review" and state["review_id"]:
        _watch_review(thread["id"], state["review_id"], len(state["messages"]))


async def _account_active(user: cl.User | None) -> bool:
    """Whether the signed-in account still exists, is enabled and this session was not ended.

    Signing out elsewhere and a new password end sessions; a session's cookie outlives all three.
    """
    if user is None:
        return False
    account = await (await get_user_store()).aget(user.identifier)
    claims = token_claims(getattr(cl.context.session, "token", None))
    return account is not None and account.session_valid(claims[1] if claims else None)


async def _deliver_review(session: WebsocketSession, thread_id: str, review_id: str, seen_messages: int) -> None:
    """Background task of one chat session: wait for the reviewer, then post their answer in this chat."""
    local_steps.set(None)  # a top-level message, not nested under the request that escalated
    copilot = await get_copilot()
    answer = await wait_for_review(
        copilot,
        thread_id,
        seen_messages,
        alive=lambda: WebsocketSession.get_by_id(session.id) is session,
    )
    if answer is None:
        return
    review = await copilot.reviews.get(review_id)
    content = review_message(review_id, review.get("decided_by") if review else None, answer)
    # The same id as the console's history write: the thread keeps one copy whichever lands first.
    await cl.Message(content=content, author=REVIEWER_AUTHOR, id=review_message_id(review_id)).send()


def _watch_review(thread_id: str, review_id: str, seen_messages: int) -> None:
    """Start delivering the review's outcome to this chat session when it is decided."""
    session = cl.context.session
    if not isinstance(session, WebsocketSession):
        return
    task = asyncio.create_task(_deliver_review(session, thread_id, review_id, seen_messages))
    _watchers.add(task)
    task.add_done_callback(_watchers.discard)


async def _watch_escalation(thread_id: str, review_id: str) -> None:
    """Start watching for the reviewer's decision (the notice already names the review and its ticket)."""
    copilot = await get_copilot()
    thread = await copilot.thread(thread_id)
    _watch_review(thread_id, review_id, len(thread["messages"]))


async def _waiting_message(thread_id: str) -> str:
    """What to say when the thread is paused for a person (a reviewer, or an outbox approval)."""
    try:
        status = (await (await get_copilot()).thread(thread_id))["status"]
    except Exception:  # noqa: BLE001 - only the wording depends on it
        status = "pending_review"
    waiting_for = (
        "Your win-back emails are waiting for approval in the outbox."
        if status == "pending_approval"
        else "Your previous question is still with a specialist; their answer will appear here."
    )
    return f"{waiting_for} To ask something else meanwhile, start a new chat."


@cl.on_message
async def on_message(message: cl.Message) -> None:
    """Run the request through the graph on this chat's thread and stream the answer."""
    copilot = await get_copilot()
    thread_id = cl.context.session.thread_id
    user = cl.context.session.user
    if not await _account_active(user):
        await cl.Message(content="Your account is disabled or no longer exists. Please sign in again.").send()
        return
    author = "GTM Copilot" if copilot.settings.use_openai else "GTM Copilot · offline model"
    reply = cl.Message(content="", author=author)
    text = message.content.strip()
    uploads = await save_uploads(message.elements, copilot.settings.home)
    if uploads.refused:
        await cl.Message(content="\n".join(["Not attached:", *(f"- {why}" for why in uploads.refused)])).send()
    if uploads.saved:
        text = with_attachments(text, uploads.saved)
    if not text:
        if not uploads.refused:
            await cl.Message(content="Please type a question.").send()
        return
    if len(text) > copilot.settings.max_request_chars:
        await cl.Message(
            content=f"That message is too long ({len(text):,} characters; the limit is "
            f"{copilot.settings.max_request_chars:,}). Please shorten it."
        ).send()
        return
    steps = RunSteps(text, copilot.settings.confidence_threshold)
    tokens = TokenBatches(reply.stream_token)
    try:
        result = await copilot.ask(
            text,
            thread_id=thread_id,
            user_id=user.identifier if user else "anonymous",
            on_token=tokens,
            on_event=steps.on_event,
        )
        await tokens.flush()
    except ReviewConflict:
        await steps.finish()
        await cl.Message(content=await _waiting_message(thread_id)).send()
        return
    except Exception as exc:  # noqa: BLE001 - the chat shows a short message, never a traceback
        await steps.finish(error=" ".join(str(exc).split())[:300])
        await cl.Message(content=f"Sorry, that request failed: {' '.join(str(exc).split())[:300]}").send()
        return
    await steps.finish()
    if reply.content != result.answer:  # escalations, answers that arrive whole, compound replies
        reply.content = result.answer
    if result.escalated and result.review_id:
        try:
            await _watch_escalation(thread_id, result.review_id)
        except Exception as exc:  # noqa: BLE001 - the answer still goes out; history has the decision
            log.warning("could not watch review %s: %s", result.review_id, exc)
    reply.elements = _charts(result)  # type: ignore[assignment]
    if result.pending_approval:
        reply.actions = await _outbox_actions(thread_id, user)
        if reply.actions:
            reply.content += f"\n\nTo edit a draft or drop recipients, use the [reviewer console]({CONSOLE_URL})."
    await reply.send()


def _charts(result: AskResult) -> list[cl.Plotly]:
    """The result's charts as inline Plotly elements (persisted with the message; see `app.web.history`)."""
    return [
        cl.Plotly(name=f"chart-{i}", figure=go.Figure(chart), display="inline") for i, chart in enumerate(result.charts)
    ]


async def _may_approve(user: cl.User | None) -> bool:
    """Whether the signed-in account (re-read: roles change) may approve win-back emails."""
    if user is None:
        return False
    account = await (await get_user_store()).aget(user.identifier)
    return account is not None and not account.disabled and account.role in APPROVERS


async def _outbox_actions(thread_id: str, user: cl.User | None) -> list[cl.Action]:
    """Approve / reject buttons for a reviewer or admin; nobody else gets any."""
    if not await _may_approve(user):
        return []
    payload = {"thread_id": thread_id}
    return [
        cl.Action(name=APPROVE_ACTION, payload=payload, label="Approve all and send", icon="send"),
        cl.Action(name=REJECT_ACTION, payload=payload, label="Reject", icon="x"),
    ]


async def _decide_outbox(action: cl.Action, decision: str) -> None:
    """Apply an outbox decision from a button, and post what was sent (or not) in the chat."""
    user = cl.context.session.user
    if not await _may_approve(user):
        await cl.Message(content="Only a reviewer or an admin can approve or reject win-back emails.").send()
        return
    assert user is not None  # checked by _may_approve
    thread_id = str(action.payload.get("thread_id") or "")
    if thread_id != cl.context.session.thread_id:
        await cl.Message(content="Those buttons belong to another chat.").send()
        return
    await action.remove()
    copilot = await get_copilot()
    reply = cl.Message(content="", author="GTM Copilot")
    steps = RunSteps(f"{decision} by {user.identifier}", copilot.settings.confidence_threshold)
    await steps.start("Outbox decision")
    tokens = TokenBatches(reply.stream_token)
    try:
        result = await copilot.decide_outbox(
            thread_id,
            OutboxDecision(action=decision, reviewer=user.identifier),  # type: ignore[arg-type]
            on_token=tokens,
            on_event=steps.on_event,
        )
        await tokens.flush()
    except LookupError as exc:
        await steps.finish()
        await cl.Message(content=f"Nothing to decide: {' '.join(str(exc).split())[:300]}").send()
        return
    except Exception as exc:  # noqa: BLE001 - the chat shows a short message, never a traceback
        await steps.finish(error=" ".join(str(exc).split())[:300])
        await cl.Message(content=f"Sorry, the decision failed: {' '.join(str(exc).split())[:300]}").send()
        return
    await steps.finish()
    if not reply.content:
        reply.content = result.answer
    await reply.send()


@cl.action_callback(APPROVE_ACTION)
async def approve_outbox(action: cl.Action) -> None:
    """Approve all and send: send every drafted win-back email of this chat's campaign."""
    await _decide_outbox(action, "approve_all")


@cl.action_callback(REJECT_ACTION)
async def reject_outbox(action: cl.Action) -> None:
    """Reject: send none of them."""
    await _decide_outbox(action, "reject")
