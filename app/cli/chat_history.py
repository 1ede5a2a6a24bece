"""Writing a decision made on the command line into the requester's web chat history.

A reviewer who decides from a terminal (`gtm review edit`, `gtm outbox approve`) should leave the same
message in the requester's chat thread as the console does, for a requester who asked in the browser
and has since left: the message ids are the ones a connected chat posts live, so the outcome shows once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.settings import Settings


async def write_to_chat_history(settings: Settings, write: Callable[[], Awaitable[bool]]) -> bool:
    """Run `write` against the chat history database, opened for it and closed after.

    Only when that database exists (a server ran on this home, or `GTM_HISTORY_URL` is set): a thread
    asked from the command line has no chat history and gets nothing.

    Returns:
        What `write` returned (whether a message was written), or False without a chat history.
    """
    from sqlalchemy.engine import make_url

    url = make_url(settings.history_db_url)
    if url.get_backend_name() == "sqlite" and not (url.database and Path(url.database).exists()):
        return False  # no server ever ran on this home: there is no chat history to write to
    from app.web import history

    history.configure(settings)
    try:
        return await write()
    finally:
        await history.close_history()
