"""RFM segmentation: recency, frequency and monetary quintile scores and the standard named segments.

Scores are quintiles of the customer base, 1 (worst) to 5 (best): recency is days from the last
purchase to the as-of date (fewer is better), frequency the number of orders, monetary the total
spend. Ties share a score: a customer's score is `1 + floor(5 (k - 1) / n)` where k is the rank of
their value (ties take the lowest rank, larger is better) among n customers, so "60% of customers
bought once" puts all of them in score 1 instead of spreading them over three scores at random.

Segments follow the widely used R / FM grid (FM = the mean of F and M, rounded half up), as in the
"RFM segments" score-map used by Putler, Klaviyo and the common Kaggle notebooks:

| R / FM | 1 | 2 | 3 | 4 | 5 |
|---|---|---|---|---|---|
| 5 | New Customers | Potential Loyalist | Potential Loyalist | Champions | Champions |
| 4 | Promising | Potential Loyalist | Potential Loyalist | Loyal | Loyal |
| 3 | About To Sleep | About To Sleep | Need Attention | Loyal | Loyal |
| 2 | Hibernating | Hibernating | At Risk | At Risk | Can't Lose Them |
| 1 | Lost | Hibernating | At Risk | At Risk | Can't Lose Them |
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from app.analytics._validation import AnalyticsInputError, require_columns, to_amount_column, to_datetime_column

SEGMENTS: tuple[str, ...] = (
    "Champions",
    "Loyal",
    "Potential Loyalist",
    "New Customers",
    "Promising",
    "Need Attention",
    "About To Sleep",
    "At Risk",
    "Can't Lose Them",
    "Hibernating",
    "Lost",
)
"""Segment names, best first."""

SEGMENT_GRID: dict[int, tuple[str, str, str, str, str]] = {
    5: ("New Customers", "Potential Loyalist", "Potential Loyalist", "Champions", "Champions"),
    4: ("Promising", "Potential Loyalist", "Potential Loyalist", "Loyal", "Loyal"),
    3: ("About To Sleep", "About To Sleep", "Need Attention", "Loyal", "Loyal"),
    2: ("Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"),
    1: ("Lost", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"),
}
"""Segment by R score (key) and FM score (position 1..5)."""

SEGMENT_ACTIONS: dict[str, str] = {
    "Champions": "Reward them; ask for reviews and referrals; early access to new products.",
    "Loyal": "Upsell higher plans and bundles; invite to the loyalty or advocacy programme.",
    "Potential Loyalist": "Offer membership or a second-purchase incentive; recommend related products.",
    "New Customers": "Onboard well: setup help, first-value content, a check-in after the first weeks.",
    "Promising": "Build awareness of the range with useful content and a modest first-repeat offer.",
    "Need Attention": "Reconnect with a limited-time offer based on what they bought before.",
    "About To Sleep": "Win them back early with a relevant offer before they go quiet.",
    "At Risk": "Personal win-back emails, a renewal offer and a conversation about what changed.",
    "Can't Lose Them": "Reach out personally now; they were among the most valuable customers.",
    "Hibernating": "Low-cost reactivation; offer other relevant products or a special discount.",
    "Lost": "Revive with one low-cost campaign; otherwise do not spend on them.",
}
"""Suggested marketing action per segment."""


def segment_for(r_score: int, fm_score: int) -> str:
    """The segment name of an R score and an FM score (each 1..5).

    Args:
        r_score: Recency score, 5 = most recent.
        fm_score: Combined frequency-monetary score, 5 = best.

    Returns:
        The segment name.

    Raises:
        AnalyticsInputError: if a score is outside 1..5.
    """
    if r_score not in SEGMENT_GRID or not 1 <= fm_score <= 5:
        raise AnalyticsInputError(f"scores must be 1..5, got R={r_score}, FM={fm_score}")
    return SEGMENT_GRID[r_score][fm_score - 1]


def quintile_scores(values: np.ndarray, *, higher_is_better: bool = True) -> np.ndarray:
    """Score values 1..5 by quintile of rank; ties share the lower score.

    Args:
        values: One value per customer.
        higher_is_better: If False (recency in days), smaller values get higher scores.

    Returns:
        Integer scores 1..5.
    """
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    keyed = pd.Series(values if higher_is_better else -np.asarray(values, dtype="float64"))
    rank_min = keyed.rank(method="min").to_numpy(dtype=np.int64)
    return 1 + (5 * (rank_min - 1)) // n


@dataclass(frozen=True)
class SegmentSummary:
    """Totals of one RFM segment.

    Attributes:
        segment: Segment name.
        customers: Number of customers in it.
        share: Fraction of all customers.
        revenue: Total spend of its customers.
        revenue_share: Fraction of all revenue.
        avg_recency_days: Mean days since the last purchase.
        avg_frequency: Mean number of orders.
        avg_monetary: Mean total spend per customer.
        action: Suggested marketing action.
    """

    segment: str
    customers: int
    share: float
    revenue: float
    revenue_share: float
    avg_recency_days: float
    avg_frequency: float
    avg_monetary: float
    action: str


@dataclass(frozen=True)
class RFMResult:
    """RFM scores per customer and totals per segment.

    Attributes:
        as_of: Date recency is measured to.
        customers: One row per customer: customer_id, recency_days, frequency, monetary, r, f, m,
            fm, rfm (e.g. "545") and segment; sorted by segment order then monetary, descending.
        segments: One summary per segment present, best segment first.
        total_customers: Customers scored.
        total_revenue: Total spend of all customers.
        segment_customers: Customer ids per segment, highest spend first.
    """

    as_of: dt.date
    customers: pd.DataFrame
    segments: list[SegmentSummary]
    total_customers: int
    total_revenue: float
    segment_customers: dict[str, list[str]] = field(default_factory=dict)

    def segment_of(self, customer_id: str) -> str:
        """The segment of one customer.

        Args:
            customer_id: The id as it appears in the transactions (compared as text).

        Returns:
            The segment name.

        Raises:
            KeyError: if the customer is not in the result.
        """
        match = self.customers.loc[self.customers["customer_id"] == str(customer_id), "segment"]
        if match.empty:
            raise KeyError(customer_id)
        return str(match.iloc[0])

    def to_dict(self, *, max_customers_per_segment: int | None = 50) -> dict[str, Any]:
        """A JSON-ready dict: as-of date, totals, segment summaries and customer ids per segment.

        Args:
            max_customers_per_segment: Cap on the ids listed per segment (highest spend first);
                `None` lists all.

        Returns:
            The result as plain Python types.
        """
        lists = {
            name: ids if max_customers_per_segment is None else ids[:max_customers_per_segment]
            for name, ids in self.segment_customers.items()
        }
        return {
            "as_of": self.as_of.isoformat(),
            "total_customers": self.total_customers,
            "total_revenue": self.total_revenue,
            "segments": [vars(s).copy() for s in self.segments],
            "segment_customers": lists,
            "scoring": "quintiles of rank (ties share the lower score); FM = round-half-up mean of F and M",
        }


def rfm_segments(
    df: pd.DataFrame,
    as_of: str | dt.date | pd.Timestamp | None = None,
    *,
    customer_col: str = "customer_id",
    date_col: str = "order_date",
    amount_col: str = "amount",
    order_col: str | None = None,
) -> RFMResult:
    """Score customers on recency, frequency and monetary value and assign the named segments.

    Args:
        df: One row per transaction.
        as_of: Date recency is measured to; the day after the last transaction when `None`.
            Transactions after it are ignored.
        customer_col: Column with the customer id.
        date_col: Column with the transaction date.
        amount_col: Column with the amount.
        order_col: Column with an order id; frequency counts distinct orders when given, rows otherwise.

    Returns:
        The scores per customer and the totals per segment.

    Raises:
        AnalyticsInputError: on missing columns, bad dates or amounts, or no transaction before `as_of`.
    """
    require_columns(df, [customer_col, date_col, amount_col, order_col])
    if df.empty:
        raise AnalyticsInputError("the transactions are empty")
    dates = to_datetime_column(df[date_col], column=date_col)
    days = dates.to_numpy().astype("datetime64[D]").astype(np.int64)
    amounts = to_amount_column(df[amount_col], column=amount_col)
    if as_of is None:
        as_of_day = int(days.max()) + 1
    else:
        parsed = pd.Timestamp(as_of)
        as_of_day = int(np.datetime64(parsed.date(), "D").astype(np.int64))
    keep = days <= as_of_day
    if not keep.any():
        raise AnalyticsInputError(f"no transaction on or before {as_of}")
    ids = df[customer_col].astype(str).to_numpy()[keep]
    frame = pd.DataFrame({"customer_id": ids, "day": days[keep], "amount": amounts[keep]})
    grouped = frame.groupby("customer_id", sort=True)
    last_day = grouped["day"].max()
    if order_col is not None:
        orders = df.loc[keep, order_col].astype(str).to_numpy()
        frequency = pd.Series(orders).groupby(ids).nunique().reindex(last_day.index)
    else:
        frequency = grouped.size()
    monetary = grouped["amount"].sum()
    customers = pd.DataFrame(
        {
            "customer_id": last_day.index.to_numpy(),
            "recency_days": (as_of_day - last_day).to_numpy(dtype=np.int64),
            "frequency": frequency.to_numpy(dtype=np.int64),
            "monetary": monetary.to_numpy(dtype="float64"),
        }
    )
    customers["r"] = quintile_scores(customers["recency_days"].to_numpy(), higher_is_better=False)
    customers["f"] = quintile_scores(customers["frequency"].to_numpy())
    customers["m"] = quintile_scores(customers["monetary"].to_numpy())
    customers["fm"] = (customers["f"] + customers["m"] + 1) // 2
    customers["rfm"] = customers["r"].astype(str) + customers["f"].astype(str) + customers["m"].astype(str)
    lookup = np.array([[SEGMENT_GRID[r][fm - 1] for fm in range(1, 6)] for r in range(1, 6)], dtype=object)
    customers["segment"] = lookup[customers["r"].to_numpy() - 1, customers["fm"].to_numpy() - 1]
    order = {name: i for i, name in enumerate(SEGMENTS)}
    customers["_order"] = customers["segment"].map(order)
    customers = (
        customers.sort_values(["_order", "monetary", "customer_id"], ascending=[True, False, True])
        .drop(columns="_order")
        .reset_index(drop=True)
    )
    total_customers = len(customers)
    total_revenue = float(customers["monetary"].sum())
    summaries: list[SegmentSummary] = []
    segment_customers: dict[str, list[str]] = {}
    for name, group in customers.groupby("segment", sort=False):
        revenue = float(group["monetary"].sum())
        summaries.append(
            SegmentSummary(
                segment=str(name),
                customers=len(group),
                share=len(group) / total_customers,
                revenue=revenue,
                revenue_share=revenue / total_revenue if total_revenue else 0.0,
                avg_recency_days=float(group["recency_days"].mean()),
                avg_frequency=float(group["frequency"].mean()),
                avg_monetary=float(group["monetary"].mean()),
                action=SEGMENT_ACTIONS[str(name)],
            )
        )
        segment_customers[str(name)] = group["customer_id"].tolist()
    return RFMResult(
        as_of=dt.date(1970, 1, 1) + dt.timedelta(days=as_of_day),
        customers=customers,
        segments=summaries,
        total_customers=total_customers,
        total_revenue=total_revenue,
        segment_customers=segment_customers,
    )
