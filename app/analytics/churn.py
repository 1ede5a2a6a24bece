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


# ----------------------------------------------------------------------------- subscription churn risk
RISK_FEATURES: tuple[str, ...] = (
    "plan",
    "billing_period",
    "mrr",
    "tenure_months",
    "renews_in_horizon",
    "mrr_change_180d",
    "downgraded_180d",
    "tickets_90d",
    "hardware_p_alive",
)
"""What the subscription churn model learns from, per account and snapshot date."""
TRAINING_SNAPSHOTS = 4
"""Past snapshot dates (one horizon apart) whose outcomes the subscription churn model is trained on."""
ELEVATED_RISK_MULTIPLE = 2.0
"""An account whose probability of cancelling is at least this multiple of the base rate is "at risk"."""
_LOOKBACK_DAYS = 180
_TICKET_DAYS = 90
_DAYS_PER_MONTH = 30.44


@dataclass(frozen=True)
class SubscriptionRiskResult:
    """The probability that each live subscriber cancels within a horizon, learnt from past cancellations.

    Attributes:
        as_of: The scoring date (the last date in the data).
        horizon_days: The horizon of `p_cancel`.
        accounts: One row per account with a live subscription on `as_of`: customer_id, the `RISK_FEATURES`,
            `p_cancel` (probability of cancelling within the horizon), `renewal_date` (next annual renewal, or
            None for monthly billing) and `signals` (the risk signals in words), highest `p_cancel` first.
        base_rate: Share of live subscribers that cancelled within the horizon over the training snapshots.
        auc: ROC AUC of the model on held-out snapshot rows.
        n_train: Labelled snapshot rows (the model's training rows and the held-out rows its AUC is measured on;
            the split is by row, so one account can be on both sides: the AUC is an optimistic estimate).
        snapshots: The training snapshot dates, oldest first.
        coefficients: (feature, coefficient on the standardised / one-hot scale), largest magnitude first.
        cancelled_recently: Accounts whose subscription was cancelled within the horizon before `as_of`.
    """

    as_of: dt.date
    horizon_days: int
    accounts: pd.DataFrame
    base_rate: float
    auc: float
    n_train: int
    snapshots: list[dt.date]
    coefficients: list[tuple[str, float]]
    cancelled_recently: int

    @property
    def risk_threshold(self) -> float:
        """`p_cancel` from which an account counts as at risk: `ELEVATED_RISK_MULTIPLE` × the base rate."""
        return ELEVATED_RISK_MULTIPLE * self.base_rate

    def at_risk(self) -> pd.DataFrame:
        """Live subscribers with `p_cancel` at or above `risk_threshold`, highest first."""
        return self.accounts[self.accounts["p_cancel"] >= self.risk_threshold]


def _dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, errors="coerce").dt.normalize()


def _live_on(subs: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    """The subscription row running on `day` per customer (the latest started one)."""
    running = subs[(subs["start_date"] <= day) & (subs["end_date"].isna() | (subs["end_date"] > day))]
    return running.sort_values(["start_date", "id"]).groupby("customer_id").tail(1).set_index("customer_id")


def _hardware_p_alive(tx: pd.DataFrame, day: pd.Timestamp, model: BGNBD | None) -> pd.Series:
    """BG/NBD probability-alive of each buyer from the orders up to `day` (NaN series without a model)."""
    if model is None or tx.empty:
        return pd.Series(dtype="float64")
    past = tx[tx["order_date"] <= day]
    if past.empty:
        return pd.Series(dtype="float64")
    summary = summary_from_transactions(past, "customer_id", "order_date", day, "W", merge_by="day")
    x, t_x, t = (summary[c].to_numpy(dtype="float64") for c in ("frequency", "recency", "T"))
    return pd.Series(model.probability_alive(x, t_x, t), index=summary.index.astype(str))


def _snapshot(
    subs: pd.DataFrame, tx: pd.DataFrame, tickets: pd.DataFrame, day: pd.Timestamp, horizon: int, model: BGNBD | None
) -> pd.DataFrame:
    """The `RISK_FEATURES` of every account live on `day`, and whether it cancelled in the `horizon` days after."""
    live = _live_on(subs, day)
    frame = pd.DataFrame(index=live.index)
    frame["plan"] = live["plan"].astype(str).str.lower()
    frame["billing_period"] = live["billing_period"].astype(str).str.lower()
    frame["mrr"] = live["mrr"].astype("float64")
    first = subs.groupby("customer_id")["start_date"].min().reindex(live.index)
    tenure_days = (day - first).dt.days.astype("float64")
    frame["tenure_months"] = tenure_days / _DAYS_PER_MONTH
    years = np.floor(tenure_days / 365.25) + 1.0
    renewal = first + pd.to_timedelta(np.round(years * 365.25), unit="D")
    annual = frame["billing_period"] == "annual"
    frame["renewal_date"] = renewal.where(annual)
    frame["renews_in_horizon"] = (~annual | ((renewal - day).dt.days <= horizon)).astype("float64")
    before = _live_on(subs, day - pd.Timedelta(days=_LOOKBACK_DAYS))["mrr"].reindex(live.index)
    frame["mrr_change_180d"] = (frame["mrr"] / before.astype("float64") - 1.0).fillna(0.0)
    recent = subs[(subs["start_date"] > day - pd.Timedelta(days=_LOOKBACK_DAYS)) & (subs["start_date"] <= day)]
    downgraded = set(recent.loc[recent["change_type"] == "downgrade", "customer_id"])
    frame["downgraded_180d"] = frame.index.isin(list(downgraded)).astype("float64")
    window = tickets[(tickets["created_at"] > day - pd.Timedelta(days=_TICKET_DAYS)) & (tickets["created_at"] <= day)]
    frame["tickets_90d"] = window.groupby("customer_id").size().reindex(live.index).fillna(0).astype("float64")
    frame["hardware_p_alive"] = _hardware_p_alive(tx, day, model).reindex(live.index)
    end = day + pd.Timedelta(days=horizon)
    cancelled = subs[(subs["status"] == "cancelled") & (subs["end_date"] > day) & (subs["end_date"] <= end)]
    frame["cancelled"] = frame.index.isin(list(set(cancelled["customer_id"]))).astype("float64")
    frame["snapshot"] = day
    return frame.rename_axis("customer_id").reset_index()


def _signals(row: pd.Series, horizon_days: int) -> str:
    """The risk signals of one account, in words."""
    out: list[str] = []
    if row["billing_period"] == "annual":
        if row["renews_in_horizon"] and pd.notna(row["renewal_date"]):
            out.append(f"annual renewal {pd.Timestamp(row['renewal_date']).date()}")
    else:
        out.append("monthly billing")
    if row["tenure_months"] < 3:
        out.append("first 3 months")
    if row["downgraded_180d"]:
        out.append("downgraded in the last 6 months")
    elif row["mrr_change_180d"] < -0.05:
        out.append(f"MRR {row['mrr_change_180d']:+.0%} in 6 months")
    if row["tickets_90d"] >= 2:
        out.append(f"{int(row['tickets_90d'])} support tickets in 90 days")
    if pd.notna(row["hardware_p_alive"]) and row["hardware_p_alive"] < CHURNED_THRESHOLD:
        out.append(f"no recent hardware orders (P(alive) {row['hardware_p_alive']:.2f})")
    return "; ".join(out)


def subscription_churn_risk(
    subscriptions: pd.DataFrame,
    transactions: pd.DataFrame,
    tickets: pd.DataFrame | None = None,
    *,
    as_of: str | dt.date | pd.Timestamp,
    horizon_days: int = 91,
    purchase_model: BGNBD | None = None,
    snapshots: int = TRAINING_SNAPSHOTS,
) -> SubscriptionRiskResult:
    """The probability that each account with a live subscription cancels within `horizon_days`.

    A logistic regression (`app.analytics.leads.score_leads`) is trained on past snapshot dates, one horizon
    apart before `as_of`: the accounts live on each date, their `RISK_FEATURES` on that date (plan, billing
    period, MRR, tenure, annual renewal inside the horizon, MRR change and downgrades over 180 days, support
    tickets over 90 days, and the BG/NBD probability-alive of their hardware purchases) and whether they
    cancelled in the horizon that followed. The model then scores the accounts live on `as_of`. Cancelled
    accounts are churned, not at risk: they are not scored.

    Args:
        subscriptions: One row per subscription period: id, customer_id, plan, billing_period, mrr, start_date,
            end_date (exclusive, empty while running), status (`active | changed | cancelled`), change_type.
        transactions: Hardware orders: customer_id, order_date.
        tickets: Support tickets: customer_id, created_at (none when `None`).
        as_of: The scoring date.
        horizon_days: The horizon of the probability.
        purchase_model: A fitted BG/NBD model of the hardware purchases (`churn_analysis(...).model`); without
            one, hardware purchases are not a feature.
        snapshots: How many past snapshot dates to learn from (fewer when the data is shorter).

    Returns:
        The scored accounts, the base rate and the model's held-out AUC.

    Raises:
        AnalyticsInputError: no subscriptions, a horizon below 7 days, or too few past cancellations to learn
            from.
    """
    from app.analytics.leads import score_leads

    if horizon_days < 7:
        raise AnalyticsInputError("the churn horizon must be at least 7 days")
    require_columns(subscriptions, ["id", "customer_id", "plan", "billing_period", "mrr", "start_date", "end_date"])
    if subscriptions.empty:
        raise AnalyticsInputError("no subscriptions to score")
    subs = subscriptions.assign(
        customer_id=subscriptions["customer_id"].astype(str),
        start_date=_dates(subscriptions["start_date"]),
        end_date=_dates(subscriptions["end_date"]),
    )
    tx = transactions.assign(
        customer_id=transactions["customer_id"].astype(str), order_date=_dates(transactions["order_date"])
    )
    tk = (
        pd.DataFrame({"customer_id": pd.Series(dtype=str), "created_at": pd.Series(dtype="datetime64[ns]")})
        if tickets is None or tickets.empty
        else tickets.assign(customer_id=tickets["customer_id"].astype(str), created_at=_dates(tickets["created_at"]))
    )
    day = pd.Timestamp(as_of).normalize()
    first_day = subs["start_date"].min()
    dates = [day - pd.Timedelta(days=k * horizon_days) for k in range(snapshots, 0, -1)]
    dates = [d for d in dates if d - first_day >= pd.Timedelta(days=_LOOKBACK_DAYS // 2)]
    past = [_snapshot(subs, tx, tk, d, horizon_days, purchase_model) for d in dates]
    now = _snapshot(subs, tx, tk, day, horizon_days, purchase_model).assign(cancelled=np.nan)
    frame = pd.concat([*past, now], ignore_index=True)
    frame["row"] = frame["customer_id"] + "@" + frame["snapshot"].dt.date.astype(str)
    features = [f for f in RISK_FEATURES if f != "hardware_p_alive" or frame[f].notna().any()]
    try:
        fitted = score_leads(frame, "cancelled", id_col="row", feature_cols=features)
    except AnalyticsInputError as exc:
        raise AnalyticsInputError(f"too little subscription history to learn churn from: {exc}") from exc
    scores = fitted.scores.set_index("lead")["score"]
    accounts = frame[frame["cancelled"].isna()].copy()
    accounts["p_cancel"] = scores.reindex(accounts["row"]).to_numpy(dtype="float64")
    accounts["signals"] = [_signals(row, horizon_days) for _, row in accounts.iterrows()]
    accounts["renewal_date"] = accounts["renewal_date"].dt.date.astype(object).where(accounts["renewal_date"].notna())
    accounts = accounts.drop(columns=["cancelled", "snapshot", "row"])
    accounts = accounts.sort_values(["p_cancel", "mrr", "customer_id"], ascending=[False, False, True])
    labelled = frame["cancelled"].dropna()
    recent = subs[
        (subs["status"] == "cancelled")
        & (subs["end_date"] > day - pd.Timedelta(days=horizon_days))
        & (subs["end_date"] <= day)
    ]
    return SubscriptionRiskResult(
        as_of=day.date(),
        horizon_days=horizon_days,
        accounts=accounts.reset_index(drop=True),
        base_rate=float(labelled.mean()),
        auc=fitted.auc,
        n_train=len(labelled),
        snapshots=[d.date() for d in dates],
        coefficients=fitted.coefficients,
        cancelled_recently=int(recent["customer_id"].nunique()),
    )
