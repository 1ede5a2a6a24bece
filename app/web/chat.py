"""The Chainlit chat: password sign-in, streamed answers with steps and charts, live review outcomes.

Signs people in against the `users` table, streams the graph's answer, shows the route and tools as
steps, renders charts, and posts a reviewer's decision on an escalation into the chat when it is made.
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
from app.runtime import UnknownThread
from app.web import history
from app.web.copilot_holder import get_copilot, get_ticket_store, get_user_store
from app.web.review_watch import wait_for_review
from app.web.uploads import save_uploads, with_attachments

log = logging.getLogger(__name__)

STARTERS = [
    ("Weekly report", "Give me the weekly report"),
    ("Win-back campaign", "Launch a win-back campaign for churned customers"),
    ("CAC by channel", "What was our CAC by channel last quarter?"),
    ("RFM segments", "Segment our customers with RFM"),
    ("Support question", "How long do I have to return a sensor I don't need?"),
    ("Escalation", "Do you offer a white-label version of Lumio for resellers?"),
]

REVIEWER_AUTHOR = "Support specialist"
"""Author of a reviewed answer delivered into the chat."""

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
    return cl.User(identifier=user.username, display_name=user.username, metadata={"role": user.role})


@cl.set_starters
async def starters(user: cl.User | None = None, language: str | None = None) -> list[cl.Starter]:
    """Starter prompts for the demo scenarios."""
    return [cl.Starter(label=label, message=message) for label, message in STARTERS]


@cl.on_chat_start
async def start() -> None:
    """Warm the services so the first answer is quick; say which model answers."""
    copilot = await get_copilot()
    if not copilot.settings.use_openai:
        await cl.Message(
            content="🔌 **Offline model** — deterministic answers from real tools and documents, no API key needed.",
            author="GTM Copilot",
        ).send()


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
    """Whether the signed-in account still exists and is enabled (sessions outlive a `gtm users disable`)."""
    if user is None:
        return False
    account = await (await get_user_store()).aget(user.identifier)
    return account is not None and not account.disabled


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
    by = f" by {review['decided_by']}" if review and review.get("decided_by") else ""
    await cl.Message(content=f"**{review_id} · reviewed{by}**\n\n{answer}", author=REVIEWER_AUTHOR).send()


def _watch_review(thread_id: str, review_id: str, seen_messages: int) -> None:
    """Start delivering the review's outcome to this chat session when it is decided."""
    session = cl.context.session
    if not isinstance(session, WebsocketSession):
        return
    task = asyncio.create_task(_deliver_review(session, thread_id, review_id, seen_messages))
    _watchers.add(task)
    task.add_done_callback(_watchers.discard)


async def _escalation_note(thread_id: str, review_id: str) -> str:
    """Name the ticket, and start watching for the decision."""
    copilot = await get_copilot()
    thread = await copilot.thread(thread_id)
    _watch_review(thread_id, review_id, len(thread["messages"]))
    ticket = await (await get_ticket_store()).aby_review(review_id)
    return f"\n\nTicket **#{ticket['id']}** is open for it." if ticket else ""


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
    try:
        async with cl.Step(name="Supervisor", type="run") as step:
            step.input = text
            result = await copilot.ask(
                text, thread_id=thread_id, user_id=user.identifier if user else "anonymous", on_token=reply.stream_token
            )
            step.output = f"route: {result.route} · agents: {', '.join(result.agents)}"
    except ReviewConflict:
        await cl.Message(content=await _waiting_message(thread_id)).send()
        return
    except Exception as exc:  # noqa: BLE001 - the chat shows a short message, never a traceback
        await cl.Message(content=f"Sorry, that request failed: {' '.join(str(exc).split())[:300]}").send()
        return
    if not reply.content or result.escalated:
        reply.content = result.answer
    if result.escalated and result.review_id:
        try:
            reply.content += await _escalation_note(thread_id, result.review_id)
        except Exception as exc:  # noqa: BLE001 - the answer still goes out; history has the decision
            log.warning("could not watch review %s: %s", result.review_id, exc)
    elements = [
        cl.Plotly(name=f"chart-{i}", figure=go.Figure(chart), display="inline") for i, chart in enumerate(result.charts)
    ]
    reply.elements = elements  # type: ignore[assignment]
    await reply.send()
