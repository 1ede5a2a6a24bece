from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from app.analytics._validation import AnalyticsInputError
from app.analytics.rfm import SEGMENTS, quintile_scores, rfm_segments, segment_for

AS_OF = dt.date(2024, 7, 1)

# customer: (days since last purchase, orders, total spend, expected (R, F, M), expected segment)
DESIGN = {
    "A": (1, 9, 90.0, (5, 5, 5), "Champions"),
    "B": (2, 1, 10.0, (5, 1, 1), "New Customers"),
    "C": (10, 7, 70.0, (4, 4, 4), "Loyal"),
    "D": (11, 2, 30.0, (4, 1, 2), "Potential Loyalist"),
    "E": (30, 5, 50.0, (3, 3, 3), "Need Attention"),
    "F": (31, 3, 20.0, (3, 2, 1), "About To Sleep"),
    "G": (90, 10, 100.0, (2, 5, 5), "Can't Lose Them"),
    "H": (91, 6, 60.0, (2, 3, 3), "At Risk"),
    "I": (200, 4, 40.0, (1, 2, 2), "Hibernating"),
    "J": (201, 8, 80.0, (1, 4, 4), "At Risk"),
}


def design_log() -> pd.DataFrame:
    rows = []
    for customer, (recency, orders, spend, _, _) in DESIGN.items():
        last = pd.Timestamp(AS_OF) - pd.Timedelta(days=recency)
        for k in range(orders):
            rows.append(
                {"customer_id": customer, "order_date": last - pd.Timedelta(days=3 * k), "amount": spend / orders}
            )
    return pd.DataFrame(rows).sample(frac=1.0, random_state=0)  # order of rows must not matter


def test_designed_customers_land_in_their_segments():
    result = rfm_segments(design_log(), AS_OF)
    scored = result.customers.set_index("customer_id")
    for customer, (recency, orders, spend, scores, segment) in DESIGN.items():
        row = scored.loc[customer]
        assert (row["recency_days"], row["frequency"]) == (recency, orders)
        assert row["monetary"] == pytest.approx(spend)
        assert (row["r"], row["f"], row["m"]) == scores, customer
        assert row["rfm"] == "".join(map(str, scores))
        assert result.segment_of(customer) == segment, customer


def test_segment_totals_and_lists():
    result = rfm_segments(design_log(), AS_OF)
    by_name = {s.segment: s for s in result.segments}
    assert result.total_customers == 10
    assert result.total_revenue == pytest.approx(550.0)
    at_risk = by_name["At Risk"]
    assert at_risk.customers == 2 and at_risk.share == pytest.approx(0.2)
    assert at_risk.revenue == pytest.approx(140.0)
    assert at_risk.revenue_share == pytest.approx(140.0 / 550.0)
    assert at_risk.avg_recency_days == pytest.approx(146.0)
    assert result.segment_customers["At Risk"] == ["J", "H"]  # highest spend first
    assert sum(s.customers for s in result.segments) == 10
    assert sum(s.share for s in result.segments) == pytest.approx(1.0)
    # Segments are reported best first.
    order = [SEGMENTS.index(s.segment) for s in result.segments]
    assert order == sorted(order)
    data = result.to_dict(max_customers_per_segment=1)
    json.dumps(data)
    assert data["segment_customers"]["At Risk"] == ["J"]


def test_grid_covers_every_cell_with_the_standard_segments():
    assert segment_for(5, 5) == "Champions"
    assert segment_for(1, 1) == "Lost"
    assert segment_for(4, 1) == "Promising"
    assert segment_for(5, 1) == "New Customers"
    assert segment_for(1, 5) == "Can't Lose Them"
    assert segment_for(2, 2) == "Hibernating"
    assert segment_for(3, 3) == "Need Attention"
    names = {segment_for(r, fm) for r in range(1, 6) for fm in range(1, 6)}
    assert names == set(SEGMENTS)
    with pytest.raises(AnalyticsInputError):
        segment_for(0, 3)


def test_quintile_ties_share_the_lower_score():
    # 6 of 10 customers bought once: all of them score 1, whatever the row order.
    scores = quintile_scores(np.array([1, 1, 1, 1, 1, 1, 2, 3, 4, 5]))
    assert scores.tolist() == [1, 1, 1, 1, 1, 1, 4, 4, 5, 5]
    recency = quintile_scores(np.array([5, 50, 500]), higher_is_better=False)
    assert recency.tolist() == [4, 2, 1]


def test_lost_customer_and_tied_recency():
    log = pd.DataFrame(
        {
            "customer_id": ["old", "recent"] + [f"x{i}" for i in range(8)],
            "order_date": pd.to_datetime(["2023-01-01", "2024-05-20"] + ["2024-06-01"] * 4 + ["2024-03-01"] * 4),
            "amount": [5.0, 6.0] + [100.0] * 8,
        }
    )
    log = pd.concat([log, log[log["customer_id"].str.startswith("x")]])  # the x's bought twice
    result = rfm_segments(log, "2024-07-01")
    assert result.segment_of("old") == "Lost"  # R1, F1, M1
    # Ties share the lower score: the 4 most recent buyers are all R4, the 8 two-order buyers all F2 and M2.
    assert {result.segment_of(f"x{i}") for i in range(4)} == {"Potential Loyalist"}  # R4, FM2
    assert {result.segment_of(f"x{i}") for i in range(4, 8)} == {"Hibernating"}  # R1, FM2
    assert result.segment_of("recent") == "About To Sleep"


def test_order_column_counts_distinct_orders_and_as_of_filters():
    log = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b"],
            "order_id": ["o1", "o1", "o2", "o3"],
            "order_date": ["2024-01-01", "2024-01-01", "2024-02-01", "2024-03-01"],
            "amount": [10.0, 5.0, 20.0, 7.0],
        }
    )
    result = rfm_segments(log, "2024-02-15", order_col="order_id")
    scored = result.customers.set_index("customer_id")
    assert list(scored.index) == ["a"]  # b's only order is after the as-of date
    assert scored.loc["a", "frequency"] == 2 and scored.loc["a", "monetary"] == 35.0
    assert scored.loc["a", "recency_days"] == 14
    default = rfm_segments(log)
    assert default.as_of == dt.date(2024, 3, 2)


def test_rejects_bad_input():
    with pytest.raises(AnalyticsInputError, match="no column 'amount'"):
        rfm_segments(pd.DataFrame({"customer_id": ["a"], "order_date": ["2024-01-01"]}))
    with pytest.raises(AnalyticsInputError, match="not numbers"):
        rfm_segments(pd.DataFrame({"customer_id": ["a"], "order_date": ["2024-01-01"], "amount": ["ten"]}))
