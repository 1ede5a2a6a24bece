"""Wait for a reviewer's decision on an escalated thread (used by the chat to show it live).

Polling the checkpointer is deliberately simple and robust: it sees decisions made by this process, by
another app process or by `gtm review` on the command line alike, and survives restarts of either side.
One poll is one async read of the thread's latest checkpoint.

The outcome is one chat message whose id is derived from the review id (`review_message_id`): the live
delivery posts it, and the console writes the same message into the thread's history
(`record_in_history`) for a requester who was away. Whichever comes second finds the id taken, so the
thread shows the outcome exactly once.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from typing import Any

from app.runtime import UnknownThread

log = logging.getLogger(__name__)

POLL_S = 1.0
"""Seconds between two looks at the thread."""

WATCH_S = 24 * 3600.0
"""Give up watching after this long (the answer stays in the thread's history)."""

REVIEWER_AUTHOR = "Support specialist"
"""Author of a reviewed answer in the chat."""

_NAMESPACE = uuid.UUID("5f0c8a61-3c1e-4d4e-9a51-0b7f6e2f9c11")


OUTBOX_AUTHOR = "Outbox"
"""Author of a win-back campaign's outcome in the chat."""

OUTCOME_VERBS = {"approve_all": "approved", "approve_some": "approved", "reject": "rejected"}
"""How an `OutboxDecision` action reads in a sentence."""

_outbox_locks: dict[str, asyncio.Lock] = {}


def outbox_lock(thread_id: str) -> asyncio.Lock:
    """The lock that serialises outbox decisions on one thread in this process (console and chat buttons).

    The outbox itself applies only the first of two decisions; the lock makes the second one see that
    before it resumes the graph, so it gets a clear "already decided" instead of a second run.
    """
    lock = _outbox_locks.get(thread_id)
    if lock is None:
        if len(_outbox_locks) > 1000:  # forget idle locks now and then
            for key in [k for k, v in _outbox_locks.items() if not v.locked()]:
                del _outbox_locks[key]
        lock = _outbox_locks[thread_id] = asyncio.Lock()
    return lock


def outbox_message_id(thread_id: str, campaign_id: str) -> str:
    """The chat message id of a win-back campaign's outcome (the same in every process and session)."""
    return str(uuid.uuid5(_NAMESPACE, f"outbox-outcome:{thread_id}:{campaign_id}"))


def outbox_message(action: str | None, decided_by: str | None, answer: str, note: str | None = None) -> str:
    """The chat text of a win-back campaign's outcome (the delivery report of the run that decided it)."""
    verb = OUTCOME_VERBS.get(action or "", "decided")
    by = f" by {decided_by}" if decided_by else ""
    said = f"\n\n> {' '.join(note.split())}" if note and note.strip() and note.strip() not in answer else ""
    return f"**Win-back campaign · {verb}{by}**{said}\n\n{answer}"


async def record_outbox_in_history(
    thread_id: str, campaign_id: str, action: str, decided_by: str, answer: str, note: str | None = None
) -> bool:
    """Write a decided win-back campaign's outcome into its chat thread's history (once, like a review's).

    Returns:
        Whether a message was written (False: already there, or the thread never was a web chat).
    """
    from app.web import history

    return await history.add_assistant_message(
        thread_id,
        outbox_message_id(thread_id, campaign_id),
        OUTBOX_AUTHOR,
        outbox_message(action, decided_by, answer, note),
    )


def review_message_id(review_id: str) -> str:
    """The chat message id of a review's outcome (the same in every process and session)."""
    return str(uuid.uuid5(_NAMESPACE, f"review-outcome:{review_id}"))


def review_message(review_id: str, decided_by: str | None, answer: str) -> str:
    """The chat text of a review's outcome."""
    by = f" by {decided_by}" if decided_by else ""
    return f"**{review_id} · reviewed{by}**\n\n{answer}"


async def record_in_history(review: dict[str, Any], answer: str) -> bool:
    """Write a decided review's outcome into its chat thread's history (once; see the module docstring).

    Returns:
        Whether a message was written (False: already there, or the thread never was a web chat).
    """
    from app.web import history

    return await history.add_assistant_message(
        str(review["thread_id"]),
        review_message_id(str(review["review_id"])),
        REVIEWER_AUTHOR,
        review_message(str(review["review_id"]), review.get("decided_by"), answer),
    )


async def wait_for_review(
    copilot: Any,
    thread_id: str,
    seen_messages: int,
    *,
    poll_s: float = POLL_S,
    timeout_s: float = WATCH_S,
    alive: Callable[[], bool] = lambda: True,
) -> str | None:
    """Poll `thread_id` until its pending review is decided and return the reviewed answer.

    Args:
        copilot: The `Copilot` (anything with an async `thread(thread_id)`).
        thread_id: The escalated thread.
        seen_messages: How many messages the thread had when it escalated (the answer is the first
            assistant message after them).
        poll_s: Seconds between polls.
        timeout_s: Stop after this long.
        alive: Stop as soon as this returns False (the chat session ended).

    Returns:
        The answer, or `None` when watching stopped first (timeout, session gone, thread gone).
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while alive() and loop.time() < deadline:
        await asyncio.sleep(poll_s)
        try:
            thread = await copilot.thread(thread_id)
        except UnknownThread:
            return None
        except Exception as exc:  # noqa: BLE001 - a busy database must not end the watch
            log.warning("watching thread %s: %s", thread_id, exc)
            continue
        if thread["status"] != "complete":
            continue
        later = [m for m in thread["messages"][seen_messages:] if m["role"] == "assistant"]
        return str(later[0]["content"]) if later else str(thread["last_answer"])
    return None


async def answer_same_questions_in_chat(copilot: Any, review: dict[str, Any], answer: str, reviewer: str) -> list[str]:
    """After "add to knowledge base": the same question's other pending reviews get the answer, in their chats too.

    Returns the ids of the reviews answered (`app.kb.reviewed.answer_same_questions`); a failure leaves them in
    the queue and is logged, never raised (the decision itself stands).
    """
    from app.kb.reviewed import answer_same_questions

    try:
        done = await answer_same_questions(copilot, review["review_id"], review["question"], answer, reviewer)
    except Exception:  # noqa: BLE001 - the others stay in the queue for a reviewer
        log.exception("answering the same question's other reviews after %s failed", review["review_id"])
        return []
    for other, outcome in done:
        decided = await copilot.reviews.get(other)
        try:  # for a requester who is away; a live chat posts the same message (same id) only once
            await record_in_history({**(decided or {"review_id": other}), "decided_by": reviewer}, outcome.answer)
        except Exception:  # noqa: BLE001 - the decision stands; a watching chat still shows it
            log.exception("writing the outcome of %s to the chat history failed", other)
    return [other for other, _ in done]
