"""Revenue forecast: exponential smoothing with trend and seasonality, an 80% interval and a backtest.

The model is statsmodels' ETS with additive errors (`ETSModel`): additive trend (damped or not,
whichever has the lower AICc) and additive seasonality when the history covers at least two full
seasons; otherwise a damped-trend model without seasonality, or simple exponential smoothing for
very short series, and the result says why. The prediction interval is the analytic one of the
additive-error state-space model. A rolling-origin backtest compares the model's MAPE with the
seasonal-naive forecast (the same period one season earlier), or with the naive forecast when there
is no seasonality. The answer follows the seed's `revenue_forecast` format: methodology, point
estimate, 80% interval and key assumptions (growth rate, seasonality).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from app.analytics._validation import AnalyticsInputError

MIN_POINTS = 3
"""Fewest observations that can be forecast at all."""
MIN_TREND_POINTS = 6
"""Fewest observations for a trend model."""
MIN_SEASONS = 2
"""Full seasons of history needed before seasonality is modelled."""

_FREQ_WORDS = {"MS": "monthly", "ME": "monthly", "M": "monthly", "W": "weekly", "D": "daily", "QS": "quarterly"}
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class ForecastError(AnalyticsInputError):
    """The series cannot be forecast as given (too short, irregular dates, missing values)."""


@dataclass(frozen=True)
class Backtest:
    """Rolling-origin evaluation of the forecasting method.

    Attributes:
        horizon: Steps ahead forecast from each origin.
        origins: Last observed date of each training window.
        mape: Mean absolute percentage error of the method, in percent.
        baseline: `seasonal-naive` or `naive`.
        baseline_mape: MAPE of the baseline on the same points, in percent.
        beats_baseline: Whether the method's MAPE is lower.
    """

    horizon: int
    origins: list[str]
    mape: float
    baseline: str
    baseline_mape: float
    beats_baseline: bool

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class ForecastResult:
    """A forecast with its interval, method and explanation.

    Attributes:
        dates: Forecast dates (ISO).
        mean: Point forecast per date.
        lower: Lower bound of the prediction interval per date.
        upper: Upper bound per date.
        interval: Coverage of the interval (0.8).
        method: Model name, e.g. `ETS(A,Ad,A) seasonal period 12`.
        seasonal: Whether seasonality is modelled.
        season_length: Periods per season requested.
        fallback_reason: Why a simpler model than trend + seasonality was used, if it was.
        history_dates: Observed dates (ISO).
        history: Observed values.
        point_estimate: Sum of the point forecasts over the horizon.
        point_interval: An 80% range for that sum, from the per-period bounds assuming their
            errors are perfectly correlated (a conservative range).
        methodology: One paragraph on how the forecast was made.
        assumptions: Key assumptions by name (growth rate, seasonality, interval, churn, ...).
        backtest: Rolling-origin backtest, when the history is long enough.
        backtest_note: Why there is no backtest, if there is none.
    """

    dates: list[str]
    mean: list[float]
    lower: list[float]
    upper: list[float]
    interval: float
    method: str
    seasonal: bool
    season_length: int
    fallback_reason: str | None
    history_dates: list[str]
    history: list[float]
    point_estimate: float
    point_interval: tuple[float, float]
    methodology: str
    assumptions: dict[str, str] = field(default_factory=dict)
    backtest: Backtest | None = None
    backtest_note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the whole result."""
        data = asdict(self)
        data["point_interval"] = list(self.point_interval)
        return data

    def report(self, *, unit: str = "$") -> str:
        """The answer in the seed's `revenue_forecast` output format (four numbered parts).

        Args:
            unit: Prefix of money values.

        Returns:
            Methodology, point estimate, 80% interval and key assumptions, as plain text.
        """
        pct = f"{self.interval:.0%}"
        low, high = self.point_interval
        periods = "; ".join(f"{d}: {unit}{m:,.0f}" for d, m in zip(self.dates, self.mean, strict=True))
        bands = "; ".join(
            f"{d}: {unit}{lo:,.0f} to {unit}{hi:,.0f}"
            for d, lo, hi in zip(self.dates, self.lower, self.upper, strict=True)
        )
        lines = [
            f"1. Forecast methodology: {self.methodology}"
            + (f" Note: {self.fallback_reason}." if self.fallback_reason else ""),
            f"2. Point estimate: {unit}{self.point_estimate:,.0f} over the next {len(self.mean)} periods ({periods}).",
            f"3. Confidence interval ({pct}): {bands}; for the total, {unit}{low:,.0f} to {unit}{high:,.0f}.",
            "4. Key assumptions: "
            + "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in self.assumptions.items())
            + ".",
        ]
        if self.backtest is not None:
            bt = self.backtest
            lines.append(
                f"Backtest ({len(bt.origins)} rolling origins, {bt.horizon} steps): MAPE {bt.mape:.1f}% "
                f"vs {bt.baseline} {bt.baseline_mape:.1f}%."
            )
        elif self.backtest_note:
            lines.append(f"Backtest: {self.backtest_note}.")
        return "\n".join(lines)


@dataclass(frozen=True)
class _Spec:
    """One ETS specification."""

    trend: bool
    damped: bool
    seasonal: bool

    def name(self, season_length: int) -> str:
        """Hyndman's ETS notation, e.g. `ETS(A,Ad,A)`."""
        trend = ("Ad" if self.damped else "A") if self.trend else "N"
        base = f"ETS(A,{trend},{'A' if self.seasonal else 'N'})"
        return f"{base} seasonal period {season_length}" if self.seasonal else base


def _fit(values: np.ndarray, spec: _Spec, season_length: int) -> Any:
    """Fit one ETS specification (heuristic initial states, falling back to estimated ones)."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    series = pd.Series(values, index=pd.RangeIndex(len(values)))
    last_error: Exception | None = None
    for init in ("heuristic", "estimated"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = ETSModel(
                    series,
                    error="add",
                    trend="add" if spec.trend else None,
                    damped_trend=spec.damped,
                    seasonal="add" if spec.seasonal else None,
                    seasonal_periods=season_length if spec.seasonal else None,
                    initialization_method=init,
                )
                return model.fit(disp=False)
        except (ValueError, np.linalg.LinAlgError) as exc:
            last_error = exc
    raise ForecastError(f"the model could not be fitted: {last_error}")


def _candidates(n: int, season_length: int) -> tuple[list[_Spec], str | None]:
    """The specifications worth trying for n observations, and why seasonality/trend was dropped."""
    if season_length > 1 and n >= MIN_SEASONS * season_length:
        return [_Spec(True, False, True), _Spec(True, True, True)], None
    if season_length > 1:
        reason = (
            f"seasonality not modelled: {n} observations cover fewer than {MIN_SEASONS} full seasons of "
            f"{season_length} (need {MIN_SEASONS * season_length})"
        )
    else:
        reason = "seasonality not requested (season length 1)"
    if n >= MIN_TREND_POINTS:
        return [_Spec(True, True, False)], reason
    return [_Spec(False, False, False)], f"{reason}; trend not modelled: fewer than {MIN_TREND_POINTS} observations"


def _best_fit(values: np.ndarray, specs: list[_Spec], season_length: int) -> tuple[_Spec, Any]:
    """Fit each specification and keep the one with the lowest AICc."""
    best: tuple[_Spec, Any] | None = None
    for spec in specs:
        result = _fit(values, spec, season_length)
        score = float(result.aicc) if np.isfinite(result.aicc) else math.inf
        if best is None or score < float(best[1].aicc if np.isfinite(best[1].aicc) else math.inf):
            best = (spec, result)
    assert best is not None
    return best


def _predict(result: Any, n: int, horizon: int, interval: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point forecasts and analytic prediction bounds for the next `horizon` steps."""
    frame = result.get_prediction(start=n, end=n + horizon - 1).summary_frame(alpha=1.0 - interval)
    return (
        frame["mean"].to_numpy(dtype="float64"),
        frame["pi_lower"].to_numpy(dtype="float64"),
        frame["pi_upper"].to_numpy(dtype="float64"),
    )


def _baseline(values: np.ndarray, horizon: int, season_length: int, seasonal: bool) -> np.ndarray:
    """Seasonal-naive (same period one season back) or naive (last value) forecasts."""
    if seasonal:
        steps = np.arange(1, horizon + 1)
        back = season_length * np.ceil(steps / season_length).astype(int)
        return values[len(values) + steps - 1 - back]
    return np.full(horizon, values[-1])


def _mape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute percentage error in percent, over points with a non-zero actual."""
    mask = actual != 0
    if not mask.any():
        return math.nan
    return float(np.mean(np.abs((actual[mask] - predicted[mask]) / actual[mask])) * 100.0)


def _backtest(
    values: np.ndarray,
    dates: pd.DatetimeIndex,
    spec: _Spec,
    season_length: int,
    horizon: int,
    folds: int,
) -> tuple[Backtest | None, str | None]:
    """Rolling-origin backtest of `spec` against the (seasonal-)naive forecast."""
    n = len(values)
    h = max(1, min(horizon, season_length if spec.seasonal else horizon))
    if spec.seasonal:
        min_train = MIN_SEASONS * season_length
    elif spec.trend:
        min_train = MIN_TREND_POINTS
    else:
        min_train = MIN_POINTS
    origins = [n - h - i for i in range(folds)][::-1]
    origins = [o for o in origins if o >= min_train]
    if not origins:
        return None, (
            f"no backtest: it needs at least {min_train + h} observations "
            f"({min_train} to train and {h} to test), there are {n}"
        )
    actual_all, model_all, base_all = [], [], []
    for origin in origins:
        train = values[:origin]
        fitted = _fit(train, spec, season_length)
        mean, _, _ = _predict(fitted, origin, h, 0.8)
        actual_all.append(values[origin : origin + h])
        model_all.append(mean)
        base_all.append(_baseline(train, h, season_length, spec.seasonal))
    actual = np.concatenate(actual_all)
    mape = _mape(actual, np.concatenate(model_all))
    base_mape = _mape(actual, np.concatenate(base_all))
    return (
        Backtest(
            horizon=h,
            origins=[dates[o - 1].date().isoformat() for o in origins],
            mape=mape,
            baseline="seasonal-naive" if spec.seasonal else "naive",
            baseline_mape=base_mape,
            beats_baseline=bool(mape < base_mape),
        ),
        None,
    )


def _prepare(series: pd.Series) -> tuple[np.ndarray, pd.DatetimeIndex, str]:
    """Validate the series: a regular date index without gaps or missing values."""
    if not isinstance(series, pd.Series):
        raise ForecastError("the history must be a pandas Series indexed by date")
    try:
        index = pd.DatetimeIndex(pd.to_datetime(series.index))
    except (ValueError, TypeError) as exc:
        raise ForecastError(f"the series index must be dates: {exc}") from exc
    data = pd.Series(pd.to_numeric(series.to_numpy(), errors="coerce"), index=index).sort_index()
    if data.index.has_duplicates:
        raise ForecastError("the series has duplicate dates; aggregate them first (e.g. sum per month)")
    if data.isna().any():
        first = data.index[data.isna().to_numpy()][0]
        raise ForecastError(f"the series has missing or non-numeric values (first at {first.date()})")
    if len(data) < MIN_POINTS:
        raise ForecastError(f"a forecast needs at least {MIN_POINTS} observations, got {len(data)}")
    freq = series.index.freqstr if isinstance(series.index, pd.DatetimeIndex) and series.index.freq else None
    freq = freq or pd.infer_freq(data.index)
    if freq is None:
        raise ForecastError(
            "the dates are not evenly spaced (a gap or an irregular date?); give one value per period, "
            "e.g. one per month starting on the 1st"
        )
    return data.to_numpy(dtype="float64"), pd.DatetimeIndex(data.index), freq


def _describe_seasonality(result: Any, spec: _Spec, dates: pd.DatetimeIndex, season_length: int, freq: str) -> str:
    """Peaks and troughs of the fitted seasonal component, in words."""
    if not spec.seasonal:
        return "not modelled"
    season = result.states["seasonal"].to_numpy(dtype="float64")[-season_length:]
    positions = dates[-season_length:]
    level = float(np.mean(np.abs(result.states["level"].to_numpy(dtype="float64")[-season_length:]))) or 1.0

    def label(i: int) -> str:
        return _MONTH_NAMES[positions[i].month - 1] if freq.startswith("M") else positions[i].date().isoformat()

    order = np.argsort(season)
    highs = ", ".join(f"{label(i)} ({season[i] / level:+.0%})" for i in order[::-1][:2])
    lows = ", ".join(f"{label(i)} ({season[i] / level:+.0%})" for i in order[:2])
    return f"additive, period {season_length}; strongest {highs}; weakest {lows} (relative to the level)"


def forecast_revenue(
    series: pd.Series,
    horizon: int = 6,
    season_length: int = 12,
    *,
    interval: float = 0.8,
    backtest_folds: int = 3,
    clip_at_zero: bool | None = None,
) -> ForecastResult:
    """Forecast a revenue series with ETS and an 80% prediction interval.

    Args:
        series: Values indexed by regular dates (e.g. monthly revenue indexed by month start).
        horizon: Periods to forecast.
        season_length: Periods per season (12 for monthly data); 1 turns seasonality off.
        interval: Coverage of the prediction interval.
        backtest_folds: Rolling origins in the backtest (0 skips it).
        clip_at_zero: Clip forecasts and bounds at 0; by default when the history has no negative value.

    Returns:
        The forecast, interval, method, explanation and backtest.

    Raises:
        ForecastError: if the series is too short, irregular or has missing values, or the
            arguments are out of range.
    """
    if not 1 <= horizon <= 120:
        raise ForecastError("horizon must be between 1 and 120 periods")
    if not 1 <= season_length <= 366:
        raise ForecastError("season length must be between 1 and 366 periods")
    if not 0.5 <= interval < 1.0:
        raise ForecastError("interval must be at least 0.5 and below 1")
    values, dates, freq = _prepare(series)
    n = len(values)
    specs, reason = _candidates(n, season_length)
    spec, result = _best_fit(values, specs, season_length)
    mean, lower, upper = _predict(result, n, horizon, interval)
    clip = bool((values >= 0).all()) if clip_at_zero is None else clip_at_zero
    if clip:
        mean, lower, upper = np.maximum(mean, 0), np.maximum(lower, 0), np.maximum(upper, 0)
    future = pd.date_range(dates[-1], periods=horizon + 1, freq=freq)[1:]
    backtest, note = (
        _backtest(values, dates, spec, season_length, horizon, backtest_folds)
        if backtest_folds > 0
        else (None, "backtest skipped")
    )
    method = spec.name(season_length)
    unit = _FREQ_WORDS.get(freq.split("-")[0], f"'{freq}'")
    params = {str(k): float(v) for k, v in zip(result.param_names, np.asarray(result.params), strict=False)}
    level = float(result.states["level"].iloc[-1])
    slope = float(result.states["trend"].iloc[-1]) if spec.trend else 0.0
    phi = params.get("damping_trend", 1.0)
    growth = slope / level if level else 0.0
    history_growth = ""
    if n >= 2 * season_length and season_length > 1:
        last, previous = values[-season_length:].sum(), values[-2 * season_length : -season_length].sum()
        if previous:
            history_growth = f"; last {season_length} periods vs the {season_length} before: {last / previous - 1:+.1%}"
    interval_pct = f"{interval:.0%}"
    methodology = (
        f"Exponential smoothing {method} (additive errors) fitted by maximum likelihood to {n} {unit} "
        f"observations from {dates[0].date()} to {dates[-1].date()}"
        + (", trend damped or not by the lower AICc" if len(specs) > 1 else (f" ({reason})" if reason else ""))
        + f". The {interval_pct} prediction interval is the model's analytic interval"
        + (", clipped at 0." if clip else ".")
    )
    assumptions = {
        "growth_rate": (
            f"fitted trend {slope:+,.2f} per period ({growth:+.1%} of the current level {level:,.2f})"
            + (f", damped by {phi:.2f} per period" if spec.damped else "")
            + history_growth
            if spec.trend
            else "no trend (level only)"
        ),
        "seasonality": _describe_seasonality(result, spec, dates, season_length, freq),
        "churn": "not modelled separately: churn and expansion are part of the revenue history",
        "continuity": "the future behaves like the past: no new pricing, channel or product changes",
        "interval": f"{interval_pct} of outcomes expected inside the band if the model's error assumptions hold",
    }
    total_mean = float(mean.sum())
    return ForecastResult(
        dates=[d.date().isoformat() for d in future],
        mean=[float(v) for v in mean],
        lower=[float(v) for v in lower],
        upper=[float(v) for v in upper],
        interval=interval,
        method=method,
        seasonal=spec.seasonal,
        season_length=season_length,
        fallback_reason=reason,
        history_dates=[d.date().isoformat() for d in dates],
        history=[float(v) for v in values],
        point_estimate=total_mean,
        point_interval=(float(lower.sum()), float(upper.sum())),
        methodology=methodology,
        assumptions=assumptions,
        backtest=backtest,
        backtest_note=note,
    )
