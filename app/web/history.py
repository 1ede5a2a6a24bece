"""Chat history: Chainlit's SQLAlchemy data layer on embedded SQLite, or on a shared PostgreSQL.

The default is an SQLite file (aiosqlite) in the home; `GTM_HISTORY_URL=postgresql+psycopg://…` puts the
history of several servers in one PostgreSQL database.

Threads, messages and steps persist across restarts and show in the chat's sidebar. Chainlit does
not create its tables (chainlit #1364), so `init_history` creates them at start-up with SQLite
column types: ids, timestamps and JSON are `TEXT`, flags are `INTEGER` (`BOOLEAN` on PostgreSQL,
which refuses Chainlit's bound booleans in an integer column). Chainlit binds Python lists
and dicts as parameters (thread and step `tags`, step `modes`), which SQLite cannot store:
`SQLiteDataLayer` stores them as JSON text and reads them back as lists and dicts.

Who may open a thread is Chainlit's own check: the websocket refuses to resume a thread whose
`userIdentifier` is not the signed-in user, and the thread REST routes call `get_thread_author`
(a staff user gets 401 for someone else's thread, 404 for an unknown one).

Elements (the charts of an answer, uploaded sheets) persist through a storage client: Chainlit's
`create_element` hands the content to `storage_provider.upload_file` and stores the URL it returns in
the `elements` row, which the thread's history serves back to the browser. `InlineStorage` returns a
`data:` URL carrying the content itself, so a chart is one row in the same SQLite database as its
message: no file server, no second place to back up, and it is gone when its thread is deleted.

A reviewer's decision reached while the requester was away is written here too
(`add_assistant_message`), under a message id derived from the review id: the live delivery in the
chat uses the same id, so the thread's history holds the outcome exactly once whichever came first.

Chainlit keeps its data layer in a process-wide cache; `configure` clears it, so every `create_app`
(one per test) gets a layer on its own settings. Nothing here runs at import time.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from chainlit.data.sql_alchemy import SQLAlchemyDataLayer
from chainlit.data.storage_clients.base import BaseStorageClient
from chainlit.utils import utc_now
from sqlalchemy import text

from app.settings import Settings

_SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS users (
        "id" TEXT PRIMARY KEY,
        "identifier" TEXT NOT NULL UNIQUE,
        "metadata" TEXT NOT NULL DEFAULT '{}',
        "createdAt" TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS threads (
        "id" TEXT PRIMARY KEY,
        "createdAt" TEXT,
        "name" TEXT,
        "userId" TEXT REFERENCES users("id") ON DELETE CASCADE,
        "userIdentifier" TEXT,
        "tags" TEXT,
        "metadata" TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS steps (
        "id" TEXT PRIMARY KEY,
        "name" TEXT NOT NULL,
        "type" TEXT NOT NULL,
        "threadId" TEXT NOT NULL REFERENCES threads("id") ON DELETE CASCADE,
        "parentId" TEXT,
        "streaming" {flag} NOT NULL DEFAULT {false},
        "waitForAnswer" {flag},
        "isError" {flag},
        "metadata" TEXT,
        "tags" TEXT,
        "input" TEXT,
        "output" TEXT,
        "createdAt" TEXT,
        "command" TEXT,
        "start" TEXT,
        "end" TEXT,
        "generation" TEXT,
        "showInput" TEXT,
        "language" TEXT,
        "indent" INTEGER,
        "defaultOpen" {flag},
        "autoCollapse" {flag},
        "modes" TEXT,
        "icon" TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS elements (
        "id" TEXT PRIMARY KEY,
        "threadId" TEXT REFERENCES threads("id") ON DELETE CASCADE,
        "type" TEXT,
        "url" TEXT,
        "chainlitKey" TEXT,
        "name" TEXT NOT NULL,
        "display" TEXT,
        "objectKey" TEXT,
        "size" TEXT,
        "page" INTEGER,
        "language" TEXT,
        "forId" TEXT,
        "mime" TEXT,
        "props" TEXT,
        "autoPlay" {flag},
        "playerConfig" TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS feedbacks (
        "id" TEXT PRIMARY KEY,
        "forId" TEXT NOT NULL,
        "threadId" TEXT NOT NULL REFERENCES threads("id") ON DELETE CASCADE,
        "value" INTEGER NOT NULL,
        "comment" TEXT
    )""",
    'CREATE INDEX IF NOT EXISTS steps_thread ON steps ("threadId")',
    'CREATE INDEX IF NOT EXISTS threads_user ON threads ("userId")',
)
"""Chainlit's tables (the columns its SQLAlchemy data layer reads and writes); `{flag}` / `{false}` per dialect."""


def schema(url: str) -> tuple[str, ...]:
    """The history tables for the database at `url`: flags are BOOLEAN on PostgreSQL, INTEGER on SQLite."""
    postgres = url.startswith("postgresql")
    flag, false = ("BOOLEAN", "false") if postgres else ("INTEGER", "0")
    return tuple(statement.replace("{flag}", flag).replace("{false}", false) for statement in _SCHEMA)


JSON_COLUMNS = frozenset({"tags", "thread_tags", "step_tags", "modes"})
"""Result columns stored as JSON text that Chainlit expects as lists or dicts."""

_settings: Settings | None = None
_layer: SQLiteDataLayer | None = None


class InlineStorage(BaseStorageClient):
    """Chainlit storage client that keeps an element's content in its own row, as a `data:` URL."""

    async def upload_file(
        self,
        object_key: str,
        data: bytes | str,
        mime: str = "application/octet-stream",
        overwrite: bool = True,
        content_disposition: str | None = None,
    ) -> dict[str, Any]:
        """Return the content as a `data:` URL (no object key: Chainlit then serves the stored URL)."""
        raw = data.encode("utf-8") if isinstance(data, str) else data
        return {"object_key": None, "url": f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"}

    async def delete_file(self, object_key: str) -> bool:
        """Nothing to delete: the content goes with its row."""
        return True

    async def get_read_url(self, object_key: str) -> str:
        """Not used (elements have no object key); the stored URL is the content."""
        return object_key

    async def close(self) -> None:
        """Nothing to close."""


class SQLiteDataLayer(SQLAlchemyDataLayer):
    """Chainlit's SQLAlchemy data layer, adapted to SQLite's types."""

    async def execute_sql(self, query: str, parameters: dict[str, Any]) -> list[dict[str, Any]] | int | None:
        """Run one statement; lists and dicts are bound as JSON text, JSON list columns are decoded."""
        bound = {k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in parameters.items()}
        result: list[dict[str, Any]] | int | None = await super().execute_sql(query, bound)
        if isinstance(result, list):
            for row in result:
                for key in JSON_COLUMNS & row.keys():
                    if isinstance(row[key], str):
                        try:
                            row[key] = json.loads(row[key])
                        except json.JSONDecodeError:
                            row[key] = []
        return result

    async def get_thread_author(self, thread_id: str) -> str:
        """The thread's author, or `""` for an unknown thread (Chainlit then answers 404, not 500)."""
        try:
            author: str = await super().get_thread_author(thread_id)
        except ValueError:
            return ""
        return author


def configure(settings: Settings) -> None:
    """Use `settings` for the history of this web process, and drop Chainlit's cached data layer."""
    import chainlit.data as cl_data

    global _settings, _layer
    _settings = settings
    _layer = None
    cl_data._data_layer = None  # Chainlit caches the layer per process; a new app gets a new one
    cl_data._data_layer_initialized = False


def data_layer() -> SQLiteDataLayer:
    """The data layer of this process (Chainlit's `@cl.data_layer` hook; the engine connects lazily)."""
    global _layer
    if _layer is None:
        from app.web.copilot_holder import web_settings

        settings = _settings or web_settings()
        _layer = SQLiteDataLayer(conninfo=settings.history_db_url, storage_provider=InlineStorage())
    return _layer


async def add_assistant_message(thread_id: str, message_id: str, author: str, content: str) -> bool:
    """Append an assistant message to a chat thread's history, unless a message with that id is there already.

    Returns:
        Whether it was written (False: the thread has no chat history, or the message exists).
    """
    layer = data_layer()
    now = utc_now()
    async with layer.engine.begin() as conn:
        known = await conn.execute(text('SELECT 1 FROM threads WHERE "id" = :id'), {"id": thread_id})
        if known.first() is None:
            return False
        written = await conn.execute(
            text(
                'INSERT INTO steps ("id", "name", "type", "threadId", "parentId", "streaming", "isError", '
                '"metadata", "output", "createdAt", "start", "end") VALUES (:id, :name, \'assistant_message\', '
                ":thread, NULL, :no, :no, '{}', :output, :now, :now, :now) ON CONFLICT (\"id\") DO NOTHING"
            ),
            {"id": message_id, "name": author, "thread": thread_id, "output": content, "now": now, "no": False},
        )
        return bool(written.rowcount)


async def init_history(settings: Settings) -> None:
    """Create the history tables if needed (at start-up; SQLite runs in WAL mode for concurrent readers)."""
    layer = data_layer()
    async with layer.engine.begin() as conn:
        if settings.history_db_url.startswith("sqlite"):
            await conn.execute(text("PRAGMA journal_mode=WAL"))
        for statement in schema(settings.history_db_url):
            await conn.execute(text(statement))


async def close_history() -> None:
    """Dispose of the history engine (at shutdown)."""
    global _layer
    if _layer is not None:
        await _layer.engine.dispose()
    _layer = None
