"""BG/NBD ("beta-geometric / negative binomial") model of repeat purchasing, fitted by maximum likelihood.

Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An Alternative to the Pareto/NBD
Model", Marketing Science 24(2). While active, a customer buys as a Poisson process with rate
lambda ~ Gamma(r, alpha); after every purchase they drop out with probability p ~ Beta(a, b). From
each customer's repeat-purchase count `x` (frequency), the time of the last purchase `t_x` (recency)
and their age `T`, all measured from the first purchase, the model gives the probability that the
customer is still active ("alive") and the number of purchases to expect in a future period.

`summary_from_transactions` turns a transaction log into (x, t_x, T[, monetary_value]) exactly as
`lifetimes.utils.summary_data_from_transaction_data` does; `BGNBD.fit` maximises the log-likelihood
with an analytic gradient (L-BFGS-B on log-parameters), so 100,000 customers take well under a
second per evaluation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import digamma, expit, gammaln, hyp2f1

from app.analytics._numeric import dot
from app.analytics._validation import (
    AnalyticsInputError,
    as_float_array,
    require_columns,
    to_amount_column,
    to_datetime_column,
)

TimeUnit = Literal["W", "D"]
"""Time unit of recency and T: weeks or days."""

MergeBy = Literal["period", "day"]
"""What counts as one purchase: all transactions of a time-unit period (lifetimes), or of a day."""

_UNIT_DAYS: dict[str, int] = {"W": 7, "D": 1}
_EPOCH_WEEKDAY = 3  # 1970-01-01 was a Thursday (Monday = 0)


def _period_start_days(days: np.ndarray, time_unit: str) -> np.ndarray:
    """Map day numbers (days since 1970-01-01) to the first day of their period.

    Weeks are pandas' default `W` periods (`W-SUN`: Monday to Sunday), as in lifetimes.
    """
    if time_unit == "D":
        return days
    return days - (days + _EPOCH_WEEKDAY) % 7


def _day_numbers(dates: pd.Series) -> np.ndarray:
    """Whole days since 1970-01-01 (times of day are dropped)."""
    return dates.to_numpy().astype("datetime64[D]").astype(np.int64)


def _parse_observation_end(value: str | dt.date | pd.Timestamp, date_format: str | None) -> pd.Timestamp:
    """Parse the observation end: with the data's date format first, then as an ISO date."""
    formats = [date_format, None] if isinstance(value, str) and date_format else [None]
    for fmt in formats:
        try:
            parsed = pd.Timestamp(pd.to_datetime(value, format=fmt))
        except (ValueError, TypeError):
            continue
        if not pd.isna(parsed):
            return parsed
    raise AnalyticsInputError(f"observation end {value!r} is not a date (use YYYY-MM-DD)")


def summary_from_transactions(
    df: pd.DataFrame,
    customer_col: str,
    date_col: str,
    observation_end: str | dt.date | pd.Timestamp | None = None,
    time_unit: TimeUnit = "W",
    amount_col: str | None = None,
    *,
    date_format: str | None = None,
    merge_by: MergeBy = "period",
    freq_multiplier: float = 1.0,
) -> pd.DataFrame:
    """Summarise a transaction log into the BG/NBD statistics per customer.

    Dates are first reduced to their period (the day for `D`, the Monday-to-Sunday week for `W`;
    with `merge_by="day"` always the day); transactions in the same period count as one purchase
    and their amounts are added. Then, per
    customer: `frequency` = number of periods with a purchase minus one (repeat purchases),
    `recency` = time from the first to the last purchase period, `T` = time from the first purchase
    period to the period of `observation_end`, and `monetary_value` = mean amount of the repeat
    purchase periods (0 without repeats). Transactions in a period after that of `observation_end`
    are ignored. This reproduces `lifetimes.utils.summary_data_from_transaction_data` with
    `freq=time_unit` (and, with `merge_by="day"`, `freq="D", freq_multiplier=7` for weeks).

    Args:
        df: One row per transaction.
        customer_col: Column with the customer id.
        date_col: Column with the transaction date (datetime, or text parsed with `date_format`).
        observation_end: End of the observation period; the last transaction date when `None`.
        time_unit: `W` (weeks) or `D` (days).
        amount_col: Column with the transaction amount; adds `monetary_value` when given.
        date_format: `strftime` format of `date_col` when it is text, e.g. `%Y%m%d`.
        merge_by: `period` merges transactions of the same week (`W`) or day (`D`), as lifetimes
            does; `day` merges only same-day transactions and measures time in `time_unit` (for
            `W`: days / 7, the convention of Fader, Hardie & Lee's CDNOW calibration data).
        freq_multiplier: Further divides recency and T (lifetimes' parameter of that name).

    Returns:
        A float DataFrame indexed by customer id (sorted) with columns `frequency`, `recency`, `T`
        and, with `amount_col`, `monetary_value`.

    Raises:
        AnalyticsInputError: on missing columns, unparseable dates or amounts, an unknown time unit,
            or when no transaction falls before `observation_end`.
    """
    if time_unit not in _UNIT_DAYS:
        raise AnalyticsInputError(f"time_unit must be 'W' (weeks) or 'D' (days), got {time_unit!r}")
    if merge_by not in ("period", "day"):
        raise AnalyticsInputError(f"merge_by must be 'period' or 'day', got {merge_by!r}")
    if not freq_multiplier > 0:
        raise AnalyticsInputError(f"freq_multiplier must be positive, got {freq_multiplier!r}")
    require_columns(df, [customer_col, date_col, amount_col])
    if df.empty:
        raise AnalyticsInputError("the transactions are empty")
    customers_raw = df[customer_col]
    if customers_raw.isna().any():
        position = int(np.flatnonzero(customers_raw.isna().to_numpy())[0])
        raise AnalyticsInputError(f"column {customer_col!r} has a missing customer id at row {position + 1}")
    dates = to_datetime_column(df[date_col], column=date_col, date_format=date_format)
    period_unit = "D" if merge_by == "day" else time_unit
    period = _period_start_days(_day_numbers(dates), period_unit)
    if observation_end is None:
        end_period = int(period.max())
    else:
        end = _parse_observation_end(observation_end, date_format)
        end_day = int(np.datetime64(end.date(), "D").astype(np.int64))
        end_period = int(_period_start_days(np.array([end_day]), period_unit)[0])
    keep = period <= end_period
    if not keep.any():
        raise AnalyticsInputError(f"no transaction falls on or before the observation end ({observation_end})")
    period = period[keep]
    codes, uniques = pd.factorize(customers_raw.to_numpy()[keep])
    codes = codes.astype(np.int64)

    # One entry per (customer, period): sort the combined key once.
    base = int(period.min())
    span = end_period - base + 1
    key = codes * span + (period - base)
    unique_keys, inverse = np.unique(key, return_inverse=True)
    cust_of_pair = unique_keys // span
    period_of_pair = unique_keys % span + base
    n_customers = len(uniques)
    count = np.bincount(cust_of_pair, minlength=n_customers)
    starts = np.concatenate(([0], np.cumsum(count)[:-1]))
    first = period_of_pair[starts]
    last = period_of_pair[starts + count - 1]
    unit = _UNIT_DAYS[time_unit] * freq_multiplier
    out = pd.DataFrame(
        {
            "frequency": (count - 1).astype("float64"),
            "recency": (last - first) / unit,
            "T": (end_period - first) / unit,
        },
        index=pd.Index(uniques, name=customer_col),
    )
    if amount_col is not None:
        amounts = to_amount_column(df[amount_col], column=amount_col)[keep]
        pair_sum = np.bincount(inverse.ravel(), weights=amounts, minlength=len(unique_keys))
        total = np.bincount(cust_of_pair, weights=pair_sum, minlength=n_customers)
        repeats = count - 1
        with np.errstate(invalid="ignore", divide="ignore"):
            monetary = np.where(repeats > 0, (total - pair_sum[starts]) / np.maximum(repeats, 1), 0.0)
        out["monetary_value"] = monetary
    try:
        return out.sort_index()
    except TypeError:  # ids of mixed types cannot be ordered: keep first-appearance order
        return out


def _check_summary(frequency: object, recency: object, T: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate (x, t_x, T) and return them as float arrays of one length."""
    x = as_float_array(frequency, name="frequency")
    t_x = as_float_array(recency, name="recency")
    t = as_float_array(T, name="T")
    if not (len(x) == len(t_x) == len(t)):
        raise AnalyticsInputError(f"frequency, recency and T differ in length ({len(x)}, {len(t_x)}, {len(t)})")
    if len(x) == 0:
        raise AnalyticsInputError("no customers to fit")
    if (x < 0).any() or (np.abs(x - np.round(x)) > 1e-9).any():
        raise AnalyticsInputError("frequency must be a whole number of repeat purchases (0, 1, 2, ...)")
    if (t_x < 0).any():
        raise AnalyticsInputError("recency must not be negative")
    if (t_x > t + 1e-9).any():
        raise AnalyticsInputError("recency must not exceed T (time of the last purchase after the end of observation)")
    if ((x == 0) & (t_x > 1e-9)).any():
        raise AnalyticsInputError("customers without repeat purchases must have recency 0")
    return np.round(x), t_x, t


def _log_likelihood_terms(
    params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, *, gradient: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-customer BG/NBD log-likelihood and, optionally, its gradient in (r, alpha, a, b).

    Implements equation (6) of Fader, Hardie & Lee (2005) in log space:
    `ln L = A1 + A2 + ln(exp(A3) + [x > 0] exp(A4))`.
    """
    r, alpha, a, b = (float(v) for v in params)
    rx = r + x
    log_alpha_T = np.log(alpha + T)
    log_alpha_tx = np.log(alpha + t_x)
    b_x1 = b + np.maximum(x, 1.0) - 1.0
    a3 = -rx * log_alpha_T
    a4 = np.where(x > 0, np.log(a) - np.log(b_x1) - rx * log_alpha_tx, -np.inf)
    top = np.maximum(a3, a4)
    e3 = np.exp(a3 - top)
    e4 = np.exp(a4 - top)
    total = e3 + e4
    ll = (
        gammaln(rx)
        - gammaln(r)
        + r * np.log(alpha)
        + gammaln(a + b)
        + gammaln(b + x)
        - gammaln(b)
        - gammaln(a + b + x)
        + top
        + np.log(total)
    )
    if not gradient:
        return ll, None
    w3 = e3 / total
    w4 = e4 / total
    psi_ab = digamma(a + b)
    psi_abx = digamma(a + b + x)
    d_r = digamma(rx) - digamma(r) + np.log(alpha) - w3 * log_alpha_T - w4 * log_alpha_tx
    d_alpha = r / alpha - w3 * rx / (alpha + T) - w4 * rx / (alpha + t_x)
    d_a = psi_ab - psi_abx + w4 / a
    d_b = psi_ab + digamma(b + x) - digamma(b) - psi_abx - w4 / b_x1
    return ll, np.vstack([d_r, d_alpha, d_a, d_b])


class _GroupedLikelihood:
    """Total BG/NBD log-likelihood and gradient, evaluated fast for many customers.

    Terms that depend only on x (the gamma functions) are summed per distinct x with the customers'
    weights, and the logarithms of alpha + T and alpha + t_x are taken once per distinct value; only
    the two-term mixture is evaluated per customer. For customers without repeat purchases the
    mixture is a single term. Equal to summing `_log_likelihood_terms` over customers.
    """

    def __init__(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, weights: np.ndarray) -> None:
        self.x_values, x_index = np.unique(x, return_inverse=True)
        self.x_weights = np.bincount(x_index, weights=weights, minlength=len(self.x_values))
        self.total_weight = float(weights.sum())
        zero = x == 0
        self.zero_T_values, zero_T_index = np.unique(T[zero], return_inverse=True)
        self.zero_T_weights = np.bincount(zero_T_index, weights=weights[zero], minlength=len(self.zero_T_values))
        rep = ~zero
        self.w = weights[rep]
        self.x = x[rep]
        self.T_values, self.T_index = np.unique(T[rep], return_inverse=True)
        self.tx_values, self.tx_index = np.unique(t_x[rep], return_inverse=True)
        self.rep_x_values, self.rep_x_index = np.unique(self.x, return_inverse=True)

    def __call__(self, params: np.ndarray) -> tuple[float, np.ndarray]:
        """Total log-likelihood and its gradient in (r, alpha, a, b)."""
        r, alpha, a, b = (float(v) for v in params)
        xv, xw = self.x_values, self.x_weights
        # x-only terms: A1 and A2 without the mixture, weighted per distinct x.
        ll = dot(
            xw,
            gammaln(r + xv)
            + gammaln(b + xv)
            - gammaln(a + b + xv)
            + (gammaln(a + b) - gammaln(r) - gammaln(b) + r * np.log(alpha)),
        )
        psi_ab = digamma(a + b)
        psi_abx = digamma(a + b + xv)
        g_r = dot(xw, digamma(r + xv) - digamma(r) + np.log(alpha))
        g_alpha = r / alpha * self.total_weight
        g_a = dot(xw, psi_ab - psi_abx)
        g_b = dot(xw, psi_ab + digamma(b + xv) - digamma(b) - psi_abx)
        # Customers without repeat purchases: the mixture is exp(A3) alone.
        if len(self.zero_T_values):
            log_zero = np.log(alpha + self.zero_T_values)
            ll -= r * dot(self.zero_T_weights, log_zero)
            g_r -= dot(self.zero_T_weights, log_zero)
            g_alpha -= r * dot(self.zero_T_weights, 1.0 / (alpha + self.zero_T_values))
        if len(self.w):
            log_T = np.log(alpha + self.T_values)[self.T_index]
            log_tx = np.log(alpha + self.tx_values)[self.tx_index]
            log_b_x1 = np.log(b + self.rep_x_values - 1.0)[self.rep_x_index]
            rx = r + self.x
            a3 = -rx * log_T
            a4 = np.log(a) - log_b_x1 - rx * log_tx
            # log(exp(a3) + exp(a4)) = a3 + log1p(exp(d)), d = a4 - a3; w4 = sigmoid(d).
            d = a4 - a3
            ll += dot(self.w, a3 + np.logaddexp(0.0, d))
            w4 = expit(d)
            w3 = 1.0 - w4
            g_r -= dot(self.w, w3 * log_T + w4 * log_tx)
            inv_T = (1.0 / (alpha + self.T_values))[self.T_index]
            inv_tx = (1.0 / (alpha + self.tx_values))[self.tx_index]
            g_alpha -= dot(self.w, rx * (w3 * inv_T + w4 * inv_tx))
            g_a += dot(self.w, w4) / a
            g_b -= dot(self.w, w4 / (b + self.x - 1.0))
        return ll, np.array([g_r, g_alpha, g_a, g_b])


def bgnbd_log_likelihood(
    r: float, alpha: float, a: float, b: float, frequency: object, recency: object, T: object
) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood at the given parameters.

    Args:
        r: Shape of the gamma distribution of purchase rates.
        alpha: Scale of the gamma distribution of purchase rates (in the time unit of recency and T).
        a: First shape of the beta distribution of dropout probabilities.
        b: Second shape of the beta distribution of dropout probabilities.
        frequency: Repeat purchases x per customer.
        recency: Time of the last purchase t_x per customer.
        T: Age of each customer at the end of observation.

    Returns:
        One log-likelihood per customer; their sum is the model's log-likelihood.
    """
    x, t_x, t = _check_summary(frequency, recency, T)
    ll, _ = _log_likelihood_terms(np.array([r, alpha, a, b]), x, t_x, t, gradient=False)
    return ll


@dataclass(frozen=True)
class BGNBD:
    """A BG/NBD model with its parameters; build one with `BGNBD.fit`.

    Attributes:
        r: Shape of the gamma distribution of purchase rates.
        alpha: Scale of that distribution, in the time unit of the data.
        a: First shape of the beta distribution of dropout probabilities.
        b: Second shape of the beta distribution of dropout probabilities.
        log_likelihood: Total log-likelihood of the fitted data (not the mean); NaN if not fitted.
        n_customers: Number of customers fitted.
        converged: Whether the optimiser reported convergence.
        iterations: Optimiser iterations used.
    """

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float = float("nan")
    n_customers: int = 0
    converged: bool = True
    iterations: int = 0

    @classmethod
    def fit(
        cls,
        frequency: object,
        recency: object,
        T: object,
        *,
        weights: object | None = None,
        initial: tuple[float, float, float, float] | None = None,
    ) -> BGNBD:
        """Fit the model by maximum likelihood.

        The optimisation runs on log-parameters with the analytic gradient (L-BFGS-B); times are
        rescaled so the oldest customer has age 10, which keeps the start point (all parameters 1)
        sensible whatever the time unit; alpha is scaled back afterwards and the log-likelihood is
        evaluated on the original data. If L-BFGS-B stops without convergence, Nelder-Mead polishes
        the point and L-BFGS-B runs once more.

        Args:
            frequency: Repeat purchases x per customer (whole numbers).
            recency: Time of the last purchase t_x (0 when x = 0).
            T: Age at the end of observation, in the same unit.
            weights: Optional number of customers sharing each (x, t_x, T) row.
            initial: Optional start (r, alpha, a, b) in the data's time unit.

        Returns:
            The fitted model.

        Raises:
            AnalyticsInputError: if the data are inconsistent (negative or fractional counts,
                recency above T, different lengths).
        """
        x, t_x, t = _check_summary(frequency, recency, T)
        w = np.ones_like(x) if weights is None else as_float_array(weights, name="weights")
        if len(w) != len(x) or (w < 0).any():
            raise AnalyticsInputError("weights must be one non-negative number per customer")
        max_t = float(t.max())
        scale = 10.0 / max_t if max_t > 0 else 1.0
        likelihood = _GroupedLikelihood(x, t_x * scale, t * scale, w)
        w_total = float(w.sum())

        def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
            params = np.exp(log_params)
            ll, grad = likelihood(params)
            value = -ll / w_total
            if not np.isfinite(value):
                return 1e100, np.zeros(4)
            return value, -grad * params / w_total

        if initial is None:
            start = np.zeros(4)
        else:
            r0, alpha0, a0, b0 = initial
            start = np.log([r0, alpha0 * scale, a0, b0])
        bounds = [(-20.0, 20.0)] * 4
        options = {"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9}
        result = optimize.minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds, options=options)
        iterations = int(result.nit)
        if not result.success:
            polish = optimize.minimize(
                lambda p: objective(p)[0], result.x, method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-8}
            )
            result = optimize.minimize(objective, polish.x, jac=True, method="L-BFGS-B", bounds=bounds, options=options)
            iterations += int(polish.nit) + int(result.nit)
        r, alpha_s, a, b = np.exp(result.x)
        alpha = alpha_s / scale
        total_ll, _ = _GroupedLikelihood(x, t_x, t, w)(np.array([r, alpha, a, b]))
        return cls(
            r=float(r),
            alpha=float(alpha),
            a=float(a),
            b=float(b),
            log_likelihood=total_ll,
            n_customers=int(round(w_total)),
            converged=bool(result.success),
            iterations=iterations,
        )

    def _log_odds_dead(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """ln(P(dropped out) / P(alive)) per customer; -inf for customers without repeat purchases."""
        with np.errstate(divide="ignore"):
            value = (
                np.log(self.a)
                - np.log(self.b + np.maximum(x, 1.0) - 1.0)
                + (self.r + x) * (np.log(self.alpha + T) - np.log(self.alpha + t_x))
            )
        return np.where(x > 0, value, -np.inf)

    def probability_alive(self, x: object, t_x: object, T: object) -> np.ndarray:
        """Probability that each customer is still active at the end of observation.

        `P(alive | x, t_x, T) = 1 / (1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x))`
        (Fader, Hardie & Lee 2005, eq. 11 of the technical note).

        Args:
            x: Repeat purchases.
            t_x: Time of the last purchase.
            T: Age at the end of observation.

        Returns:
            An array of probabilities, broadcast over the inputs.
        """
        xs, txs, ts = np.broadcast_arrays(*(np.asarray(v, dtype="float64") for v in (x, t_x, T)))
        return np.asarray(expit(-self._log_odds_dead(xs, txs, ts)))

    def conditional_expected_purchases(self, t: object, x: object, t_x: object, T: object) -> np.ndarray:
        """Expected purchases in the next `t` time units for customers with history (x, t_x, T).

        Equation (10) of Fader, Hardie & Lee (2005). The Gauss hypergeometric term is evaluated after
        Euler's transformation, `((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)
        = (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)` with `z = t / (alpha+T+t)`, which avoids
        overflow for heavy buyers.

        Args:
            t: Length of the future period.
            x: Repeat purchases.
            t_x: Time of the last purchase.
            T: Age at the end of observation.

        Returns:
            Expected purchases, broadcast over the inputs.
        """
        ts_, xs, txs, Ts = np.broadcast_arrays(*(np.asarray(v, dtype="float64") for v in (t, x, t_x, T)))
        r, alpha, a, b = self.r, self.alpha, self._a_safe(), self.b
        z = ts_ / (alpha + Ts + ts_)
        tail = _hypergeometric_tail(r, a, b, xs, z)
        first = (a + b + xs - 1.0) / (a - 1.0) * (1.0 - tail)
        return np.asarray(first * expit(-self._log_odds_dead(xs, txs, Ts)))

    def expected_purchases(self, t: object) -> np.ndarray:
        """Expected purchases of a new customer in their first `t` time units, E[X(t)] (eq. 9).

        Args:
            t: Length of the period since the first purchase.

        Returns:
            Expected repeat purchases, one per value of `t`.
        """
        ts_ = np.asarray(t, dtype="float64")
        r, alpha, a, b = self.r, self.alpha, self._a_safe(), self.b
        z = ts_ / (alpha + ts_)
        tail = _hypergeometric_tail(r, a, b, np.zeros_like(z), z)
        return np.asarray((a + b - 1.0) / (a - 1.0) * (1.0 - tail))

    def _a_safe(self) -> float:
        """`a`, nudged off 1 where the closed forms have a removable 0/0."""
        return self.a + 1e-9 if abs(self.a - 1.0) < 1e-9 else self.a

    def to_dict(self) -> dict[str, Any]:
        """The parameters and fit statistics as a JSON-ready dict."""
        return asdict(self)


def score_customers(
    summary: pd.DataFrame, model: BGNBD, horizon: float, *, monetary: pd.Series | None = None
) -> pd.DataFrame:
    """Add probability-alive and expected purchases over `horizon` to a summary frame.

    Args:
        summary: Output of `summary_from_transactions` (columns frequency, recency, T).
        model: A fitted model in the same time unit.
        horizon: Future period length, in the summary's time unit.
        monetary: Optional expected spend per purchase per customer (e.g. from Gamma-Gamma), aligned
            to `summary`; adds `expected_value` = expected purchases x spend.

    Returns:
        A copy of `summary` with `p_alive` and `expected_purchases` (and `expected_value`).
    """
    require_columns(summary, ["frequency", "recency", "T"], what="summary")
    out = summary.copy()
    x, t_x, t = (summary[c].to_numpy(dtype="float64") for c in ("frequency", "recency", "T"))
    out["p_alive"] = model.probability_alive(x, t_x, t)
    out["expected_purchases"] = model.conditional_expected_purchases(horizon, x, t_x, t)
    if monetary is not None:
        out["expected_value"] = out["expected_purchases"] * monetary.reindex(summary.index).to_numpy(dtype="float64")
    return out


def _hypergeometric_tail(r: float, a: float, b: float, x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """`(1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z)` rewritten as `(1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)`.

    Euler's form avoids overflow for heavy buyers; when the dropout prior is nearly a point mass (a and b
    in the hundreds of thousands, as a fit on a few customers can give), `(1-z)^(a-1)` underflows to 0
    while its 2F1 overflows, and the plain form, finite there, is used instead.
    """
    with np.errstate(invalid="ignore", over="ignore", under="ignore"):
        tail = (1.0 - z) ** (a - 1.0) * hyp2f1(a + b - 1.0 - r, a - 1.0, a + b + x - 1.0, z)
        bad = ~np.isfinite(tail)
        if bad.any():
            plain = (1.0 - z) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1.0, z)
            tail = np.where(bad, plain, tail)
    return np.asarray(tail)
