"""`count_leads`: leads created in a period (whole last day included), by channel, vs a comparison period."""

from __future__ import annotations

import pandas as pd
import pytest

from app.analytics._validation import AnalyticsInputError
from app.analytics.leads import count_leads


def _leads() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "created_date": pd.to_datetime(
                [
                    "2026-02-27 09:00",
                    "2026-03-01 00:00",
                    "2026-03-05 14:00",
                    "2026-03-31 23:30",
                    "2026-03-31 08:00",
                    "2026-04-01 00:00",
                ]
            ),
            "source_channel": ["email", "email", "events", "email", None, "events"],
            "converted": [True, False, True, True, False, True],
        }
    )


def test_counts_the_periods_leads_by_channel_with_conversions_and_the_previous_period() -> None:
    counts = count_leads(_leads(), "2026-03-01", "2026-03-31", previous=("2026-02-01", "2026-02-28"))
    assert counts.total == 4 and counts.converted == 2
    assert counts.by_group == [("email", 2, 1), ("(missing)", 1, 0), ("events", 1, 1)]
    assert counts.previous_total == 1 and counts.change_pct == pytest.approx(300.0)
    data = counts.to_dict()
    assert data["by_group"][0] == {"group": "email", "leads": 2, "converted": 1} and data["change_pct"] == 300.0


def test_an_empty_period_and_missing_columns() -> None:
    counts = count_leads(_leads(), "2025-01-01", "2025-01-31")
    assert (counts.total, counts.by_group, counts.previous_total, counts.change_pct) == (0, [], None, None)
    with pytest.raises(AnalyticsInputError):
        count_leads(_leads().drop(columns="source_channel"), "2026-03-01", "2026-03-31")
