from __future__ import annotations

import threading
from pathlib import Path

import sqlalchemy as sa

from app.data.db import get_engine, init_db, is_seeded
from app.data.schema import ALL_TABLES, customers, metadata

EXPECTED_TABLES = {
    "customers",
    "products",
    "orders",
    "order_items",
    "subscriptions",
    "campaigns",
    "channel_performance",
    "leads",
    "tickets",
    "finance_ledger",
}


def test_init_db_creates_every_table_with_indexes_and_is_idempotent(tmp_path: Path) -> None:
    engine = get_engine(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'business.db'}")
    assert (tmp_path / "nested" / "dir").is_dir()  # parent folder created
    init_db(engine)
    init_db(engine)  # second run is a no-op
    inspector = sa.inspect(engine)
    assert EXPECTED_TABLES <= set(inspector.get_table_names())
    assert {t.name for t in ALL_TABLES} == EXPECTED_TABLES == set(metadata.tables)
    order_indexes = {tuple(ix["column_names"]) for ix in inspector.get_indexes("orders")}
    assert ("order_date",) in order_indexes and ("customer_id",) in order_indexes
    perf_indexes = {tuple(ix["column_names"]) for ix in inspector.get_indexes("channel_performance")}
    assert ("date",) in perf_indexes
    fks = {fk["referred_table"] for fk in inspector.get_foreign_keys("order_items")}
    assert fks == {"orders", "products"}


def test_engine_is_cached_and_sqlite_is_tuned(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    engine = get_engine(url)
    assert get_engine(url) is engine
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_is_seeded(empty_engine: sa.Engine, tmp_path: Path) -> None:
    fresh = get_engine(f"sqlite:///{tmp_path / 'never.db'}")
    assert is_seeded(fresh) is False  # no tables at all
    assert is_seeded(empty_engine) is False
    with empty_engine.begin() as conn:
        conn.execute(customers.insert().values(id="X1", name="X", signup_date=sa.func.current_date()))
    assert is_seeded(empty_engine) is True


def test_memory_database_is_shared_across_threads() -> None:
    engine = get_engine("sqlite:///:memory:")
    init_db(engine)
    with engine.begin() as conn:
        conn.execute(sa.delete(customers))
        conn.execute(customers.insert().values(id="M1", name="Mem", signup_date=sa.func.current_date()))
    seen: list[int] = []

    def count() -> None:
        with engine.connect() as conn:
            seen.append(conn.execute(sa.select(sa.func.count()).select_from(customers)).scalar_one())

    worker = threading.Thread(target=count)
    worker.start()
    worker.join()
    assert seen == [1]
