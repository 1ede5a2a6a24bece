"""Gamma-Gamma model of spend per transaction, and customer lifetime value with BG/NBD.

Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value". A customer's transactions are
Gamma(p, nu) distributed around their own mean p / nu, and nu ~ Gamma(q, gamma) across customers.
Given a customer's number of repeat transactions x and their mean value m (`zbar`), the model gives
the expected spend per future transaction, shrinking m towards the population mean the fewer
transactions there are. The model assumes spend is independent of purchase frequency; the fit
reports their correlation so a caller can check.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from scipy import optimize
from scipy.special import digamma, gammaln

from app.analytics._numeric import dot
from app.analytics._validation import AnalyticsInputError, as_float_array
from app.analytics.bgnbd import BGNBD

ClvTimeUnit = Literal["W", "D", "M"]
"""Time unit of the BG/NBD model used for CLV: weeks, days or months."""

PERIODS_PER_MONTH: dict[str, float] = {"W": 4.345, "D": 30.0, "M": 1.0}
"""Length of a month in each time unit (the constants of lifetimes' `customer_lifetime_value`)."""


def _check_spend(frequency: object, monetary_value: object) -> tuple[np.ndarray, np.ndarray]:
    """Validate (x, m) and return float arrays of one length."""
    x = as_float_array(frequency, name="frequency")
    m = as_float_array(monetary_value, name="monetary_value")
    if len(x) != len(m):
        raise AnalyticsInputError(f"frequency and monetary_value differ in length ({len(x)}, {len(m)})")
    if (x < 0).any():
        raise AnalyticsInputError("frequency must not be negative")
    return x, m


def _log_likelihood_terms(
    params: np.ndarray, x: np.ndarray, m: np.ndarray, *, gradient: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """Per-customer log-density of the mean spend m given x (Fader & Hardie 2013, eq. 1), and its gradient."""
    p, q, v = (float(val) for val in params)
    px = p * x
    log_xm_v = np.log(x * m + v)
    ll = (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(v)
        + (px - 1.0) * np.log(m)
        + px * np.log(x)
        - (px + q) * log_xm_v
    )
    if not gradient:
        return ll, None
    psi_pxq = digamma(px + q)
    d_p = x * (psi_pxq - digamma(px) + np.log(m) + np.log(x) - log_xm_v)
    d_q = psi_pxq - digamma(q) + np.log(v) - log_xm_v
    d_v = q / v - (px + q) / (x * m + v)
    return ll, np.vstack([d_p, d_q, d_v])


class _GroupedLikelihood:
    """Total Gamma-Gamma log-likelihood and gradient, with everything not involving gamma precomputed.

    The gamma-function terms are evaluated once per distinct x; the sums of `x ln m`, `ln m` and
    `x ln x` are constants; only `ln(x m + gamma)` is evaluated per customer. Equal to summing
    `_log_likelihood_terms` over customers.
    """

    def __init__(self, x: np.ndarray, m: np.ndarray) -> None:
        self.x = x
        self.xm = x * m
        self.n = float(len(x))
        self.x_values, index = np.unique(x, return_inverse=True)
        self.x_counts = np.bincount(index, minlength=len(self.x_values)).astype("float64")
        log_m = np.log(m)
        self.sum_x_log_m = dot(x, log_m)
        self.sum_log_m = float(log_m.sum())
        self.sum_x_log_x = dot(x, np.log(x))

    def __call__(self, params: np.ndarray) -> tuple[float, np.ndarray]:
        """Total log-likelihood and its gradient in (p, q, gamma)."""
        p, q, v = (float(val) for val in params)
        pxv = p * self.x_values
        log_xm_v = np.log(self.xm + v)
        weight = p * self.x + q
        ll = (
            dot(self.x_counts, gammaln(pxv + q) - gammaln(pxv))
            - self.n * (gammaln(q) - q * np.log(v))
            + p * (self.sum_x_log_m + self.sum_x_log_x)
            - self.sum_log_m
            - dot(weight, log_xm_v)
        )
        psi = digamma(pxv + q)
        d_p = dot(self.x_counts * self.x_values, psi - digamma(pxv))
        d_p += self.sum_x_log_m + self.sum_x_log_x - dot(self.x, log_xm_v)
        d_q = dot(self.x_counts, psi) - self.n * (digamma(q) - np.log(v)) - float(log_xm_v.sum())
        d_v = self.n * q / v - dot(weight, 1.0 / (self.xm + v))
        return float(ll), np.array([d_p, d_q, d_v])


@dataclass(frozen=True)
class GammaGamma:
    """A Gamma-Gamma spend model; build one with `GammaGamma.fit`.

    Attributes:
        p: Shape of the per-transaction spend distribution.
        q: Shape of the gamma distribution of nu across customers.
        gamma: Scale of that distribution (called v in lifetimes), in money units.
        log_likelihood: Total log-likelihood of the fitted customers; NaN if not fitted.
        n_customers: Customers used in the fit (those with at least one repeat purchase).
        converged: Whether the optimiser reported convergence.
        iterations: Optimiser iterations used.
        frequency_spend_correlation: Pearson correlation of x and m among fitted customers; the
            model assumes it is near 0.
    """

    p: float
    q: float
    gamma: float
    log_likelihood: float = float("nan")
    n_customers: int = 0
    converged: bool = True
    iterations: int = 0
    frequency_spend_correlation: float = float("nan")

    @property
    def v(self) -> float:
        """The scale parameter under lifetimes' name."""
        return self.gamma

    @classmethod
    def fit(cls, frequency: object, monetary_value: object) -> GammaGamma:
        """Fit by maximum likelihood on the customers with repeat purchases (x > 0).

        Optimises log-parameters with the analytic gradient (L-BFGS-B). Spend is rescaled to mean 1
        for the optimisation; gamma is scaled back and the log-likelihood is evaluated on the data.

        Args:
            frequency: Repeat purchases x per customer; customers with x = 0 are left out.
            monetary_value: Mean value of each customer's repeat transactions.

        Returns:
            The fitted model.

        Raises:
            AnalyticsInputError: if fewer than 2 customers have repeat purchases, or one of them has
                a non-positive mean spend.
        """
        x_all, m_all = _check_spend(frequency, monetary_value)
        mask = x_all > 0
        x, m = x_all[mask], m_all[mask]
        if len(x) < 2:
            raise AnalyticsInputError("the Gamma-Gamma model needs at least 2 customers with repeat purchases")
        if (m <= 0).any():
            raise AnalyticsInputError(
                f"{int((m <= 0).sum())} customer(s) with repeat purchases have a mean spend of 0 or less; "
                "the Gamma-Gamma model needs positive amounts (filter out refunds or free orders first)"
            )
        scale = 1.0 / float(m.mean())
        likelihood = _GroupedLikelihood(x, m * scale)
        n = float(len(x))

        def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
            params = np.exp(log_params)
            ll, grad = likelihood(params)
            value = -ll / n
            if not np.isfinite(value):
                return 1e100, np.zeros(3)
            return value, -grad * params / n

        bounds = [(-20.0, 20.0)] * 3
        options = {"maxiter": 2000, "ftol": 1e-13, "gtol": 1e-9}
        result = optimize.minimize(objective, np.zeros(3), jac=True, method="L-BFGS-B", bounds=bounds, options=options)
        iterations = int(result.nit)
        if not result.success:
            polish = optimize.minimize(
                lambda lp: objective(lp)[0], result.x, method="Nelder-Mead", options={"maxiter": 4000}
            )
            result = optimize.minimize(objective, polish.x, jac=True, method="L-BFGS-B", bounds=bounds, options=options)
            iterations += int(polish.nit) + int(result.nit)
        p, q, v_scaled = np.exp(result.x)
        v = v_scaled / scale
        total_ll, _ = _GroupedLikelihood(x, m)(np.array([p, q, v]))
        correlation = float(np.corrcoef(x, m)[0, 1]) if np.std(x) > 0 and np.std(m) > 0 else float("nan")
        return cls(
            p=float(p),
            q=float(q),
            gamma=float(v),
            log_likelihood=total_ll,
            n_customers=len(x),
            converged=bool(result.success),
            iterations=iterations,
            frequency_spend_correlation=correlation,
        )

    @property
    def population_mean_spend(self) -> float:
        """Expected spend per transaction of a customer with no history, `p gamma / (q - 1)` (inf if q <= 1)."""
        return self.p * self.gamma / (self.q - 1.0) if self.q > 1.0 else float("inf")

    def conditional_expected_average_spend(self, frequency: object, monetary_value: object) -> np.ndarray:
        """Expected spend per future transaction given x repeat transactions of mean value m.

        `E[M | p, q, gamma, m, x] = p (gamma + m x) / (p x + q - 1)`, a weighted average of the
        population mean and the customer's own mean (Fader & Hardie 2013, eq. 5). For x = 0 it is
        the population mean.

        Args:
            frequency: Repeat purchases per customer.
            monetary_value: Mean value of their repeat transactions (ignored when x = 0).

        Returns:
            Expected spend per transaction per customer.
        """
        x, m = _check_spend(frequency, monetary_value)
        m = np.where(x > 0, m, 0.0)
        return np.asarray(self.p * (self.gamma + m * x) / (self.p * x + self.q - 1.0))

    def customer_lifetime_value(
        self,
        transaction_model: BGNBD,
        frequency: object,
        recency: object,
        T: object,
        monetary_value: object,
        *,
        months: int = 12,
        discount_rate: float = 0.01,
        time_unit: ClvTimeUnit = "W",
    ) -> np.ndarray:
        """Discounted expected value of each customer's purchases over the next `months` months.

        As lifetimes' `customer_lifetime_value`: for each month i = 1..months, the BG/NBD expected
        purchases during that month times the Gamma-Gamma expected spend, divided by
        `(1 + discount_rate)^i`, summed.

        Args:
            transaction_model: A fitted BG/NBD model in `time_unit`.
            frequency: Repeat purchases x.
            recency: Time of the last purchase t_x.
            T: Age at the end of observation.
            monetary_value: Mean value of the repeat transactions.
            months: Horizon in months.
            discount_rate: Monthly discount rate (0.01 = 1% per month).
            time_unit: Unit of recency and T: `W`, `D` or `M`.

        Returns:
            CLV per customer, in money units.

        Raises:
            AnalyticsInputError: on a bad horizon, discount rate or time unit.
        """
        if time_unit not in PERIODS_PER_MONTH:
            raise AnalyticsInputError(f"time_unit must be one of W, D, M; got {time_unit!r}")
        if months < 1:
            raise AnalyticsInputError("months must be at least 1")
        if discount_rate <= -1:
            raise AnalyticsInputError("discount_rate must be above -100%")
        x, m = _check_spend(frequency, monetary_value)
        t_x = as_float_array(recency, name="recency")
        t = as_float_array(T, name="T")
        spend = self.conditional_expected_average_spend(x, m)
        factor = PERIODS_PER_MONTH[time_unit]
        clv = np.zeros_like(x)
        previous = np.zeros_like(x)
        for month in range(1, months + 1):
            cumulative = transaction_model.conditional_expected_purchases(month * factor, x, t_x, t)
            clv += spend * (cumulative - previous) / (1.0 + discount_rate) ** month
            previous = cumulative
        return clv

    def to_dict(self) -> dict[str, Any]:
        """The parameters and fit statistics as a JSON-ready dict."""
        return asdict(self)
