"""Data versions: one monotonically increasing counter per data domain, stored in the business database.

Every writer bumps the domains it changes, inside its own transaction (`bump_data_versions(conn, ...)`);
cache keys include the versions of the domains a value was computed from, so a write makes the old
entries unreachable in every process. The bump also deletes the L3 rows (`cache_entries`) that read the
domain. Each domain row carries a random `epoch` chosen when the row is created, so a database that is
dropped and recreated never reproduces an old version string that Redis may still hold.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.schema import CreateIndex, CreateTable

from app.data.schema import cache_entries, cache_metadata, data_versions

Domain = Literal["transactions", "channels", "finance", "tickets"]
"""What a cached value may depend on: orders/customers/subscriptions, campaigns/channel days/leads, the
finance ledger, support tickets."""

ALL_DOMAINS: tuple[Domain, ...] = ("transactions", "channels", "finance", "tickets")
"""Every domain; `seed_demo` replaces all of them."""


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def ensure_cache_tables(bind: Engine | Connection) -> None:
    """Create `data_versions` and `cache_entries` if they do not exist (idempotent, safe when racing).

    Uses `CREATE ... IF NOT EXISTS`, so concurrent first uses in several threads or processes do not fail.
    """

    def create(conn: Connection) -> None:
        for table in cache_metadata.sorted_tables:
            conn.execute(CreateTable(table, if_not_exists=True))
            for index in table.indexes:
                conn.execute(CreateIndex(index, if_not_exists=True))

    if isinstance(bind, Connection):
        create(bind)
        return
    with bind.begin() as conn:
        create(conn)


def _upsert(conn: Connection, domain: str, now: datetime) -> None:
    values = {"domain": domain, "version": 1, "epoch": secrets.token_hex(4), "updated_at": now}
    bumped = {"version": data_versions.c.version + 1, "updated_at": now}
    name = conn.dialect.name
    if name in ("sqlite", "postgresql"):
        from sqlalchemy.dialects import postgresql, sqlite

        dialect_insert: Any = sqlite.insert if name == "sqlite" else postgresql.insert
        stmt = dialect_insert(data_versions).values(**values)
        conn.execute(stmt.on_conflict_do_update(index_elements=[data_versions.c.domain], set_=bumped))
        return
    changed = conn.execute(data_versions.update().where(data_versions.c.domain == domain).values(**bumped)).rowcount
    if not changed:
        conn.execute(data_versions.insert().values(**values))


def bump_data_versions(conn: Connection, *domains: Domain) -> None:
    """Record that `domains` changed: bump their versions and delete the L3 cache rows that read them.

    Call it inside the writer's transaction, so the new data and the new version commit together.

    Args:
        conn: a connection with an open transaction (`with engine.begin() as conn:`).
        domains: the domains the transaction wrote to.
    """
    ensure_cache_tables(conn)
    now = _now()
    for domain in dict.fromkeys(domains):
        _upsert(conn, domain, now)
        conn.execute(cache_entries.delete().where(cache_entries.c.domains.contains(f"|{domain}|")))


def read_data_versions(engine: Engine) -> dict[str, str]:
    """The current version string (`<counter>.<epoch>`) of every domain that was ever written."""
    stmt = sa.select(data_versions.c.domain, data_versions.c.version, data_versions.c.epoch)
    try:
        with engine.connect() as conn:
            rows = conn.execute(stmt).all()
    except sa.exc.DBAPIError:  # the table is not there yet: nothing was ever written
        ensure_cache_tables(engine)
        with engine.connect() as conn:
            rows = conn.execute(stmt).all()
    return {str(domain): f"{int(version)}.{epoch}" for domain, version, epoch in rows}


def version_tag(versions: dict[str, str], domains: tuple[str, ...]) -> str:
    """The part of a cache key naming the versions of `domains` (`transactions=3.9f2c01ab;channels=0`)."""
    return ";".join(f"{d}={versions.get(d, '0')}" for d in sorted(domains))
