"""The same schema, seed and queries against a real PostgreSQL server (skipped when none is reachable)."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from app.analytics.unit_economics import cac
from app.data import queries
from app.data.db import init_db, is_seeded
from app.data.importer import import_transactions
from app.data.periods import quarter_period
from app.data.seed import seed_demo


def test_schema_seed_and_queries_on_postgres(pg_engine: sa.Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    init_db(pg_engine)
    init_db(pg_engine)
    assert is_seeded(pg_engine) is False
    tables = set(sa.inspect(pg_engine).get_table_names())
    assert {"customers", "orders", "channel_performance", "tickets", "finance_ledger"} <= tables

    report = seed_demo(pg_engine, customers=120, seed=11, end_date=date(2025, 6, 30))
    assert is_seeded(pg_engine) is True
    assert queries.table_counts(pg_engine) == report.counts
    report2 = seed_demo(pg_engine, customers=120, seed=11, end_date=date(2025, 6, 30))  # replaces, same rows
    assert report2.counts == report.counts
    with pg_engine.connect() as conn:
        first_ticket = conn.execute(sa.text("select min(id) from tickets")).scalar_one()
    assert first_ticket == 1  # identities restart when the seed replaces the data

    tx = queries.transactions_frame(pg_engine)
    assert (
        list(tx.columns) == ["customer_id", "order_id", "order_date", "amount"] and len(tx) == report.counts["orders"]
    )
    assert queries.data_bounds(pg_engine) == (date(2023, 6, 1), date(2025, 6, 30))
    revenue = queries.monthly_revenue(pg_engine)
    assert len(revenue) == 25 and revenue.index.freqstr == "MS"

    q1 = quarter_period(2025, 1)
    with pg_engine.connect() as conn:
        spend = conn.execute(
            sa.text("select sum(spend) from channel_performance where date between '2025-01-01' and '2025-03-31'")
        ).scalar_one()
        new = conn.execute(
            sa.text("select count(*) from customers where signup_date between '2025-01-01' and '2025-03-31'")
        ).scalar_one()
    assert cac(pg_engine, q1).result == pytest.approx(float(spend) / new)

    path = tmp_path / "t.csv"
    path.write_text("c,d,a\nPG-1,2025-01-05,12.5\n")
    assert import_transactions(pg_engine, path, "c", "d", "a").orders_created == 1
