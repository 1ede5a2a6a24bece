from __future__ import annotations

import json

import pandas as pd
import pytest

from app.analytics.churn import churn_analysis


def test_churn_analysis_on_cdnow(cdnow_raw):
    log = cdnow_raw.assign(date=lambda d: pd.to_datetime(d["date"], format="%Y%m%d"))
    result = churn_analysis(
        log,
        customer_col="customer_id",
        date_col="date",
        amount_col="amount",
        observation_end="1997-09-30",
        horizon_days=273,
    )
    assert result.model.r == pytest.approx(0.243, rel=0.01)
    assert result.spend_model is not None and result.spend_model.p == pytest.approx(6.25, rel=0.02)
    assert len(result.customers) == 2357
    assert sum(result.bands.values()) == 2357
    assert result.bands["one_time_buyers"] == 2357 - 946
    risky = result.at_risk(10)
    assert len(risky) == 10
    assert (risky["p_alive"] < 0.7).all() and (risky["frequency"] > 0).all()
    assert risky["value_at_risk"].is_monotonic_decreasing
    data = result.to_dict(top=5)
    json.dumps(data)
    assert len(data["at_risk"]) == 5
    assert data["expected_active_customers"] == pytest.approx(result.customers["p_alive"].sum())
    # Customer 1 (x=2, t_x=30.43, T=38.86): expected purchases in the next 39 weeks = 1.226.
    one = result.customers.set_index("customer_id").loc["0001"]
    assert round(one["expected_purchases"], 3) == 1.226
    own = cdnow_raw[(cdnow_raw["customer_id"] == "0001") & (cdnow_raw["date"] <= "19970930")]
    assert one["total_spend"] == pytest.approx(own["amount"].sum())
