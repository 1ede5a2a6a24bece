from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from app.data import queries
from app.data.db import NoDataError

from .conftest import END, Demo
from .tiny import build_tiny

SUB = {  # hand-computed pro-rated subscription revenue of the tiny database
    "2024-12-01": 49.0,
    "2025-01-01": 49.0 + 49.0 * 22 / 31,
    "2025-02-01": 49.0 + 49.0 * 9 / 28 + 199.0 * 19 / 28 + 199.0 * 24 / 28,
    "2025-03-01": 49.0 + 199.0 + 199.0 * 4 / 31,
}
HW = {"2024-12-01": 720.0, "2025-01-01": 1589.0, "2025-02-01": 644.0, "2025-03-01": 822.0}


@pytest.fixture
def tiny(empty_engine: sa.Engine) -> sa.Engine:
    build_tiny(empty_engine)
    return empty_engine


def test_empty_database_raises_no_data(empty_engine: sa.Engine) -> None:
    with pytest.raises(NoDataError, match="gtm data seed"):
        queries.data_bounds(empty_engine)
    with pytest.raises(NoDataError):
        queries.monthly_revenue(empty_engine)
    assert queries.transactions_frame(empty_engine).empty


def test_data_bounds(tiny: sa.Engine, demo: Demo) -> None:
    assert queries.data_bounds(tiny) == (date(2024, 12, 1), date(2025, 3, 31))
    assert queries.data_bounds(demo.engine) == (date(2023, 11, 1), END)


def test_transactions_frame_columns_and_dtypes(tiny: sa.Engine) -> None:
    frame = queries.transactions_frame(tiny)
    assert list(frame.columns) == ["customer_id", "order_id", "order_date", "amount"]
    assert frame["order_date"].dtype == np.dtype("datetime64[ns]")
    assert frame["amount"].dtype == np.float64
    assert pd.api.types.is_string_dtype(frame["customer_id"]) and pd.api.types.is_string_dtype(frame["order_id"])
    assert list(frame["order_id"]) == ["O4", "O1", "O2", "O5", "O3"]  # by date
    window = queries.transactions_frame(tiny, start=date(2025, 2, 1), end=date(2025, 3, 2))
    assert list(window["order_id"]) == ["O2", "O5"]


def test_monthly_revenue_matches_hand_computation(tiny: sa.Engine) -> None:
    sub = queries.monthly_revenue(tiny, "subscription")
    hw = queries.monthly_revenue(tiny, "hardware")
    total = queries.monthly_revenue(tiny)
    for series in (sub, hw, total):
        assert isinstance(series.index, pd.DatetimeIndex) and series.index.freqstr == "MS"
        assert list(series.index.strftime("%Y-%m-%d")) == list(SUB)
    assert np.allclose(sub.to_numpy(), list(SUB.values()))
    assert np.allclose(hw.to_numpy(), list(HW.values()))
    assert np.allclose(total.to_numpy(), np.add(list(SUB.values()), list(HW.values())))
    with pytest.raises(ValueError, match="unknown revenue kind"):
        queries.monthly_revenue(tiny, "other")  # type: ignore[arg-type]


def test_monthly_revenue_has_no_gaps_and_drops_the_partial_month(demo: Demo) -> None:
    series = queries.monthly_revenue(demo.engine)
    assert series.index[0] == pd.Timestamp("2023-11-01") and series.index[-1] == pd.Timestamp("2025-10-01")
    assert len(series) == 24 and series.index.freqstr == "MS" and (series > 0).all()
    partial = queries.monthly_revenue(demo.engine, include_partial=True)
    assert partial.index[-1] == pd.Timestamp("2025-11-01") and len(partial) == 25
    with demo.engine.connect() as conn:
        by_sql = conn.exec_driver_sql(
            "select sum(amount) from orders where order_date >= '2025-03-01' and order_date < '2025-04-01'"
        ).scalar_one()
    assert queries.monthly_revenue(demo.engine, "hardware")["2025-03-01"] == pytest.approx(by_sql)


def test_subscription_revenue_by_month_prorates_half_open_ranges() -> None:
    subs = pd.DataFrame({"start_date": [date(2025, 1, 16)], "end_date": [date(2025, 3, 1)], "mrr": [310.0]})
    series = queries.subscription_revenue_by_month(subs, date(2025, 1, 1), date(2025, 3, 31))
    assert list(series.round(6)) == [310.0 * 16 / 31, 310.0, 0.0]
    cut = queries.subscription_revenue_by_month(subs.assign(end_date=[None]), date(2025, 1, 1), date(2025, 2, 14))
    assert list(cut.round(6)) == [160.0, 310.0 * 14 / 28]


def test_leads_frame(demo: Demo) -> None:
    frame = queries.leads_frame(demo.engine)
    assert len(frame) == 10_000
    for col in (
        "lead_id",
        "created_date",
        "source_channel",
        "company_size",
        "industry",
        "pages_viewed",
        "demo_requested",
        "email_opens",
        "converted",
    ):
        assert col in frame.columns
    assert frame["converted"].dtype == bool and frame["created_date"].dtype == np.dtype("datetime64[ns]")
    assert frame["lead_id"].is_unique


def test_channel_performance_frame(demo: Demo) -> None:
    frame = queries.channel_performance(demo.engine, date(2025, 9, 1), date(2025, 9, 30))
    assert len(frame) == 30 * 7
    assert frame["date"].min() == pd.Timestamp("2025-09-01") and frame["date"].max() == pd.Timestamp("2025-09-30")
    with demo.engine.connect() as conn:
        spend = conn.exec_driver_sql(
            "select sum(spend) from channel_performance where date between '2025-09-01' and '2025-09-30'"
        ).scalar_one()
    assert frame["spend"].sum() == pytest.approx(spend)


def test_customers_frame(tiny: sa.Engine) -> None:
    frame = queries.customers_frame(tiny).set_index("id")
    assert frame.loc["A", "current_mrr"] == 199.0  # MRR on the last data date (2025-03-31)
    assert frame.loc["B", "current_mrr"] == 0.0
    assert frame.loc["A", "orders"] == 2 and frame.loc["A", "hardware_revenue"] == 1911.0
    assert frame.loc["A", "last_order_date"] == pd.Timestamp("2025-03-15")
    assert frame["signup_date"].dtype == np.dtype("datetime64[ns]")


def test_last_purchases(tiny: sa.Engine) -> None:
    frame = queries.last_purchases(tiny, ["A", "D", "ZZZ", "C"])
    assert list(frame["customer_id"]) == ["A", "D", "C"]
    a = frame.iloc[0]
    assert a["last_order_date"] == pd.Timestamp("2025-03-15")
    assert a["last_product"] == "Lumio Air"  # the largest line of the last order
    assert a["top_product"] == "Lumio Sense"  # most revenue over all orders
    assert a["orders"] == 2 and a["total_spent"] == 1911.0 and a["email"] == "ann@alpha.com"
    d = frame.iloc[1]
    assert d["last_product"] is None and d["total_spent"] == 500.0
    assert queries.last_purchases(tiny, []).empty


def test_co_purchase_recommendation(tiny: sa.Engine) -> None:
    assert queries.co_purchase_recommendation(tiny, "C") == "Lumio Hub"  # Sense buyers also bought a Hub
    assert queries.co_purchase_recommendation(tiny, "A") == "Mounting kit"
    assert queries.co_purchase_recommendation(tiny, "B") is None  # Air + batteries: nothing else co-bought
    assert queries.co_purchase_recommendation(tiny, "D") is None  # no itemised orders
    assert queries.co_purchase_recommendation(tiny, "nobody") is None


def test_co_purchase_on_demo_data_recommends_unowned_hardware(demo: Demo) -> None:
    with demo.engine.connect() as conn:
        owned = {
            r[0]
            for r in conn.exec_driver_sql(
                "select distinct p.name from order_items i join orders o on o.id = i.order_id "
                "join products p on p.sku = i.sku where o.customer_id = 'C00010'"
            )
        }
    rec = queries.co_purchase_recommendation(demo.engine, "C00010")
    assert rec is None or rec not in owned


def test_ticket_stats(tiny: sa.Engine) -> None:
    stats = queries.ticket_stats(tiny, date(2025, 2, 1), date(2025, 3, 31))
    assert stats["created"] == 3
    assert stats["by_status"] == {"closed": 1, "open": 1, "solved": 1}
    assert stats["by_priority"] == {"high": 1, "normal": 2}
    assert stats["by_channel"] == {"chat": 1, "email": 2}
    assert stats["escalated"] == 1 and stats["solved"] == 2
    assert stats["median_resolution_hours"] == pytest.approx((10 + 30) / 2)
    assert stats["open_backlog"] == 2
    empty = queries.ticket_stats(tiny, date(2020, 1, 1), date(2020, 1, 31))
    assert empty["created"] == 0 and empty["median_resolution_hours"] is None and empty["open_backlog"] == 2


def test_table_counts(tiny: sa.Engine) -> None:
    counts = queries.table_counts(tiny)
    assert counts["customers"] == 4 and counts["orders"] == 5 and counts["channel_performance"] == 180
