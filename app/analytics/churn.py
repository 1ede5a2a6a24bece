"""Churn prediction from a transaction log: BG/NBD probability-alive, expected purchases and CLV.

One call for the Insights agent's "churn predictor": summarise the transactions, fit BG/NBD (and
Gamma-Gamma when amounts are positive), and score every customer. Customers without a repeat
purchase have probability-alive 1 in BG/NBD (nothing yet shows they left), so the churn bands and
the at-risk list consider repeat buyers only, and one-time buyers are counted separately.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from app.analytics._validation import AnalyticsInputError, require_columns, to_amount_column, to_datetime_column
from app.analytics.bgnbd import BGNBD, MergeBy, TimeUnit, summary_from_transactions
from app.analytics.gamma_gamma import GammaGamma

ACTIVE_THRESHOLD = 0.7
"""Probability-alive at or above which a repeat buyer counts as active."""
CHURNED_THRESHOLD = 0.3
"""Probability-alive below which a repeat buyer counts as likely churned."""


@dataclass(frozen=True)
class ChurnResult:
    """BG/NBD churn scores for every customer.

    Attributes:
        observation_end: Date the scores refer to.
        time_unit: `W` or `D`, the unit of recency, T and the model's alpha.
        horizon_days: Future period of `expected_purchases` and `expected_value`.
        model: The fitted BG/NBD model.
        spend_model: The fitted Gamma-Gamma model, or None (see `notes`).
        customers: One row per customer: customer_id, frequency, recency, T, total_spend,
            monetary_value, p_alive, expected_purchases, expected_value and clv (when spend_model).
        bands: Repeat buyers per band (`active`, `at_risk`, `likely_churned`) and `one_time_buyers`.
        notes: Caveats worth showing with the numbers.
    """

    observation_end: dt.date
    time_unit: str
    horizon_days: int
    model: BGNBD
    spend_model: GammaGamma | None
    customers: pd.DataFrame
    bands: dict[str, int]
    notes: list[str] = field(default_factory=list)

    def at_risk(self, n: int = 20) -> pd.DataFrame:
        """Repeat buyers most worth a win-back: highest past spend x probability of having churned.

        Args:
            n: How many.

        Returns:
            Rows of `customers` with a `value_at_risk` column, largest first, p_alive < the active threshold.
        """
        repeat = self.customers[(self.customers["frequency"] > 0) & (self.customers["p_alive"] < ACTIVE_THRESHOLD)]
        ranked = repeat.assign(value_at_risk=repeat["total_spend"] * (1.0 - repeat["p_alive"]))
        return ranked.sort_values(["value_at_risk", "customer_id"], ascending=[False, True]).head(n)

    def to_dict(self, *, top: int = 20) -> dict[str, Any]:
        """A JSON-ready summary with the model parameters, bands and the top at-risk customers.

        Args:
            top: How many at-risk customers to list.

        Returns:
            The result as plain Python types.
        """
        risky = self.at_risk(top)
        columns = ["customer_id", "p_alive", "frequency", "recency", "T", "total_spend", "expected_purchases"]
        if "clv" in risky.columns:
            columns.append("clv")
        return {
            "observation_end": self.observation_end.isoformat(),
            "time_unit": self.time_unit,
            "horizon_days": self.horizon_days,
            "n_customers": len(self.customers),
            "bgnbd": self.model.to_dict(),
            "gamma_gamma": self.spend_model.to_dict() if self.spend_model else None,
            "bands": self.bands,
            "expected_active_customers": float(self.customers["p_alive"].sum()),
            "expected_purchases_next_period": float(self.customers["expected_purchases"].sum()),
            "at_risk": [
                {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
                for row in risky[columns + ["value_at_risk"]].to_dict(orient="records")
            ],
            "notes": self.notes,
        }


def churn_analysis(
    df: pd.DataFrame,
    *,
    customer_col: str = "customer_id",
    date_col: str = "order_date",
    amount_col: str | None = "amount",
    observation_end: str | dt.date | pd.Timestamp | None = None,
    time_unit: TimeUnit = "W",
    merge_by: MergeBy = "day",
    horizon_days: int = 90,
    clv_months: int = 12,
    discount_rate: float = 0.01,
) -> ChurnResult:
    """Fit BG/NBD (and Gamma-Gamma) to a transaction log and score every customer.

    Args:
        df: One row per transaction.
        customer_col: Customer id column.
        date_col: Transaction date column.
        amount_col: Amount column; `None` skips spend and CLV.
        observation_end: Scoring date; the last transaction date when `None`.
        time_unit: `W` or `D` for the model's time scale.
        merge_by: `day` (same-day purchases are one) or `period` (lifetimes' convention).
        horizon_days: Future period for expected purchases.
        clv_months: Horizon of the CLV.
        discount_rate: Monthly discount rate of the CLV.

    Returns:
        The scores, bands and models.

    Raises:
        AnalyticsInputError: on unusable input (see `summary_from_transactions`), or a horizon below 1 day.
    """
    if horizon_days < 1:
        raise AnalyticsInputError("the horizon must be at least 1 day")
    require_columns(df, [customer_col, date_col, amount_col])
    end = observation_end
    if end is None:
        end = to_datetime_column(df[date_col], column=date_col).max()
    end_ts = pd.Timestamp(end)
    summary = summary_from_transactions(df, customer_col, date_col, end_ts, time_unit, amount_col, merge_by=merge_by)
    model = BGNBD.fit(summary["frequency"], summary["recency"], summary["T"])
    notes: list[str] = []
    if not model.converged:
        notes.append("the BG/NBD optimiser did not report convergence; treat the scores with care")
    unit_days = 7.0 if time_unit == "W" else 1.0
    horizon = horizon_days / unit_days
    x, t_x, t = (summary[c].to_numpy(dtype="float64") for c in ("frequency", "recency", "T"))
    customers = pd.DataFrame({"customer_id": summary.index.astype(str)})
    customers["frequency"] = x
    customers["recency"] = t_x
    customers["T"] = t
    customers["p_alive"] = model.probability_alive(x, t_x, t)
    customers["expected_purchases"] = model.conditional_expected_purchases(horizon, x, t_x, t)
    spend_model: GammaGamma | None = None
    if amount_col is not None:
        dates = to_datetime_column(df[date_col], column=date_col)
        amounts = to_amount_column(df[amount_col], column=amount_col)
        in_window = (dates <= end_ts.normalize() + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)).to_numpy()
        totals = pd.Series(amounts[in_window]).groupby(df[customer_col].astype(str).to_numpy()[in_window]).sum()
        customers["total_spend"] = totals.reindex(customers["customer_id"]).to_numpy(dtype="float64")
        customers["monetary_value"] = summary["monetary_value"].to_numpy(dtype="float64")
        try:
            spend_model = GammaGamma.fit(x, customers["monetary_value"].to_numpy())
        except AnalyticsInputError as exc:
            notes.append(f"no spend model: {exc}")
        if spend_model is not None:
            spend = spend_model.conditional_expected_average_spend(x, customers["monetary_value"].to_numpy())
            customers["expected_value"] = customers["expected_purchases"] * spend
            customers["clv"] = spend_model.customer_lifetime_value(
                model,
                x,
                t_x,
                t,
                customers["monetary_value"].to_numpy(),
                months=clv_months,
                discount_rate=discount_rate,
                time_unit=time_unit,
            )
            if abs(spend_model.frequency_spend_correlation) > 0.3:
                notes.append(
                    f"spend and purchase frequency are correlated ({spend_model.frequency_spend_correlation:+.2f}); "
                    "the Gamma-Gamma model assumes they are independent"
                )
    else:
        customers["total_spend"] = np.nan
    repeat = customers[customers["frequency"] > 0]["p_alive"]
    bands = {
        "active": int((repeat >= ACTIVE_THRESHOLD).sum()),
        "at_risk": int(((repeat >= CHURNED_THRESHOLD) & (repeat < ACTIVE_THRESHOLD)).sum()),
        "likely_churned": int((repeat < CHURNED_THRESHOLD).sum()),
        "one_time_buyers": int((customers["frequency"] == 0).sum()),
    }
    notes.append(
        "one-time buyers have probability-alive 1 in BG/NBD (no repeat purchase yet shows they left); "
        "bands count repeat buyers only"
    )
    return ChurnResult(
        observation_end=end_ts.date(),
        time_unit=time_unit,
        horizon_days=horizon_days,
        model=model,
        spend_model=spend_model,
        customers=customers,
        bands=bands,
        notes=notes,
    )
