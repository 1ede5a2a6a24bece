from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from app.analytics.forecast import ForecastError, forecast_revenue


def seasonal_values(seed: int, n: int, *, trend: float = 8.0, noise: float = 25.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return (
        1000 + trend * t + 120 * np.sin(2 * np.pi * t / 12) + 60 * np.cos(2 * np.pi * t / 6) + rng.normal(0, noise, n)
    )


def monthly(values: np.ndarray, start: str = "2020-01-01") -> pd.Series:
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="MS"))


def test_interval_brackets_the_forecast_and_result_is_complete():
    result = forecast_revenue(monthly(seasonal_values(1, 48)), horizon=6, season_length=12)
    assert result.interval == 0.8
    assert result.seasonal and "ETS(A,A" in result.method and result.fallback_reason is None
    assert result.dates == ["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01", "2024-05-01", "2024-06-01"]
    assert len(result.mean) == len(result.lower) == len(result.upper) == 6
    assert all(lo < m < hi for lo, m, hi in zip(result.lower, result.mean, result.upper, strict=True))
    # Uncertainty grows with the horizon.
    widths = np.subtract(result.upper, result.lower)
    assert widths[-1] > widths[0]
    assert result.point_estimate == pytest.approx(sum(result.mean))
    assert result.point_interval[0] < result.point_estimate < result.point_interval[1]
    assert set(result.assumptions) >= {"growth_rate", "seasonality"}
    assert "80% prediction interval" in result.methodology
    assert "per period" in result.assumptions["growth_rate"]
    json.dumps(result.to_dict())
    report = result.report()
    assert [line[:2] for line in report.splitlines()[:4]] == ["1.", "2.", "3.", "4."]
    assert f"${result.point_estimate:,.0f}" in report and "Confidence interval (80%)" in report
    assert "growth rate:" in report and "seasonality:" in report and "Backtest" in report


def test_seasonality_description_names_the_peak_month():
    # A single annual sine peaking in April (t = 3 mod 12).
    t = np.arange(48)
    values = 1000 + 200 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(0).normal(0, 5, 48)
    result = forecast_revenue(monthly(values), horizon=3, season_length=12, backtest_folds=0)
    assert "strongest Apr" in result.assumptions["seasonality"]
    assert "weakest Oct" in result.assumptions["seasonality"]


def test_80_percent_interval_covers_about_80_percent():
    hits = total = 0
    for seed in range(20):
        values = seasonal_values(seed, 54)
        result = forecast_revenue(monthly(values[:48]), horizon=6, season_length=12, backtest_folds=0)
        actual = values[48:]
        hits += int(((actual >= result.lower) & (actual <= result.upper)).sum())
        total += len(actual)
    coverage = hits / total
    assert 0.65 <= coverage <= 0.93, coverage


def test_backtest_beats_seasonal_naive_on_trend_and_season():
    result = forecast_revenue(monthly(seasonal_values(5, 48, trend=15.0)), horizon=6, season_length=12)
    bt = result.backtest
    assert bt is not None and bt.baseline == "seasonal-naive"
    assert len(bt.origins) == 3 and bt.horizon == 6
    assert bt.mape < bt.baseline_mape and bt.beats_baseline
    assert bt.to_dict()["baseline_mape"] == bt.baseline_mape
    # Seasonal-naive lags a year of trend (about 180 on about 1,500): its MAPE is over 8%.
    assert bt.baseline_mape > 8.0


def test_short_series_falls_back_and_says_why():
    result = forecast_revenue(monthly(seasonal_values(2, 18)), horizon=4, season_length=12)
    assert not result.seasonal
    assert result.method == "ETS(A,Ad,N)"
    assert "fewer than 2 full seasons" in result.fallback_reason
    assert result.assumptions["seasonality"] == "not modelled"
    tiny = forecast_revenue(monthly(np.array([10.0, 12.0, 11.0, 13.0])), horizon=2, season_length=12)
    assert tiny.method == "ETS(A,N,N)" and "trend not modelled" in tiny.fallback_reason
    assert tiny.backtest is None or tiny.backtest.baseline == "naive"


def test_no_backtest_when_history_is_just_two_seasons():
    result = forecast_revenue(monthly(seasonal_values(3, 24)), horizon=6, season_length=12)
    assert result.seasonal and result.backtest is None
    assert "at least 30 observations" in result.backtest_note


def test_forecast_is_clipped_at_zero_for_revenue():
    values = np.array([100.0, 80, 60, 45, 30, 20, 12, 6, 3, 1])
    result = forecast_revenue(monthly(values), horizon=6, season_length=1)
    assert min(result.lower) >= 0.0 and min(result.mean) >= 0.0


@pytest.mark.parametrize(
    ("series", "message"),
    [
        (pd.Series([1.0, 2.0], index=pd.date_range("2024-01-01", periods=2, freq="MS")), "at least 3"),
        (
            pd.Series(
                [1.0, 2.0, 3.0, 4.0], index=pd.to_datetime(["2024-01-01", "2024-02-01", "2024-04-01", "2024-05-01"])
            ),
            "not evenly spaced",
        ),
        (pd.Series([1.0, None, 3.0, 4.0], index=pd.date_range("2024-01-01", periods=4, freq="MS")), "missing"),
        (pd.Series([1.0, 2.0, 3.0], index=pd.to_datetime(["2024-01-01", "2024-01-01", "2024-02-01"])), "duplicate"),
    ],
)
def test_bad_series_give_clear_errors(series, message):
    with pytest.raises(ForecastError, match=message):
        forecast_revenue(series, horizon=3)
