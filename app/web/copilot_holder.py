"""One `Copilot` per server process, opened at start-up and closed at shutdown."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

from app.runtime import Copilot
from app.settings import get_settings

_stack: AsyncExitStack | None = None
_copilot: Copilot | None = None
_lock = asyncio.Lock()


async def get_copilot() -> Copilot:
    """The process's Copilot (opened on first use)."""
    global _stack, _copilot
    async with _lock:
        if _copilot is None:
            stack = AsyncExitStack()
            _copilot = await stack.enter_async_context(Copilot.open(get_settings()))
            _stack = stack
    return _copilot


async def close_copilot() -> None:
    """Close the checkpointer and forget the Copilot."""
    global _stack, _copilot
    if _stack is not None:
        await _stack.aclose()
    _stack, _copilot = None, None
