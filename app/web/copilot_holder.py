"""The web process's shared services: its settings, one `Copilot`, the account and ticket stores.

`create_app(settings)` calls `configure(settings)`; the Copilot opens at start-up and closes at
shutdown. Chainlit callbacks and FastAPI dependencies reach them through these functions.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

from app.auth.users import UserStore
from app.runtime import Copilot
from app.settings import Settings, get_settings
from app.tickets import TicketStore

_settings: Settings | None = None
_stack: AsyncExitStack | None = None
_copilot: Copilot | None = None
_users: UserStore | None = None
_tickets: TicketStore | None = None
_lock = asyncio.Lock()


def configure(settings: Settings | None) -> None:
    """Use `settings` for this web process (`None`: read them from the environment)."""
    global _settings, _users, _tickets
    _settings = settings
    _users = _tickets = None


def web_settings() -> Settings:
    """The settings of this web process."""
    return _settings or get_settings()


async def get_copilot() -> Copilot:
    """The process's Copilot (opened on first use)."""
    global _stack, _copilot
    async with _lock:
        if _copilot is None:
            stack = AsyncExitStack()
            _copilot = await stack.enter_async_context(Copilot.open(web_settings()))
            _stack = stack
    return _copilot


async def get_user_store() -> UserStore:
    """The account store in the business database (opened off the event loop on first use)."""
    global _users
    if _users is None:
        _users = await asyncio.to_thread(UserStore.for_settings, web_settings())
    return _users


async def get_ticket_store() -> TicketStore:
    """The ticket API over the business database (opened off the event loop on first use)."""
    global _tickets
    if _tickets is None:
        from app.services import business_engine

        _tickets = TicketStore(await asyncio.to_thread(business_engine, web_settings()))
    return _tickets


async def close_copilot() -> None:
    """Close the checkpointer and forget the Copilot."""
    global _stack, _copilot
    if _stack is not None:
        await _stack.aclose()
    _stack, _copilot = None, None
