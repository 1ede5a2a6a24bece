from __future__ import annotations

import json

import pandas as pd
import pytest

from app.analytics._validation import AnalyticsInputError
from app.analytics.cohort import cohort_retention


def hand_log() -> pd.DataFrame:
    purchases = {
        "c1": ["2024-01-05", "2024-02-10", "2024-04-01"],
        "c2": ["2024-01-20", "2024-03-03"],
        "c3": ["2024-02-14", "2024-03-30"],
        "c4": ["2024-03-08"],
        "c5": ["2024-01-02", "2024-01-28"],
    }
    rows = [(c, d) for c, dates in purchases.items() for d in dates]
    return pd.DataFrame(rows, columns=["customer_id", "order_date"])


def test_matrix_counts_percentages_and_average_curve():
    result = cohort_retention(hand_log())
    assert result.cohorts == ["2024-01", "2024-02", "2024-03"]
    assert result.sizes == [3, 1, 1]
    assert result.periods == [0, 1, 2, 3]
    assert result.last_month == "2024-04"
    assert result.counts == [[3, 1, 1, 1], [1, 1, 0, None], [1, 0, None, None]]
    expected = [[1.0, 1 / 3, 1 / 3, 1 / 3], [1.0, 1.0, 0.0, None], [1.0, 0.0, None, None]]
    for row, want in zip(result.retention, expected, strict=True):
        assert row == [pytest.approx(v) if v is not None else None for v in want]
    # Size-weighted over the cohorts observed at each period.
    assert result.average_curve == [
        pytest.approx(1.0),
        pytest.approx(2 / 5),
        pytest.approx(1 / 4),
        pytest.approx(1 / 3),
    ]
    frame = result.to_frame()
    assert frame.loc["2024-02", 2] == 0.0 and pd.isna(frame.loc["2024-02", 3])
    json.dumps(result.to_dict())


def test_end_date_and_max_periods():
    result = cohort_retention(hand_log(), end="2024-03-31")
    assert result.last_month == "2024-03"
    assert result.counts[0] == [3, 1, 1]  # c1's April purchase is after the end
    short = cohort_retention(hand_log(), max_periods=1)
    assert short.periods == [0, 1]
    assert short.counts == [[3, 1], [1, 1], [1, 0]]


def test_rejects_missing_columns():
    with pytest.raises(AnalyticsInputError, match="no column"):
        cohort_retention(hand_log(), customer_col="account")
