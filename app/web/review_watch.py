"""Wait for a reviewer's decision on an escalated thread (used by the chat to show it live).

Polling the checkpointer is deliberately simple and robust: it sees decisions made by this process, by
another app process or by `gtm review` on the command line alike, and survives restarts of either side.
One poll is one async read of the thread's latest checkpoint.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from app.runtime import UnknownThread

log = logging.getLogger(__name__)

POLL_S = 1.0
"""Seconds between two looks at the thread."""

WATCH_S = 24 * 3600.0
"""Give up watching after this long (the answer stays in the thread's history)."""


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
