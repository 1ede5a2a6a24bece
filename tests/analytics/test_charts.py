from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from app.analytics._validation import AnalyticsInputError
from app.analytics.charts import channel_chart, cohort_heatmap, forecast_fan_chart, rfm_segment_chart
from app.analytics.cohort import cohort_retention
from app.analytics.forecast import ForecastResult
from app.analytics.rfm import rfm_segments


def small_log() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 300
    return pd.DataFrame(
        {
            "customer_id": rng.integers(0, 60, n).astype(str),
            "order_date": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 180, n), unit="D"),
            "amount": rng.gamma(2.0, 50.0, n),
        }
    )


@pytest.mark.parametrize("kind", ["bar", "treemap"])
def test_rfm_chart(kind):
    result = rfm_segments(small_log())
    fig = rfm_segment_chart(result, kind=kind)
    assert isinstance(fig, go.Figure)
    trace = fig.data[0]
    counts = trace.y if kind == "bar" else trace.values
    assert sum(counts) == result.total_customers
    assert "RFM segments" in fig.layout.title.text
    fig.to_json()


def test_cohort_heatmap_has_one_row_per_cohort():
    result = cohort_retention(small_log())
    fig = cohort_heatmap(result)
    heat = fig.data[0]
    assert len(heat.z) == len(result.cohorts)
    assert heat.z[0][0] == 100.0
    assert heat.z[-1][-1] is None  # the newest cohort is not observed far out


def test_forecast_fan_chart_has_band_history_and_forecast():
    result = ForecastResult(
        dates=["2024-04-01", "2024-05-01"],
        mean=[110.0, 120.0],
        lower=[100.0, 105.0],
        upper=[120.0, 135.0],
        interval=0.8,
        method="ETS(A,Ad,N)",
        seasonal=False,
        season_length=12,
        fallback_reason="short",
        history_dates=["2024-01-01", "2024-02-01", "2024-03-01"],
        history=[90.0, 95.0, 100.0],
        point_estimate=230.0,
        point_interval=(205.0, 255.0),
        methodology="m",
    )
    fig = forecast_fan_chart(result)
    band, actual, forecast = fig.data
    assert list(band.y) == [120.0, 135.0, 105.0, 100.0] and band.fill == "toself"
    assert list(actual.y) == [90.0, 95.0, 100.0]
    assert list(forecast.x) == ["2024-03-01", "2024-04-01", "2024-05-01"]
    assert "80% interval" in fig.layout.title.text


def test_channel_chart():
    df = pd.DataFrame(
        {"channel": ["email", "events"], "spend": [1000.0, 5000.0], "cac": [20.0, 400.0], "roas": [8.0, 0.9]}
    )
    fig = channel_chart(df)
    assert [t.name for t in fig.data] == ["CAC", "ROAS"]
    assert list(fig.data[1].y) == [8.0, 0.9]
    with pytest.raises(AnalyticsInputError, match="roas"):
        channel_chart(df.drop(columns="roas"))


def test_rfm_chart_title_has_the_date():
    result = rfm_segments(small_log(), dt.date(2024, 7, 1))
    assert "2024-07-01" in rfm_segment_chart(result).layout.title.text
