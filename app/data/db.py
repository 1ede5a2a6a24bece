"""Engines for the business database: one cached engine per URL, SQLite tuned for concurrent readers.

SQLite connections get WAL journaling (readers do not block the writer), a busy timeout (a writer waits
instead of failing with "database is locked") and foreign keys. In-memory SQLite URLs share a single
connection so every thread sees the same database.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import StaticPool

from app.data.schema import customers, metadata

SQLITE_BUSY_TIMEOUT_MS = 10_000
"""How long a SQLite writer waits for a lock before giving up."""

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


class NoDataError(LookupError):
    """The business database has no rows for what was asked (empty database or an empty period)."""


def _is_memory_sqlite(database: str | None) -> bool:
    return not database or database == ":memory:" or database.startswith("file::memory:")


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def get_engine(url: str) -> Engine:
    """Return the engine for `url`, creating it once per process.

    SQLite file databases get their parent folder created, WAL mode and a busy timeout; PostgreSQL
    engines ping connections before use.

    Args:
        url: a SQLAlchemy URL, e.g. `sqlite:////path/business.db` or `postgresql+psycopg://user@host/db`.

    Returns:
        The shared engine for that URL.
    """
    with _lock:
        engine = _engines.get(url)
        if engine is not None:
            return engine
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
            if _is_memory_sqlite(parsed.database):
                kwargs["poolclass"] = StaticPool
            else:
                Path(str(parsed.database)).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(parsed, **kwargs)
            sa.event.listen(engine, "connect", _sqlite_on_connect)
        else:
            engine = sa.create_engine(parsed, pool_pre_ping=True)
        _engines[url] = engine
        return engine


def dispose_engines() -> None:
    """Close and forget every cached engine (tests, shutdown)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


def init_db(engine: Engine) -> None:
    """Create the business tables that do not exist yet (idempotent)."""
    metadata.create_all(engine, checkfirst=True)


def is_seeded(engine: Engine) -> bool:
    """Whether the database holds business data (demo or imported): the customers table exists and has rows.

    The app seeds demo data on first start only when this is False, so imported data is never replaced.
    """
    if not sa.inspect(engine).has_table(customers.name):
        return False
    with engine.connect() as conn:
        return conn.execute(sa.select(customers.c.id).limit(1)).first() is not None


def add_missing_columns(engine: Engine, table: sa.Table) -> None:
    """Bring `table`, as an earlier version created it, up to date: add the nullable columns it lacks."""
    present = {c["name"] for c in sa.inspect(engine).get_columns(table.name)}
    with engine.begin() as conn:
        for column in table.columns:
            if column.name not in present and column.nullable:
                kind = column.type.compile(dialect=engine.dialect)
                conn.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}"))
