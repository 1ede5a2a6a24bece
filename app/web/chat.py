"""The Chainlit chat: password sign-in, streamed answers with steps and charts, live review outcomes.

Signs people in against the `users` table, streams the graph's answer, shows each agent, tool call,
report branch and support stage as a step (`app.web.run_steps`), renders charts (kept in the thread's
history), posts a reviewer's decision on an escalation into the chat when it is made, and lets a
reviewer or admin approve or reject win-back emails waiting in the outbox with two buttons.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import chainlit as cl
import plotly.graph_objects as go
from chainlit.context import local_steps
from chainlit.data.base import BaseDataLayer
from chainlit.session import WebsocketSession
from chainlit.types import ThreadDict

from app.reviews import ReviewConflict
from app.runs import ThreadBusy
from app.runtime import AskResult, NoPendingApproval, UnknownThread
from app.web import history
from app.web.copilot_holder import get_copilot, get_user_store
from app.web.review_watch import (
    OUTBOX_AUTHOR,
    REVIEWER_AUTHOR,
    outbox_lock,
    outbox_message,
    outbox_message_id,
    review_message,
    review_message_id,
    wait_for_review,
)
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

OUTBOX_URL = "/review/outbox"
"""The reviewer console's outbox page (where campaigns are approved, drafts edited, recipients dropped)."""

THREAD_NAME_CHARS = 80
"""Longest thread name in the sidebar (Chainlit names a thread after its first message, whole)."""

MODEL_NOTICE = "model_notice"
"""`cl.user_session` key of the notice naming the model, shown with the first answer of a chat."""

_watchers: set[asyncio.Task[None]] = set()
"""Running review watchers (held here so they are not garbage-collected; each ends on its own)."""

_outbox_watchers: dict[tuple[str, str], asyncio.Task[None]] = {}
"""Outbox watchers by (chat session id, thread id): a decision from this chat's buttons stops its watcher."""

_ACTION_IDS = uuid.UUID("0b1d5c7e-4f3a-4b8e-9c2d-6a7f8e9d0c1b")


def thread_title(name: str) -> str:
    """A thread name for the sidebar: one line of at most `THREAD_NAME_CHARS` characters."""
    flat = " ".join(name.split())
    return flat if len(flat) <= THREAD_NAME_CHARS else flat[: THREAD_NAME_CHARS - 1].rstrip() + "…"


def _data_layer() -> BaseDataLayer:
    """The chat history's data layer, naming threads with `thread_title` (a 20,000-character message included)."""
    layer = history.data_layer()
    if "update_thread" not in vars(layer):  # once per layer (a new app builds a new one)
        update = layer.update_thread

        async def update_thread(
            thread_id: str,
            name: str | None = None,
            user_id: str | None = None,
            metadata: dict[str, object] | None = None,
            tags: list[str] | None = None,
        ) -> None:
            named = thread_title(name) if name is not None else None
            await update(thread_id, name=named, user_id=user_id, metadata=metadata, tags=tags)

        layer.update_thread = update_thread  # type: ignore[method-assign]
    return layer


cl.data_layer(_data_layer)


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
    """Warm the services so the first answer is quick; keep the notice naming the model for the first answer.

    Nothing is posted here: Chainlit hides the starters as soon as a chat has a message.
    """
    copilot = await get_copilot()
    if not copilot.settings.use_openai:
        content = "🔌 **Offline model** — deterministic answers from real tools and documents, no API key needed."
    else:
        content = f"🔗 **OpenAI-compatible model** — {describe_models(copilot.settings)}."
    cl.user_session.set(MODEL_NOTICE, content)


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
    elif state["status"] == "pending_approval":
        await _watch_outbox(thread["id"])


async def _account_active(user: cl.User | None) -> bool:
    """Whether the signed-in account still exists, is enabled and this session was not ended.

    Signing out elsewhere and a new password end sessions; a session's cookie outlives all three.
    """
    if user is None:
        return False
    account = await (await get_user_store()).aget(user.identifier)
    claims = token_claims(getattr(cl.context.session, "token", None))
    return account is not None and account.session_valid(claims[1] if claims else None)


async def _decision_of(copilot: Any, session: WebsocketSession, thread_id: str, seen_messages: int) -> str | None:
    """The thread's next answer after `seen_messages` (a reviewer's decision), or None once this session is gone."""
    return await wait_for_review(
        copilot, thread_id, seen_messages, alive=lambda: WebsocketSession.get_by_id(session.id) is session
    )


async def _deliver_review(session: WebsocketSession, thread_id: str, review_id: str, seen_messages: int) -> None:
    """Background task of one chat session: wait for the reviewer, then post their answer in this chat."""
    local_steps.set(None)  # a top-level message, not nested under the request that escalated
    copilot = await get_copilot()
    answer = await _decision_of(copilot, session, thread_id, seen_messages)
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
        "Your win-back emails are waiting for a reviewer's approval in the reviewer console "
        f"([{OUTBOX_URL}]({OUTBOX_URL})); the outcome will appear here."
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
    notice = cl.user_session.get(MODEL_NOTICE)
    if notice:  # the first message of this chat: say which model answers (the starters are gone by now)
        cl.user_session.set(MODEL_NOTICE, None)
        await cl.Message(content=str(notice), author="GTM Copilot").send()
    text = message.content.strip()
    uploads = await save_uploads(message.elements, copilot.settings.uploads_path(thread_id))
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
    except ThreadBusy:  # a second message while the first is still being answered (another tab, a double send)
        await steps.finish()
        await cl.Message(
            content="Your previous message in this chat is still being answered; send this one again once it is done."
        ).send()
        return
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
    campaign_id = ""
    if result.pending_approval:
        try:
            campaign_id = (await copilot.pending_approval(thread_id))[1].campaign_id
        except LookupError:  # decided already (another process): the watcher reports it
            pass
        reply.actions = await _outbox_actions(thread_id, user, campaign_id)
        reply.content = approval_text(reply.content, bool(reply.actions))
    await reply.send()
    if result.pending_approval:
        await _watch_outbox(thread_id, campaign_id)


def approval_text(answer: str, may_approve: bool) -> str:
    """The win-back proposal as the chat shows it, with where it gets approved."""
    text = answer
    link = f"[{OUTBOX_URL}]({OUTBOX_URL})"
    if may_approve:
        return (
            f"{text}\n\nApprove all or reject with the buttons below; to edit a draft or drop recipients, use the "
            f"outbox page of the reviewer console ({link})."
        )
    return (
        f"{text}\n\nA reviewer approves it (or edits drafts, drops recipients or rejects it) in the reviewer "
        f"console at {link}; the outcome will appear in this chat."
    )


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


def _action_id(name: str, thread_id: str, campaign_id: str) -> str:
    """The id of a campaign's button: stable, so every button of a campaign can be removed once it is decided."""
    return str(uuid.uuid5(_ACTION_IDS, f"{name}:{thread_id}:{campaign_id}"))


def _campaign_actions(thread_id: str, campaign_id: str) -> list[cl.Action]:
    """The approve / reject buttons of one campaign."""
    payload = {"thread_id": thread_id, "campaign_id": campaign_id}
    return [
        cl.Action(
            name=APPROVE_ACTION,
            payload=payload,
            label="Approve all and send",
            icon="send",
            id=_action_id(APPROVE_ACTION, thread_id, campaign_id),
        ),
        cl.Action(
            name=REJECT_ACTION,
            payload=payload,
            label="Reject",
            icon="x",
            id=_action_id(REJECT_ACTION, thread_id, campaign_id),
        ),
    ]


async def _remove_campaign_actions(thread_id: str, campaign_id: str) -> None:
    """Take both buttons of a decided campaign off the chat (whichever was clicked, wherever it was decided)."""
    for action in _campaign_actions(thread_id, campaign_id):
        try:
            await action.remove()
        except Exception as exc:  # noqa: BLE001 - only the page's buttons depend on it
            log.debug("could not remove outbox button %s: %s", action.id, exc)


async def _outbox_actions(thread_id: str, user: cl.User | None, campaign_id: str = "") -> list[cl.Action]:
    """Approve / reject buttons for a reviewer or admin; nobody else gets any."""
    if not await _may_approve(user):
        return []
    return _campaign_actions(thread_id, campaign_id)


async def _campaign_decision(copilot: Any, thread_id: str, campaign_id: str) -> tuple[str, str, str | None] | None:
    """How a campaign was decided, from its outbox rows: (action, who, note), or `None` while undecided."""
    rows = [i for i in await copilot.outbox.items(thread_id) if i.campaign_id == campaign_id]
    decided = next((i for i in rows if i.decided_by), None)
    if decided is None:
        return None
    action = "reject" if all(i.status == "dropped" for i in rows) else "approve_all"
    return action, str(decided.decided_by), decided.note


async def _outbox_outcome(copilot: Any, thread_id: str, campaign_id: str, answer: str) -> str:
    """The outcome message of a decided campaign: who decided, how, and the delivery report."""
    decided = await _campaign_decision(copilot, thread_id, campaign_id)
    if decided is None:
        return outbox_message(None, None, answer)
    return outbox_message(decided[0], decided[1], answer, decided[2])


async def _deliver_outbox(session: WebsocketSession, thread_id: str, campaign_id: str, seen_messages: int) -> None:
    """Background task of one chat session: wait for the campaign's decision, then post it in this chat."""
    local_steps.set(None)  # a top-level message, not nested under the request that drafted the campaign
    copilot = await get_copilot()
    answer = await _decision_of(copilot, session, thread_id, seen_messages)
    if answer is None:
        return
    await _remove_campaign_actions(thread_id, campaign_id)
    content = await _outbox_outcome(copilot, thread_id, campaign_id, answer)
    # The same id as the console's history write: the thread keeps one copy whichever lands first.
    await cl.Message(content=content, author=OUTBOX_AUTHOR, id=outbox_message_id(thread_id, campaign_id)).send()


async def _watch_outbox(thread_id: str, campaign_id: str = "") -> None:
    """Start delivering a campaign's outcome (decided in the console or elsewhere) to this chat session."""
    session = cl.context.session
    if not isinstance(session, WebsocketSession):
        return
    copilot = await get_copilot()
    try:
        if not campaign_id:
            campaign_id = (await copilot.pending_approval(thread_id))[1].campaign_id
        seen = len((await copilot.thread(thread_id))["messages"])
    except LookupError:
        return
    key = (session.id, thread_id)
    if key in _outbox_watchers:
        _outbox_watchers.pop(key).cancel()
    task = asyncio.create_task(_deliver_outbox(session, thread_id, campaign_id, seen))
    _outbox_watchers[key] = task
    task.add_done_callback(lambda done: _outbox_watchers.pop(key, None) if _outbox_watchers.get(key) is done else None)


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
    campaign_id = str(action.payload.get("campaign_id") or "")
    await _remove_campaign_actions(thread_id, campaign_id)
    await action.remove()
    watcher = _outbox_watchers.pop((cl.context.session.id, thread_id), None)
    if watcher is not None:  # this reply reports the outcome
        watcher.cancel()
    copilot = await get_copilot()
    reply = cl.Message(content="", author="GTM Copilot")
    if campaign_id:
        reply.id = outbox_message_id(thread_id, campaign_id)
    steps = RunSteps(f"{decision} by {user.identifier}", copilot.settings.confidence_threshold)
    await steps.start("Outbox decision")
    tokens = TokenBatches(reply.stream_token)
    try:
        async with outbox_lock(thread_id):  # the console's decisions on this thread take the same lock
            _, pending = await copilot.pending_approval(thread_id)
            if campaign_id and pending.campaign_id != campaign_id:  # old buttons: never approve a newer campaign
                raise NoPendingApproval(f"campaign {campaign_id} is no longer waiting for approval")
            result = await copilot.decide_outbox(
                thread_id,
                OutboxDecision(action=decision, reviewer=user.identifier),  # type: ignore[arg-type]
                on_token=tokens,
                on_event=steps.on_event,
            )
        await tokens.flush()
    except LookupError as exc:
        await steps.finish()
        decided = await _campaign_decision(copilot, thread_id, campaign_id) if campaign_id else None
        if decided is not None:
            verb = "rejected" if decided[0] == "reject" else "approved"
            text = f"Nothing to decide: this campaign was already {verb} by {decided[1]}."
        else:
            text = f"Nothing to decide: {' '.join(str(exc).split())[:300]}"
        await cl.Message(content=text).send()
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
