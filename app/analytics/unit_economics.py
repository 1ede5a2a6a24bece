"""Unit economics from the business database, shown the way a finance analyst would: formula, inputs, steps.

Every metric takes a `Period` (see `app.data.periods`) and, where it makes sense, a channel or a segment, and
returns a `MetricResult` in the shape of the Finance prompt's `metric_calculation` format: formula, inputs with
units, the arithmetic with the actual numbers, the result with its unit, a benchmark comparison, a status
(`healthy` / `watch` / `concerning`) and a recommendation when concerning.

Definitions and assumptions (module constants below document the numbers):
- **New customers** are accounts whose `signup_date` falls in the period (channel = `acquisition_channel`,
  segment = `customers.segment`).
- **Marketing spend** is the sum of `channel_performance.spend`. For a segment, spend of campaigns targeting
  that segment counts fully and spend of untargeted campaigns (`segment = 'all'` or none) is allocated by the
  segment's share of new customers.
- **Revenue** = subscription revenue (MRR pro-rated by active days, see `app.data.queries`) + hardware orders.
- **Gross margin**: subscription revenue at `SOFTWARE_GROSS_MARGIN`; hardware at catalogue unit costs from the
  order lines; orders without lines (imported) at `HARDWARE_GROSS_MARGIN_DEFAULT`.
- **Active accounts** on a day are customers with MRR > 0 that day; **churn** is the share of the accounts
  active the day before the period that have no MRR at its end, converted to a monthly rate.
- **LTV** = ARPA (monthly revenue per average active account) × gross margin % × expected lifetime
  (1 / monthly churn, capped at `MAX_LIFETIME_MONTHS`).
- **Burn and runway** come from `finance_ledger` (closed months): net burn = costs − revenue per month;
  runway = cash at the end of the last closed month / average net burn of the last `RUNWAY_BURN_MONTHS`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from app.data.catalog import (
    CHANNELS,
    HARDWARE_GROSS_MARGIN_DEFAULT,
    SOFTWARE_GROSS_MARGIN,
    check_channel,
    check_segment,
)
from app.data.periods import Period, add_months
from app.data.queries import data_bounds, subscription_revenue_by_month
from app.data.schema import (
    campaigns,
    channel_performance,
    customers,
    finance_ledger,
    order_items,
    orders,
    products,
    subscriptions,
)

Status = Literal["healthy", "watch", "concerning"]
"""How a metric compares with its benchmark."""

MAX_LIFETIME_MONTHS = 60.0
"""Cap on the expected customer lifetime used by LTV (five years), so a period without churn stays finite."""

RUNWAY_BURN_MONTHS = 3
"""Runway divides cash by the average net burn of this many most recent closed months."""

LTV_CAC_TARGET = 3.0
"""LTV:CAC of 3 or more is the common SaaS benchmark (below 1 loses money on each customer)."""

PAYBACK_TARGET_MONTHS = 12.0
"""CAC payback within 12 months is healthy for SMB/mid-market SaaS; beyond 18 is concerning."""

ROAS_TARGET = 3.0
"""A 3:1 return on ad spend is a common target for paid acquisition; below 1 the spend does not pay back."""

NRR_TARGET_PCT = 100.0
"""Net revenue retention of 100% or more (annualised) means expansion outweighs churn and contraction."""

GROSS_MARGIN_TARGET_PCT = 60.0
"""Blended gross margin target for hardware-enabled SaaS (software alone is typically 75-80%)."""

RUNWAY_TARGET_MONTHS = 18.0
"""At least 18 months of runway is healthy; under 12 months is concerning."""

BURN_MULTIPLE_TARGET = 1.5
"""Net burn / net new ARR of 1.5 or less is efficient growth; above 2.5 is concerning."""

MONTHLY_CHURN_TARGET_PCT = 2.0
"""Monthly logo churn under 2% is healthy for SMB/mid-market SaaS; above 4% is concerning."""


class MetricUnavailableError(ValueError):
    """A metric cannot be computed for this period and scope (e.g. no new customers, no ledger months)."""


@dataclass(frozen=True)
class Quantity:
    """A number with its unit."""

    value: float
    """The value."""
    unit: str
    """`USD`, `customers`, `months`, `%`, `ratio`, ..."""

    def to_dict(self) -> dict[str, Any]:
        """`{"value": ..., "unit": ...}` with non-finite values as None."""
        return {"value": _finite(self.value), "unit": self.unit}


@dataclass
class MetricResult:
    """One computed metric in the `metric_calculation` format."""

    metric: str
    """Metric name, e.g. `CAC`."""
    period: str
    """Period label, e.g. `Q3 2025`."""
    start: date
    """First day of the period."""
    end: date
    """Last day of the period."""
    scope: str
    """`all customers`, `channel paid_search` or `segment smb`."""
    formula: str
    """The formula in words."""
    inputs: dict[str, Quantity]
    """The numbers the formula uses."""
    steps: list[str]
    """The arithmetic with the actual numbers, in order."""
    result: float
    """The value (may be `inf`, e.g. runway when not burning cash)."""
    unit: str
    """Unit of the result."""
    benchmark: str
    """How the result compares with a typical SaaS benchmark."""
    status: Status
    """`healthy`, `watch` or `concerning`."""
    recommendation: str | None = None
    """What to do, when the status is not healthy."""
    assumptions: list[str] = field(default_factory=list)
    """Definitions and assumptions behind the numbers."""
    breakdown: list[dict[str, Any]] = field(default_factory=list)
    """Optional detail rows (e.g. per campaign for budget variance)."""

    def formatted(self) -> str:
        """The result with its unit, e.g. `$2,275.71` or `104.2%`."""
        return _fmt(self.result, self.unit)

    def summary(self) -> str:
        """One line: `CAC for Q3 2025 (all customers): $2,275.71 per customer (healthy)`."""
        when = self.period if self.period.startswith("as of ") else f"for {self.period}"
        return f"{self.metric} {when} ({self.scope}): {self.formatted()} ({self.status})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (non-finite numbers become None, with `result_text` saying why)."""
        return {
            "metric": self.metric,
            "period": self.period,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "scope": self.scope,
            "formula": self.formula,
            "inputs": {k: v.to_dict() for k, v in self.inputs.items()},
            "steps": list(self.steps),
            "result": _finite(self.result),
            "result_text": self.formatted(),
            "unit": self.unit,
            "benchmark": self.benchmark,
            "status": self.status,
            "recommendation": self.recommendation,
            "assumptions": list(self.assumptions),
            "breakdown": [
                {k: _finite(v) if isinstance(v, float) else v for k, v in row.items()} for row in self.breakdown
            ],
        }


# ----------------------------------------------------------------------------- formatting
def format_value(value: float, unit: str) -> str:
    """A metric value with its unit as the answers write it (`$2,275.71 per customer`, `104.2%`)."""
    return _fmt(value, unit)


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _previous_label(prev: Period) -> str:
    """How a benchmark names the period it compares with.

    "Q2 2026 (2026-04-01 to 2026-06-30)", or "Previous 30 days (…)" for a window that is not whole months.
    """
    if prev.label.startswith("previous "):
        return prev.label[:1].upper() + prev.label[1:]
    return f"{prev.label} ({prev.start} to {prev.end})"


def _months_label(first: date, last: date, n: int) -> str:
    """The label of `n` closed ledger months: "October 2026", or "Aug–Oct 2026 (3 closed months)"."""
    if n == 1:
        return f"{first:%B %Y}"
    span = f"{first:%b}–{last:%b %Y}" if first.year == last.year else f"{first:%b %Y}–{last:%b %Y}"
    return f"{span} ({n} closed months)"


def _as_of(period: Period) -> str:
    """The label of a figure taken on one day ("as of 2026-11-26"), else the period's own label."""
    return f"as of {period.end}" if period.start == period.end else period.label


def _usd(x: float) -> str:
    return f"-${abs(x):,.2f}" if x < 0 else f"${x:,.2f}"


def _fmt(value: float, unit: str) -> str:
    if not math.isfinite(value):
        return "not limited (no net burn)" if unit == "months" else "n/a"
    if unit == "USD":
        return _usd(value)
    if unit.startswith("USD/"):
        return f"{_usd(value)} per {unit.split('/', 1)[1]}"
    if unit == "%":
        return f"{value:,.1f}%"
    if unit == "ratio":
        return f"{value:,.2f}:1"
    if unit == "x":
        return f"{value:,.2f}x"
    return f"{value:,.1f} {unit}"


_NO_COMPARISON = (
    "No earlier figure to compare with, so this says nothing about a rise or a fall: compare a period the data "
    "covers in full with the one before it."
)
"""The recommendation of a metric whose status has no comparison behind it ("watch" only for lack of data)."""


def _recommendation(change: float | None, status: str, advice: str) -> str | None:
    """A metric's recommendation: none without a comparison to judge (it says so), none when healthy, else `advice`."""
    if change is None:
        return _NO_COMPARISON
    return None if status == "healthy" else advice


def _change(current: float, previous: float) -> float | None:
    if previous == 0 or not math.isfinite(previous):
        return None
    return (current - previous) / abs(previous) * 100.0


# ----------------------------------------------------------------------------- scope
@dataclass(frozen=True)
class _Scope:
    channel: str | None
    segment: str | None

    @classmethod
    def of(cls, channel: str | None, segment: str | None) -> _Scope:
        if channel and segment:
            raise ValueError("give a channel or a segment, not both")
        return cls(check_channel(channel) if channel else None, check_segment(segment) if segment else None)

    @property
    def label(self) -> str:
        if self.channel:
            return f"channel {self.channel}"
        if self.segment:
            return f"segment {self.segment}"
        return "all customers"

    def customer_filter(self) -> list[sa.ColumnElement[bool]]:
        if self.channel:
            return [customers.c.acquisition_channel == self.channel]
        if self.segment:
            return [customers.c.segment == self.segment]
        return []


def _scalar(engine: Engine, stmt: sa.Select[Any]) -> Any:
    with engine.connect() as conn:
        return conn.execute(stmt).scalar_one()


# ----------------------------------------------------------------------------- building blocks
def _new_customers(engine: Engine, period: Period, scope: _Scope) -> int:
    stmt = (
        sa.select(sa.func.count())
        .select_from(customers)
        .where(customers.c.signup_date >= period.start, customers.c.signup_date <= period.end, *scope.customer_filter())
    )
    return int(_scalar(engine, stmt))


def _channel_spend(engine: Engine, period: Period, channel: str | None) -> float:
    t = channel_performance
    stmt = sa.select(sa.func.coalesce(sa.func.sum(t.c.spend), 0.0)).where(
        t.c.date >= period.start, t.c.date <= period.end
    )
    if channel:
        stmt = stmt.where(t.c.channel == channel)
    return float(_scalar(engine, stmt))


def _spend_rows(engine: Engine, period: Period) -> int:
    t = channel_performance
    return int(
        _scalar(
            engine, sa.select(sa.func.count()).select_from(t).where(t.c.date >= period.start, t.c.date <= period.end)
        )
    )


@dataclass
class _Spend:
    total: float
    steps: list[str]


def _spend(engine: Engine, period: Period, scope: _Scope) -> _Spend:
    if not scope.segment:
        total = _channel_spend(engine, period, scope.channel)
        where = f"channel {scope.channel}" if scope.channel else "all channels"
        return _Spend(total, [f"Marketing spend ({where}, {period.label}) = sum of daily spend = {_usd(total)}"])
    t = channel_performance
    base = sa.select(sa.func.coalesce(sa.func.sum(t.c.spend), 0.0)).select_from(
        t.outerjoin(campaigns, campaigns.c.id == t.c.campaign_id)
    )
    base = base.where(t.c.date >= period.start, t.c.date <= period.end)
    direct = float(_scalar(engine, base.where(campaigns.c.segment == scope.segment)))
    untargeted = float(_scalar(engine, base.where(sa.or_(campaigns.c.segment.is_(None), campaigns.c.segment == "all"))))
    n_seg = _new_customers(engine, period, scope)
    n_all = _new_customers(engine, period, _Scope(None, None))
    share = n_seg / n_all if n_all else 0.0
    allocated = untargeted * share
    total = direct + allocated
    return _Spend(
        total,
        [
            f"Spend of campaigns targeting {scope.segment}: {_usd(direct)}",
            f"Untargeted spend {_usd(untargeted)} × segment share of new customers ({n_seg}/{n_all} = "
            f"{share:.1%}) = {_usd(allocated)}",
            f"Marketing spend allocated to {scope.segment} = {_usd(direct)} + {_usd(allocated)} = {_usd(total)}",
        ],
    )


def _subscription_revenue(engine: Engine, period: Period, scope: _Scope) -> float:
    stmt = (
        sa.select(subscriptions.c.start_date, subscriptions.c.end_date, subscriptions.c.mrr)
        .select_from(subscriptions.join(customers, customers.c.id == subscriptions.c.customer_id))
        .where(subscriptions.c.start_date <= period.end)
        .where(sa.or_(subscriptions.c.end_date.is_(None), subscriptions.c.end_date > period.start))
        .where(*scope.customer_filter())
    )
    with engine.connect() as conn:
        result = conn.execute(stmt)
        subs = pd.DataFrame(result.fetchall(), columns=["start_date", "end_date", "mrr"])
    if subs.empty:
        return 0.0
    subs["start_date"] = pd.to_datetime(subs["start_date"]).clip(lower=pd.Timestamp(period.start))
    return float(subscription_revenue_by_month(subs, period.start, period.end).sum())


@dataclass
class _Hardware:
    revenue: float
    orders: int
    itemised_revenue: float
    itemised_cost: float

    @property
    def unitemised_revenue(self) -> float:
        return self.revenue - self.itemised_revenue

    @property
    def gross_profit(self) -> float:
        return (self.itemised_revenue - self.itemised_cost) + self.unitemised_revenue * HARDWARE_GROSS_MARGIN_DEFAULT


def _hardware(engine: Engine, period: Period, scope: _Scope) -> _Hardware:
    joined = orders.join(customers, customers.c.id == orders.c.customer_id)
    in_period = [orders.c.order_date >= period.start, orders.c.order_date <= period.end, *scope.customer_filter()]
    with engine.connect() as conn:
        revenue, count = conn.execute(
            sa.select(sa.func.coalesce(sa.func.sum(orders.c.amount), 0.0), sa.func.count())
            .select_from(joined)
            .where(*in_period)
        ).one()
        item_rev, item_cost = conn.execute(
            sa.select(
                sa.func.coalesce(sa.func.sum(order_items.c.amount), 0.0),
                sa.func.coalesce(
                    sa.func.sum(order_items.c.quantity * sa.func.coalesce(products.c.unit_cost, 0.0)), 0.0
                ),
            )
            .select_from(
                joined.join(order_items, order_items.c.order_id == orders.c.id).join(
                    products, products.c.sku == order_items.c.sku
                )
            )
            .where(*in_period)
        ).one()
    return _Hardware(float(revenue), int(count), float(item_rev), float(item_cost))


def _mrr_on(engine: Engine, day: date, scope: _Scope) -> pd.Series:
    stmt = (
        sa.select(subscriptions.c.customer_id, sa.func.sum(subscriptions.c.mrr))
        .select_from(subscriptions.join(customers, customers.c.id == subscriptions.c.customer_id))
        .where(subscriptions.c.start_date <= day)
        .where(sa.or_(subscriptions.c.end_date.is_(None), subscriptions.c.end_date > day))
        .where(*scope.customer_filter())
        .group_by(subscriptions.c.customer_id)
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    series = pd.Series({str(cid): float(mrr) for cid, mrr in rows}, dtype=float)
    return series[series > 0]


@dataclass
class _Margin:
    subscription_revenue: float
    hardware: _Hardware

    @property
    def revenue(self) -> float:
        return self.subscription_revenue + self.hardware.revenue

    @property
    def gross_profit(self) -> float:
        return self.subscription_revenue * SOFTWARE_GROSS_MARGIN + self.hardware.gross_profit

    @property
    def pct(self) -> float:
        return self.gross_profit / self.revenue * 100.0 if self.revenue else 0.0


def _margin(engine: Engine, period: Period, scope: _Scope) -> _Margin:
    return _Margin(_subscription_revenue(engine, period, scope), _hardware(engine, period, scope))


@dataclass
class _Cac:
    spend: _Spend
    new_customers: int

    @property
    def value(self) -> float:
        return self.spend.total / self.new_customers


def _cac_parts(engine: Engine, period: Period, scope: _Scope) -> _Cac:
    if _spend_rows(engine, period) == 0:
        raise MetricUnavailableError(f"CAC needs marketing spend: no channel_performance rows in {period.label}")
    spend = _spend(engine, period, scope)
    n = _new_customers(engine, period, scope)
    if n == 0:
        raise MetricUnavailableError(f"CAC is undefined for {period.label} ({scope.label}): no new customers")
    return _Cac(spend, n)


@dataclass
class _Ltv:
    margin: _Margin
    active_start: int
    active_end: int
    churned: int
    months: float

    @property
    def avg_active(self) -> float:
        return (self.active_start + self.active_end) / 2.0

    @property
    def arpa(self) -> float:
        return self.margin.revenue / self.avg_active / self.months

    @property
    def period_churn(self) -> float:
        return self.churned / self.active_start

    @property
    def monthly_churn(self) -> float:
        return 1.0 - (1.0 - self.period_churn) ** (1.0 / self.months)

    @property
    def lifetime(self) -> float:
        return MAX_LIFETIME_MONTHS if self.monthly_churn <= 0 else min(1.0 / self.monthly_churn, MAX_LIFETIME_MONTHS)

    @property
    def gm(self) -> float:
        return self.margin.pct / 100.0

    @property
    def value(self) -> float:
        return self.arpa * self.gm * self.lifetime

    def steps(self) -> list[str]:
        m = self.margin
        capped = " (capped)" if self.lifetime >= MAX_LIFETIME_MONTHS else ""
        return [
            f"Revenue = subscriptions {_usd(m.subscription_revenue)} + hardware {_usd(m.hardware.revenue)} = "
            f"{_usd(m.revenue)}",
            f"Average active accounts = ({self.active_start} + {self.active_end}) / 2 = {self.avg_active:,.1f}",
            f"ARPA = {_usd(m.revenue)} / {self.avg_active:,.1f} / {self.months:.2f} months = "
            f"{_usd(self.arpa)} per month",
            f"Gross margin = gross profit {_usd(m.gross_profit)} / revenue {_usd(m.revenue)} = {m.pct:.1f}%",
            f"Churn = {self.churned} of {self.active_start} accounts active at the start = "
            f"{self.period_churn:.2%} over {self.months:.2f} months → monthly churn = "
            f"1 − (1 − {self.period_churn:.4f})^(1/{self.months:.2f}) = "
            f"{self.monthly_churn:.2%}",
            f"Expected lifetime = 1 / {self.monthly_churn:.4f} = {self.lifetime:.1f} months{capped}",
            f"LTV = {_usd(self.arpa)} × {self.gm:.3f} × {self.lifetime:.1f} = {_usd(self.value)}",
        ]


def _ltv_parts(engine: Engine, period: Period, scope: _Scope) -> _Ltv:
    before = _mrr_on(engine, period.start - timedelta(days=1), scope)
    after = _mrr_on(engine, period.end, scope)
    if before.empty:
        raise MetricUnavailableError(
            f"LTV needs subscribed accounts before {period.label} ({scope.label}); none had MRR on "
            f"{period.start - timedelta(days=1)}"
        )
    churned = int((~before.index.isin(after.index)).sum())
    margin = _margin(engine, period, scope)
    return _Ltv(margin, len(before), len(after), churned, period.months)


def _status_high(value: float, good: float, bad: float) -> Status:
    """Higher is better: ≥ good healthy, ≥ bad watch, else concerning."""
    if value >= good:
        return "healthy"
    return "watch" if value >= bad else "concerning"


def _status_low(value: float, good: float, bad: float) -> Status:
    """Lower is better: ≤ good healthy, ≤ bad watch, else concerning."""
    if value <= good:
        return "healthy"
    return "watch" if value <= bad else "concerning"


def _base_assumptions() -> list[str]:
    return [
        f"Subscription gross margin {SOFTWARE_GROSS_MARGIN:.0%}; hardware at catalogue unit costs "
        f"({HARDWARE_GROSS_MARGIN_DEFAULT:.0%} margin assumed for imported orders without line items)",
    ]


# ----------------------------------------------------------------------------- metrics
def cac(engine: Engine, period: Period, channel: str | None = None, segment: str | None = None) -> MetricResult:
    """Customer acquisition cost: marketing spend / new customers, compared with the previous period.

    Raises:
        MetricUnavailableError: no spend data or no new customers in the period.
        ValueError: unknown channel or segment, or both given.
    """
    scope = _Scope.of(channel, segment)
    parts = _cac_parts(engine, period, scope)
    value = parts.value
    prev = period.previous()
    try:
        prev_value: float | None = _cac_parts(engine, prev, scope).value
    except MetricUnavailableError:
        prev_value = None
    change = _change(value, prev_value) if prev_value is not None else None
    if change is None:
        status: Status = "watch"
        benchmark = "No previous period to compare with; judge CAC through LTV:CAC (≥ 3) and payback (≤ 12 months)."
    else:
        status = _status_low(change, 10.0, 25.0)
        benchmark = (
            f"{_previous_label(prev)}: {_usd(prev_value or 0.0)} per customer, "
            f"so CAC changed {change:+.1f}%. Judge CAC through LTV:CAC (≥ 3) and payback (≤ 12 months); "
            "a rise above 10% needs watching, above 25% is concerning."
        )
    recommendation = _recommendation(
        change,
        status,
        "CAC is rising: shift budget from the highest-CAC channels (see CAC by channel) to the most efficient "
        "ones, and check conversion rates for a funnel leak.",
    )
    return MetricResult(
        metric="CAC",
        period=period.label,
        start=period.start,
        end=period.end,
        scope=scope.label,
        formula="CAC = marketing spend / new customers acquired",
        inputs={
            "marketing_spend": Quantity(parts.spend.total, "USD"),
            "new_customers": Quantity(float(parts.new_customers), "customers"),
        },
        steps=[
            *parts.spend.steps,
            f"New customers (signups {period.start} to {period.end}) = {parts.new_customers:,}",
            f"CAC = {_usd(parts.spend.total)} / {parts.new_customers:,} = {_usd(value)} per customer",
        ],
        result=value,
        unit="USD/customer",
        benchmark=benchmark,
        status=status,
        recommendation=recommendation,
        assumptions=["New customers are accounts whose signup date is in the period"],
    )


def roas(engine: Engine, period: Period, channel: str | None = None, segment: str | None = None) -> MetricResult:
    """Return on ad spend: attributed revenue / spend, from the daily channel table.

    Raises:
        MetricUnavailableError: no spend in the period.
        ValueError: a segment was given (attributed revenue is recorded per channel), or an unknown channel.
    """
    if segment:
        raise ValueError("ROAS is recorded per channel, not per segment: give a channel or neither")
    scope = _Scope.of(channel, None)
    t = channel_performance
    stmt = sa.select(
        sa.func.coalesce(sa.func.sum(t.c.attributed_revenue), 0.0), sa.func.coalesce(sa.func.sum(t.c.spend), 0.0)
    ).where(t.c.date >= period.start, t.c.date <= period.end)
    if scope.channel:
        stmt = stmt.where(t.c.channel == scope.channel)
    with engine.connect() as conn:
        revenue, spend = (float(v) for v in conn.execute(stmt).one())
    if spend <= 0:
        raise MetricUnavailableError(f"ROAS is undefined for {period.label} ({scope.label}): no marketing spend")
    value = revenue / spend
    status = _status_high(value, ROAS_TARGET, 1.0)
    return MetricResult(
        metric="ROAS",
        period=period.label,
        start=period.start,
        end=period.end,
        scope=scope.label,
        formula="ROAS = attributed revenue / marketing spend",
        inputs={"attributed_revenue": Quantity(revenue, "USD"), "marketing_spend": Quantity(spend, "USD")},
        steps=[
            f"Attributed revenue ({scope.label}, {period.label}) = {_usd(revenue)}",
            f"Marketing spend = {_usd(spend)}",
            f"ROAS = {_usd(revenue)} / {_usd(spend)} = {value:.2f}",
        ],
        result=value,
        unit="x",
        benchmark=f"A {ROAS_TARGET:.0f}:1 ROAS is a common target for paid acquisition; below 1 the spend does not "
        f"pay back. This is {value:.2f}:1.",
        status=status,
        recommendation=None
        if status == "healthy"
        else "Cut or rework the lowest-ROAS campaigns and move budget to channels above 3:1.",
        assumptions=["Attributed revenue = first order + first 12 months of subscription of the customers acquired"],
    )


def ltv(engine: Engine, period: Period, channel: str | None = None, segment: str | None = None) -> MetricResult:
    """Customer lifetime value: ARPA × gross margin × expected lifetime (from the period's churn).

    Raises:
        MetricUnavailableError: no subscribed accounts at the start of the period.
        ValueError: unknown channel or segment, or both given.
    """
    scope = _Scope.of(channel, segment)
    parts = _ltv_parts(engine, period, scope)
    value = parts.value
    try:
        cac_value: float | None = _cac_parts(engine, period, scope).value
    except MetricUnavailableError:
        cac_value = None
    if cac_value:
        ratio = value / cac_value
        status = _status_high(ratio, LTV_CAC_TARGET, 1.0)
        benchmark = (
            f"LTV should be at least 3× CAC; CAC for the same scope is {_usd(cac_value)}, so LTV is {ratio:.1f}×."
        )
    else:
        status = _status_low(parts.monthly_churn * 100, 2.0, 4.0)
        benchmark = "No CAC for this scope; monthly churn under 2% is healthy for SMB/mid-market SaaS."
    return MetricResult(
        metric="LTV",
        period=period.label,
        start=period.start,
        end=period.end,
        scope=scope.label,
        formula="LTV = ARPA (monthly revenue per account) × gross margin % × expected lifetime (1 / monthly churn)",
        inputs={
            "revenue": Quantity(parts.margin.revenue, "USD"),
            "active_accounts_start": Quantity(float(parts.active_start), "accounts"),
            "active_accounts_end": Quantity(float(parts.active_end), "accounts"),
            "churned_accounts": Quantity(float(parts.churned), "accounts"),
            "months": Quantity(parts.months, "months"),
            "gross_margin": Quantity(parts.margin.pct, "%"),
        },
        steps=parts.steps(),
        result=value,
        unit="USD/customer",
        benchmark=benchmark,
        status=status,
        recommendation=None
        if status == "healthy"
        else "Raise LTV by reducing churn (onboarding, health scores for at-risk accounts) and by expansion offers.",
        assumptions=[
            *_base_assumptions(),
            f"Lifetime capped at {MAX_LIFETIME_MONTHS:.0f} months",
            "Active accounts have MRR > 0; churned = active the day before the period, no MRR at its end",
        ],
    )


def ltv_cac(engine: Engine, period: Period, channel: str | None = None, segment: str | None = None) -> MetricResult:
    """LTV:CAC ratio for the same period and scope.

    Raises:
        MetricUnavailableError: LTV or CAC cannot be computed.
        ValueError: unknown channel or segment, or both given.
    """
    scope = _Scope.of(channel, segment)
    lt = _ltv_parts(engine, period, scope)
    ca = _cac_parts(engine, period, scope)
    value = lt.value / ca.value
    status = _status_high(value, LTV_CAC_TARGET, 1.0)
    recommendation = None
    if status != "healthy":
        recommendation = (
            "Each customer returns less than 3× what it costs to acquire: lower CAC in the weakest channels and "
            "raise LTV through retention and expansion."
        )
    return MetricResult(
        metric="LTV:CAC",
        period=period.label,
        start=period.start,
        end=period.end,
        scope=scope.label,
        formula="LTV:CAC = LTV / CAC",
        inputs={"ltv": Quantity(lt.value, "USD/customer"), "cac": Quantity(ca.value, "USD/customer")},
        steps=[
            *lt.steps(),
            *ca.spend.steps,
            f"CAC = {_usd(ca.spend.total)} / {ca.new_customers:,} new customers = {_usd(ca.value)}",
            f"LTV:CAC = {_usd(lt.value)} / {_usd(ca.value)} = {value:.2f}",
        ],
        result=value,
        unit="ratio",
        benchmark=f"SaaS benchmark: ≥ {LTV_CAC_TARGET:.0f}:1 healthy, below 1:1 loses money per customer "
        f"(well above 5:1 can mean under-investing in growth). This is {value:.2f}:1.",
        status=status,
        recommendation=recommendation,
        assumptions=_base_assumptions(),
    )


def payback(engine: Engine, period: Period, channel: str | None = None, segment: str | None = None) -> MetricResult:
    """CAC payback in months: CAC / (ARPA × gross margin %).

    Raises:
        MetricUnavailableError: CAC or ARPA cannot be computed.
        ValueError: unknown channel or segment, or both given.
    """
    scope = _Scope.of(channel, segment)
    ca = _cac_parts(engine, period, scope)
    lt = _ltv_parts(engine, period, scope)
    monthly_gp = lt.arpa * lt.gm
    if monthly_gp <= 0:
        raise MetricUnavailableError(f"payback is undefined for {period.label}: no gross profit per account")
    value = ca.value / monthly_gp
    status = _status_low(value, PAYBACK_TARGET_MONTHS, 18.0)
    return MetricResult(
        metric="CAC payback",
        period=period.label,
        start=period.start,
        end=period.end,
        scope=scope.label,
        formula="Payback (months) = CAC / (ARPA × gross margin %)",
        inputs={
            "cac": Quantity(ca.value, "USD/customer"),
            "arpa": Quantity(lt.arpa, "USD/month"),
            "gross_margin": Quantity(lt.margin.pct, "%"),
        },
        steps=[
            *ca.spend.steps,
            f"CAC = {_usd(ca.spend.total)} / {ca.new_customers:,} = {_usd(ca.value)}",
            *lt.steps()[:4],
            f"Monthly gross profit per account = {_usd(lt.arpa)} × {lt.gm:.3f} = {_usd(monthly_gp)}",
            f"Payback = {_usd(ca.value)} / {_usd(monthly_gp)} = {value:.1f} months",
        ],
        result=value,
        unit="months",
        benchmark=f"≤ {PAYBACK_TARGET_MONTHS:.0f} months is healthy for SMB/mid-market SaaS, over 18 is concerning. "
        f"This is {value:.1f} months.",
        status=status,
        recommendation=None
        if status == "healthy"
        else "Shorten payback with annual prepayment, hardware bundles paid upfront, or lower-CAC channels.",
        assumptions=_base_assumptions(),
    )


def gross_margin(
    engine: Engine, period: Period, channel: str | None = None, segment: str | None = None
) -> MetricResult:
    """Blended gross margin %: (revenue − cost of goods) / revenue.

    Raises:
        MetricUnavailableError: no revenue in the period.
        ValueError: unknown channel or segment, or both given.
    """
    scope = _Scope.of(channel, segment)
    m = _margin(engine, period, scope)
    if m.revenue <= 0:
        raise MetricUnavailableError(f"gross margin is undefined for {period.label} ({scope.label}): no revenue")
    hw = m.hardware
    steps = [
        f"Subscription gross profit = {_usd(m.subscription_revenue)} × {SOFTWARE_GROSS_MARGIN:.0%} = "
        f"{_usd(m.subscription_revenue * SOFTWARE_GROSS_MARGIN)}",
        f"Hardware gross profit = revenue {_usd(hw.itemised_revenue)} − unit costs {_usd(hw.itemised_cost)} = "
        f"{_usd(hw.itemised_revenue - hw.itemised_cost)}",
    ]
    if hw.unitemised_revenue > 0.005:
        steps.append(
            f"Orders without line items {_usd(hw.unitemised_revenue)} × {HARDWARE_GROSS_MARGIN_DEFAULT:.0%} = "
            f"{_usd(hw.unitemised_revenue * HARDWARE_GROSS_MARGIN_DEFAULT)}"
        )
    steps.append(f"Gross margin = {_usd(m.gross_profit)} / {_usd(m.revenue)} = {m.pct:.1f}%")
    status = _status_high(m.pct, GROSS_MARGIN_TARGET_PCT, 45.0)
    return MetricResult(
        metric="Gross margin",
        period=period.label,
        start=period.start,
        end=period.end,
        scope=scope.label,
        formula="Gross margin % = (revenue − cost of goods sold) / revenue",
        inputs={
            "subscription_revenue": Quantity(m.subscription_revenue, "USD"),
            "hardware_revenue": Quantity(hw.revenue, "USD"),
            "hardware_cogs": Quantity(hw.itemised_cost, "USD"),
            "gross_profit": Quantity(m.gross_profit, "USD"),
        },
        steps=steps,
        result=m.pct,
        unit="%",
        benchmark=f"Hardware-enabled SaaS: ≥ {GROSS_MARGIN_TARGET_PCT:.0f}% blended is healthy (software alone "
        f"75–80%, hardware 30–55%); below 45% is concerning. This is {m.pct:.1f}%.",
        status=status,
        recommendation=None
        if status == "healthy"
        else "Raise the software share of revenue (attach Growth/Enterprise plans to hardware deals) and review "
        "hardware pricing and discounts.",
        assumptions=_base_assumptions(),
    )


def aov(engine: Engine, period: Period, channel: str | None = None, segment: str | None = None) -> MetricResult:
    """Average order value of hardware orders, compared with the previous period.

    Raises:
        MetricUnavailableError: no orders in the period.
        ValueError: unknown channel or segment, or both given.
    """
    scope = _Scope.of(channel, segment)
    hw = _hardware(engine, period, scope)
    if hw.orders == 0:
        raise MetricUnavailableError(f"AOV is undefined for {period.label} ({scope.label}): no orders")
    value = hw.revenue / hw.orders
    prev = period.previous()
    prev_hw = _hardware(engine, prev, scope)
    change = _change(value, prev_hw.revenue / prev_hw.orders) if prev_hw.orders else None
    if change is None:
        status: Status = "watch"
        benchmark = "No orders in the previous period to compare with."
    else:
        status = _status_high(change, -5.0, -15.0)
        benchmark = (
            f"{_previous_label(prev)}: {_usd(prev_hw.revenue / prev_hw.orders)} over {prev_hw.orders:,} orders; "
            f"AOV changed {change:+.1f}% (a drop of more than 5% needs watching, more than 15% is concerning)."
        )
    return MetricResult(
        metric="AOV",
        period=period.label,
        start=period.start,
        end=period.end,
        scope=scope.label,
        formula="AOV = hardware revenue / number of orders",
        inputs={"hardware_revenue": Quantity(hw.revenue, "USD"), "orders": Quantity(float(hw.orders), "orders")},
        steps=[
            f"Hardware revenue ({period.label}) = {_usd(hw.revenue)}",
            f"Orders = {hw.orders:,}",
            f"AOV = {_usd(hw.revenue)} / {hw.orders:,} = {_usd(value)}",
        ],
        result=value,
        unit="USD/order",
        benchmark=benchmark,
        status=status,
        recommendation=_recommendation(
            change,
            status,
            "Order values are falling: bundle sensors with mounting kits and batteries, and review discounting.",
        ),
    )


def nrr(engine: Engine, period: Period, channel: str | None = None, segment: str | None = None) -> MetricResult:
    """Net revenue retention: MRR at the end from the accounts subscribed before the period / their starting MRR.

    Raises:
        MetricUnavailableError: no MRR before the period.
        ValueError: unknown channel or segment, or both given.
    """
    scope = _Scope.of(channel, segment)
    day0 = period.start - timedelta(days=1)
    before = _mrr_on(engine, day0, scope)
    if before.empty:
        raise MetricUnavailableError(f"NRR needs MRR before {period.label} ({scope.label}); there was none on {day0}")
    after = _mrr_on(engine, period.end, scope).reindex(before.index, fill_value=0.0)
    start_mrr, end_mrr = float(before.sum()), float(after.sum())
    delta = after - before
    churned = float(before[after <= 0].sum())
    expansion = float(delta[(after > 0) & (delta > 0)].sum())
    contraction = float(-delta[(after > 0) & (delta < 0)].sum())
    value = end_mrr / start_mrr * 100.0
    months = period.months
    annualised = 100.0 * (value / 100.0) ** (12.0 / months) if months < 11.5 else value
    status = _status_high(annualised, NRR_TARGET_PCT, 90.0)
    steps = [
        f"Starting MRR ({int(len(before))} accounts subscribed on {day0}) = {_usd(start_mrr)}",
        f"+ expansion {_usd(expansion)} − contraction {_usd(contraction)} − churned {_usd(churned)} "
        f"= ending MRR of the same accounts on {period.end} = {_usd(end_mrr)}",
        f"NRR = {_usd(end_mrr)} / {_usd(start_mrr)} = {value:.1f}%",
    ]
    if months < 11.5:
        steps.append(f"Annualised = {value / 100:.4f}^(12/{months:.2f}) = {annualised:.1f}%")
    return MetricResult(
        metric="NRR",
        period=period.label,
        start=period.start,
        end=period.end,
        scope=scope.label,
        formula="NRR = (starting MRR + expansion − contraction − churned MRR) / starting MRR, same accounts",
        inputs={
            "starting_mrr": Quantity(start_mrr, "USD/month"),
            "expansion_mrr": Quantity(expansion, "USD/month"),
            "contraction_mrr": Quantity(contraction, "USD/month"),
            "churned_mrr": Quantity(churned, "USD/month"),
            "ending_mrr": Quantity(end_mrr, "USD/month"),
        },
        steps=steps,
        result=value,
        unit="%",
        benchmark=f"Annual NRR ≥ {NRR_TARGET_PCT:.0f}% is healthy (best-in-class B2B SaaS 110–120%), below 90% is "
        f"concerning. Annualised this is {annualised:.1f}%.",
        status=status,
        recommendation=None
        if status == "healthy"
        else "Churn and contraction outweigh expansion: run win-back and health-score outreach for at-risk accounts "
        "and promote Starter → Growth upgrades.",
    )


def revenue(engine: Engine, period: Period, channel: str | None = None, segment: str | None = None) -> MetricResult:
    """Revenue actually earned in the period (subscriptions pro rata + hardware orders), vs the previous period.

    Raises:
        MetricUnavailableError: no revenue in the period.
        ValueError: unknown channel or segment, or both given.
    """
    scope = _Scope.of(channel, segment)
    subs, hw = _subscription_revenue(engine, period, scope), _hardware(engine, period, scope)
    value = subs + hw.revenue
    if value <= 0:
        raise MetricUnavailableError(f"no revenue recorded for {period.label} ({scope.label})")
    prev = period.previous()
    prev_value = _subscription_revenue(engine, prev, scope) + _hardware(engine, prev, scope).revenue
    first_day = data_bounds(engine)[0]
    # a previous period that starts before the data does holds only part of its revenue: no comparison
    change = _change(value, prev_value) if prev.start >= first_day else None
    steps = [
        f"Subscription revenue ({period.label}, pro rata per day of MRR) = {_usd(subs)}",
        f"Hardware revenue ({hw.orders:,} orders) = {_usd(hw.revenue)}",
        f"Revenue = {_usd(subs)} + {_usd(hw.revenue)} = {_usd(value)}",
    ]
    if change is None:
        status: Status = "watch"
        benchmark = (
            f"The data starts on {first_day}: no whole previous period ({_previous_label(prev)}) to compare with."
            if prev.start < first_day
            else "No revenue in the previous period to compare with."
        )
    else:
        status = _status_high(change, 0.0, -10.0)
        benchmark = (
            f"{_previous_label(prev)}: {_usd(prev_value)}, so revenue changed {change:+.1f}% (a fall needs watching, "
            "more than 10% is concerning)."
        )
    return MetricResult(
        metric="Revenue",
        period=period.label,
        start=period.start,
        end=period.end,
        scope=scope.label,
        formula="Revenue = subscription revenue (MRR pro rata) + hardware order revenue",
        inputs={
            "subscription_revenue": Quantity(subs, "USD"),
            "hardware_revenue": Quantity(hw.revenue, "USD"),
            "previous_revenue": Quantity(prev_value, "USD"),
        },
        steps=steps,
        result=value,
        unit="USD",
        benchmark=benchmark,
        status=status,
        recommendation=_recommendation(
            change,
            status,
            "Revenue fell against the period before: check churn and contraction (NRR) and hardware order volume.",
        ),
        assumptions=["Subscriptions from the subscriptions table, hardware from orders; refunds not netted"],
    )


def _mrr_baseline_day(period: Period) -> date:
    """The day MRR (and ARR) is compared with: over a period its start; on one day ("what's our MRR?") a month before."""
    return add_months(period.end, -1) if period.start == period.end else period.start - timedelta(days=1)


def mrr(engine: Engine, period: Period, channel: str | None = None, segment: str | None = None) -> MetricResult:
    """Monthly recurring revenue on the last day of the period, and its change over the period (a month).

    Raises:
        MetricUnavailableError: no MRR on the period's last day.
        ValueError: unknown channel or segment, or both given.
    """
    scope = _Scope.of(channel, segment)
    day0 = _mrr_baseline_day(period)
    end_mrr = _mrr_on(engine, period.end, scope)
    if end_mrr.empty:
        raise MetricUnavailableError(f"no MRR on {period.end} ({scope.label})")
    value, start_value = float(end_mrr.sum()), float(_mrr_on(engine, day0, scope).sum())
    change = _change(value, start_value)
    steps = [
        f"MRR on {day0} = {_usd(start_value)}",
        f"MRR on {period.end} ({len(end_mrr):,} paying accounts) = {_usd(value)}",
        f"Net new MRR = {_usd(value)} − {_usd(start_value)} = {_usd(value - start_value)}; ARR = {_usd(value * 12)}",
    ]
    if change is None:
        status: Status = "watch"
        benchmark = "No MRR at the start of the period to compare with."
    else:
        status = _status_high(change, 0.0, -5.0)
        benchmark = f"MRR changed {change:+.1f}% since {day0} (flat or falling MRR needs watching)."
    return MetricResult(
        metric="MRR",
        period=_as_of(period),
        start=period.start,
        end=period.end,
        scope=scope.label,
        formula="MRR = sum of the monthly recurring revenue of the subscriptions running on the day",
        inputs={
            "starting_mrr": Quantity(start_value, "USD/month"),
            "ending_mrr": Quantity(value, "USD/month"),
            "paying_accounts": Quantity(float(len(end_mrr)), "accounts"),
        },
        steps=steps,
        result=value,
        unit="USD/month",
        benchmark=benchmark,
        status=status,
        recommendation=_recommendation(
            change,
            status,
            "Recurring revenue is shrinking: look at churned and downgraded accounts (NRR) and at new-customer CAC.",
        ),
    )


def arr(engine: Engine, period: Period, channel: str | None = None, segment: str | None = None) -> MetricResult:
    """Annual recurring revenue: MRR on the period's last day × 12, with the MRR figures as steps.

    Raises:
        MetricUnavailableError: no MRR on the period's last day.
        ValueError: unknown channel or segment, or both given.
    """
    monthly = mrr(engine, period, channel=channel, segment=segment)
    start_mrr, end_mrr = monthly.inputs["starting_mrr"].value, monthly.inputs["ending_mrr"].value
    value = end_mrr * 12.0
    change = _change(end_mrr, start_mrr)
    benchmark = (
        monthly.benchmark
        if change is None
        else f"ARR changed {change:+.1f}% since {_mrr_baseline_day(period)} (flat or falling ARR needs watching)."
    )
    return MetricResult(
        metric="ARR",
        period=monthly.period,
        start=monthly.start,
        end=monthly.end,
        scope=monthly.scope,
        formula="ARR = MRR × 12 (the monthly recurring revenue of the subscriptions running on the day, annualised)",
        inputs={**monthly.inputs, "ending_arr": Quantity(value, "USD/year")},
        steps=[
            *monthly.steps[:2],
            f"ARR = {_usd(end_mrr)} MRR × 12 = {_usd(value)}",
            f"ARR on {_mrr_baseline_day(period)} = {_usd(start_mrr)} × 12 = "
            f"{_usd(start_mrr * 12.0)}; net new ARR = {_usd(value - start_mrr * 12.0)}",
        ],
        result=value,
        unit="USD/year",
        benchmark=benchmark,
        status=monthly.status,
        recommendation=monthly.recommendation,
        assumptions=["Annual plans count at their monthly equivalent (annual price / 12) in MRR"],
    )


def _ledger(engine: Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        result = conn.execute(sa.select(finance_ledger).order_by(finance_ledger.c.month))
        frame = pd.DataFrame(result.fetchall(), columns=[str(k) for k in result.keys()])
    if frame.empty:
        raise MetricUnavailableError("burn and runway need the finance ledger, which is empty (run `gtm data seed`)")
    frame["month"] = pd.to_datetime(frame["month"]).dt.date
    for col in ("revenue", "cogs", "marketing", "payroll", "other_opex", "financing", "cash_balance"):
        frame[col] = frame[col].astype(float)
    frame["costs"] = frame["cogs"] + frame["marketing"] + frame["payroll"] + frame["other_opex"]
    frame["net_burn"] = frame["costs"] - frame["revenue"]
    return frame


def _ledger_months(ledger: pd.DataFrame, period: Period) -> tuple[pd.DataFrame, str | None]:
    months = ledger[(ledger["month"] <= period.end) & (ledger["month"] >= period.start.replace(day=1))]
    if not months.empty:
        return months, None
    earlier = ledger[ledger["month"] <= period.end]
    if earlier.empty:
        raise MetricUnavailableError(f"no closed ledger month on or before {period.end}")
    last = earlier.iloc[[-1]]
    return last, f"No closed month in {period.label}; using the last closed month, {last['month'].iloc[0]:%B %Y}"


def burn(engine: Engine, period: Period) -> MetricResult:
    """Net burn per month over the closed ledger months of the period, with the burn multiple.

    Raises:
        MetricUnavailableError: the ledger is empty.
    """
    ledger = _ledger(engine)
    months, note = _ledger_months(ledger, period)
    n = len(months)
    costs, revenue = float(months["costs"].sum()), float(months["revenue"].sum())
    value = (costs - revenue) / n
    first, last = months["month"].iloc[0], months["month"].iloc[-1]
    month_after = (pd.Timestamp(last) + pd.offsets.MonthBegin(1)).date()
    used = Period(first, month_after - timedelta(days=1), "")  # the closed months the figure is made of
    covered = (used.start, used.end) == (period.start, period.end)
    used = Period(used.start, used.end, period.label if covered else _months_label(first, last, n))
    arr_start = float(_mrr_on(engine, first - timedelta(days=1), _Scope(None, None)).sum()) * 12
    arr_end = float(_mrr_on(engine, month_after - timedelta(days=1), _Scope(None, None)).sum()) * 12
    net_new_arr = arr_end - arr_start
    steps = [note] if note else []
    steps += [
        f"Costs over {n} closed month(s) ({first:%b %Y}–{last:%b %Y}) = COGS {_usd(float(months['cogs'].sum()))} + "
        f"marketing {_usd(float(months['marketing'].sum()))} + payroll {_usd(float(months['payroll'].sum()))} + "
        f"other {_usd(float(months['other_opex'].sum()))} = {_usd(costs)}",
        f"Revenue = {_usd(revenue)}",
        f"Net burn = ({_usd(costs)} − {_usd(revenue)}) / {n} = {_usd(value)} per month",
        f"Net new ARR = ({_usd(arr_end / 12)} − {_usd(arr_start / 12)}) MRR × 12 = {_usd(net_new_arr)}",
    ]
    if value <= 0:
        status: Status = "healthy"
        benchmark = "Revenue covers costs: the company is not burning cash in this period."
    elif net_new_arr <= 0:
        status = "concerning"
        benchmark = "Cash is burning while ARR is not growing (burn multiple undefined)."
    else:
        multiple = value * n / net_new_arr
        steps.append(f"Burn multiple = {_usd(value * n)} / {_usd(net_new_arr)} = {multiple:.2f}")
        status = _status_low(multiple, BURN_MULTIPLE_TARGET, 2.5)
        benchmark = (
            f"Burn multiple (net burn / net new ARR) {multiple:.2f}: ≤ {BURN_MULTIPLE_TARGET} is efficient, "
            "above 2.5 is concerning."
        )
    return MetricResult(
        metric="Burn",
        period=used.label,
        start=used.start,
        end=used.end,
        scope="company",
        formula="Net burn = (COGS + marketing + payroll + other operating costs − revenue) / months",
        inputs={
            "costs": Quantity(costs, "USD"),
            "revenue": Quantity(revenue, "USD"),
            "months": Quantity(float(n), "months"),
            "gross_burn": Quantity(costs / n, "USD/month"),
            "net_new_arr": Quantity(net_new_arr, "USD"),
        },
        steps=steps,
        result=value,
        unit="USD/month",
        benchmark=benchmark,
        status=status,
        recommendation=None
        if status == "healthy"
        else "Burn is high for the growth it buys: cut the least efficient marketing, slow hiring, and push annual "
        "prepayment.",
        assumptions=["From finance_ledger, closed months only"],
    )


def runway(engine: Engine, period: Period) -> MetricResult:
    """Months of runway at the end of the period: cash / average net burn of the last three closed months.

    Raises:
        MetricUnavailableError: the ledger is empty or has no month on or before the period end.
    """
    ledger = _ledger(engine)
    upto = ledger[ledger["month"] <= period.end]
    if upto.empty:
        raise MetricUnavailableError(f"no closed ledger month on or before {period.end}")
    recent = upto.tail(RUNWAY_BURN_MONTHS)
    cash = float(recent["cash_balance"].iloc[-1])
    avg_burn = float(recent["net_burn"].mean())
    last = recent["month"].iloc[-1]
    burns = " + ".join(_usd(float(b)) for b in recent["net_burn"])
    steps = [
        f"Cash at the end of {last:%B %Y} = {_usd(cash)}",
        f"Average net burn of the last {len(recent)} closed months = ({burns}) / {len(recent)} = {_usd(avg_burn)}",
    ]
    if avg_burn <= 0:
        value = math.inf
        steps.append("Net burn ≤ 0: revenue covers costs, runway is not limited by burn")
        status: Status = "healthy"
    else:
        value = cash / avg_burn
        steps.append(f"Runway = {_usd(cash)} / {_usd(avg_burn)} = {value:.1f} months")
        status = _status_high(value, RUNWAY_TARGET_MONTHS, 12.0)
    return MetricResult(
        metric="Runway",
        period=_as_of(period),
        start=period.start,
        end=period.end,
        scope="company",
        formula=f"Runway (months) = cash balance / average monthly net burn (last {RUNWAY_BURN_MONTHS} closed months)",
        inputs={"cash_balance": Quantity(cash, "USD"), "average_net_burn": Quantity(avg_burn, "USD/month")},
        steps=steps,
        result=value,
        unit="months",
        benchmark=f"≥ {RUNWAY_TARGET_MONTHS:.0f} months is healthy, 12–18 months means planning the next raise or "
        "path to profitability now, under 12 is concerning.",
        status=status,
        recommendation=None
        if status == "healthy"
        else "Extend runway: reduce net burn (marketing efficiency, hiring pace) or start fundraising.",
        assumptions=["Cash and costs from finance_ledger, closed months only"],
    )


@dataclass
class _Churn:
    """Accounts paying the day before a window and those of them no longer paying on its last day."""

    start: date
    end: date
    active_start: int
    churned: int

    @property
    def rate(self) -> float:
        return self.churned / self.active_start if self.active_start else math.nan


def _churn_in(engine: Engine, start: date, end: date, scope: _Scope) -> _Churn:
    before = _mrr_on(engine, start - timedelta(days=1), scope)
    after = _mrr_on(engine, end, scope)
    return _Churn(start, end, len(before), int((~before.index.isin(after.index)).sum()))


def _month_windows(period: Period) -> list[tuple[date, date]]:
    """The calendar months of `period`, each clipped to it (a 30-day window gives two partial months)."""
    windows, first = [], period.start
    while first <= period.end:
        next_month = add_months(first.replace(day=1), 1)
        last = min(next_month - timedelta(days=1), period.end)
        windows.append((first, last))
        first = next_month
    return windows


def churn_rate(engine: Engine, period: Period, channel: str | None = None, segment: str | None = None) -> MetricResult:
    """Logo churn rate: accounts paying the day before the period with no MRR at its end / those accounts.

    Also the equivalent monthly rate and, as `breakdown`, the same rate for each calendar month of the period
    (accounts paying the day before the month that no longer pay at its end), compared with the previous period.

    Raises:
        MetricUnavailableError: no paying accounts before the period.
        ValueError: unknown channel or segment, or both given.
    """
    scope = _Scope.of(channel, segment)
    whole = _churn_in(engine, period.start, period.end, scope)
    if whole.active_start == 0:
        raise MetricUnavailableError(
            f"churn rate needs paying accounts before {period.label} ({scope.label}); none had MRR on "
            f"{period.start - timedelta(days=1)}"
        )
    months = period.months
    monthly = 1.0 - (1.0 - whole.rate) ** (1.0 / months)
    by_month = [_churn_in(engine, first, last, scope) for first, last in _month_windows(period)]
    prev = period.previous()
    prev_churn = _churn_in(engine, prev.start, prev.end, scope)
    steps = [
        f"Paying accounts on {period.start - timedelta(days=1)} (the day before {period.label}) = "
        f"{whole.active_start:,}",
        f"Of them, no MRR on {period.end} (cancelled in the period) = {whole.churned:,}",
        f"Churn rate = {whole.churned:,} / {whole.active_start:,} = {whole.rate:.2%}",
    ]
    if len(by_month) > 1 or months > 1.5:
        steps.append(f"Monthly equivalent = 1 − (1 − {whole.rate:.4f})^(1/{months:.2f}) = {monthly:.2%} per month")
    steps += [
        f"{m.start:%B %Y}: {m.churned:,} of {m.active_start:,} = {m.rate:.2%}" for m in by_month if m.active_start
    ]
    status = _status_low(monthly * 100.0, MONTHLY_CHURN_TARGET_PCT, 4.0)
    benchmark = (
        f"Monthly logo churn under {MONTHLY_CHURN_TARGET_PCT:.0f}% is healthy for SMB/mid-market SaaS, above 4% is "
        f"concerning; this is {monthly:.2%} a month."
    )
    if prev_churn.active_start:
        benchmark += (
            f" {_previous_label(prev)}: {prev_churn.churned:,} of {prev_churn.active_start:,} = {prev_churn.rate:.2%}."
        )
    return MetricResult(
        metric="Churn rate",
        period=period.label,
        start=period.start,
        end=period.end,
        scope=scope.label,
        formula="Churn rate = accounts cancelled in the period / accounts paying at its start",
        inputs={
            "active_accounts_start": Quantity(float(whole.active_start), "accounts"),
            "churned_accounts": Quantity(float(whole.churned), "accounts"),
            "monthly_churn": Quantity(monthly * 100.0, "%"),
        },
        steps=steps,
        result=whole.rate * 100.0,
        unit="%",
        benchmark=benchmark,
        status=status,
        recommendation=None
        if status == "healthy"
        else "Churn is above benchmark: call the accounts the churn-risk model flags before their renewals and "
        "follow up their open support tickets.",
        assumptions=[
            "An account is paying on a day when its subscriptions' MRR that day is above 0; it churned when it paid "
            "the day before the period and pays nothing on its last day (accounts that signed up and left inside "
            "the period are not in the rate)",
        ],
        breakdown=[
            {
                "month": f"{m.start:%Y-%m}",
                "start": m.start.isoformat(),
                "end": m.end.isoformat(),
                "active_start": m.active_start,
                "churned": m.churned,
                "churn_rate_pct": round(m.rate * 100.0, 2) if m.active_start else None,
            }
            for m in by_month
        ],
    )


def budget_variance(
    engine: Engine, period: Period, channel: str | None = None, segment: str | None = None
) -> MetricResult:
    """Actual campaign spend vs budget for the campaigns running in the period (budgets pro-rated by days).

    Raises:
        MetricUnavailableError: no campaign runs in the period.
        ValueError: unknown channel or segment, or both given.
    """
    scope = _Scope.of(channel, segment)
    stmt = sa.select(campaigns).where(campaigns.c.start_date <= period.end, campaigns.c.end_date >= period.start)
    if scope.channel:
        stmt = stmt.where(campaigns.c.channel == scope.channel)
    if scope.segment:
        stmt = stmt.where(campaigns.c.segment == scope.segment)
    t = channel_performance
    with engine.connect() as conn:
        rows = conn.execute(stmt.order_by(campaigns.c.start_date, campaigns.c.id)).mappings().all()
        spent = dict(
            conn.execute(
                sa.select(t.c.campaign_id, sa.func.sum(t.c.spend))
                .where(t.c.date >= period.start, t.c.date <= period.end, t.c.campaign_id.is_not(None))
                .group_by(t.c.campaign_id)
            ).all()
        )
    if not rows:
        raise MetricUnavailableError(f"no campaigns ran in {period.label} ({scope.label})")
    try:
        _, data_end = data_bounds(engine)
    except LookupError:
        data_end = period.end
    breakdown: list[dict[str, Any]] = []
    planned_total = actual_total = 0.0
    for row in rows:
        flight = (row["end_date"] - row["start_date"]).days + 1
        lo, hi = max(row["start_date"], period.start), min(row["end_date"], period.end, data_end)
        days = max(0, (hi - lo).days + 1)
        if days == 0:
            continue
        planned = float(row["budget"]) * days / flight
        actual = float(spent.get(row["id"], 0.0) or 0.0)
        planned_total += planned
        actual_total += actual
        breakdown.append(
            {
                "campaign_id": row["id"],
                "name": row["name"],
                "channel": row["channel"],
                "segment": row["segment"],
                "days_in_period": days,
                "budget": float(row["budget"]),
                "planned": round(planned, 2),
                "actual": round(actual, 2),
                "variance": round(actual - planned, 2),
                "variance_pct": round((actual - planned) / planned * 100.0, 2) if planned else None,
            }
        )
    if planned_total <= 0:
        raise MetricUnavailableError(f"no campaign budget falls in {period.label} up to the last data date")
    variance = actual_total - planned_total
    value = variance / planned_total * 100.0
    status = _status_low(abs(value), 5.0, 15.0)
    campaign_steps = [
        f"{label}: "
        + "; ".join(
            f"{r['campaign_id']} ({r['channel']}) {_usd(r['actual'])} vs {_usd(r['planned'])} = "
            f"{'+' if r['variance'] >= 0 else '−'}{_usd(abs(r['variance']))} ({r['variance_pct']:+.1f}%)"
            for r in chosen
        )
        for label, chosen in (
            (
                "Campaigns over budget (overspent), largest first",
                sorted((r for r in breakdown if r["variance"] > 0), key=lambda r: -r["variance"]),
            ),
            (
                "Campaigns under budget, largest first",
                sorted((r for r in breakdown if r["variance"] < 0), key=lambda r: r["variance"]),
            ),
        )
        if chosen
    ]
    worst = sorted(breakdown, key=lambda r: -abs(r["variance"]))[:3]
    recommendation = None
    if status != "healthy":
        direction = "over" if variance > 0 else "under"
        names = ", ".join(r["campaign_id"] for r in worst)
        recommendation = f"Spend is {abs(value):.1f}% {direction} budget; start with {names}: " + (
            "cap daily budgets or re-plan." if variance > 0 else "re-allocate unused budget to the best-ROAS channels."
        )
    return MetricResult(
        metric="Budget variance",
        period=period.label,
        start=period.start,
        end=period.end,
        scope=scope.label,
        formula="Variance % = (actual spend − budget pro-rated to the days in the period) / pro-rated budget",
        inputs={
            "planned_budget": Quantity(planned_total, "USD"),
            "actual_spend": Quantity(actual_total, "USD"),
            "campaigns": Quantity(float(len(breakdown)), "campaigns"),
        },
        steps=[
            f"Pro-rated budget of {len(breakdown)} campaigns = Σ budget × days in period / flight days = "
            f"{_usd(planned_total)}",
            f"Actual spend of those campaigns in the period = {_usd(actual_total)}",
            f"Variance = {_usd(actual_total)} − {_usd(planned_total)} = {_usd(variance)}",
            f"Variance % = {_usd(variance)} / {_usd(planned_total)} = {value:+.1f}%",
            *campaign_steps,
        ],
        result=value,
        unit="%",
        benchmark="Within ±5% of budget is on plan, ±5–15% needs watching, beyond ±15% is off plan.",
        status=status,
        recommendation=recommendation,
        breakdown=breakdown,
        assumptions=["Budgets spread evenly over each campaign's flight; days after the last data date are excluded"],
    )


MetricFunction = Callable[..., MetricResult]
"""Signature of a metric: `(engine, period, channel=None, segment=None) -> MetricResult`."""

METRICS: dict[str, MetricFunction] = {
    "cac": cac,
    "ltv": ltv,
    "ltv_cac": ltv_cac,
    "roas": roas,
    "payback": payback,
    "burn": burn,
    "runway": runway,
    "nrr": nrr,
    "gross_margin": gross_margin,
    "aov": aov,
    "budget_variance": budget_variance,
    "revenue": revenue,
    "mrr": mrr,
    "arr": arr,
    "churn_rate": churn_rate,
}
"""Every metric by name."""

_ALIASES = {
    "ltv:cac": "ltv_cac",
    "ltv/cac": "ltv_cac",
    "cac_payback": "payback",
    "payback_period": "payback",
    "burn_rate": "burn",
    "net_burn": "burn",
    "net_revenue_retention": "nrr",
    "margin": "gross_margin",
    "average_order_value": "aov",
    "budget": "budget_variance",
    "lifetime_value": "ltv",
    "customer_acquisition_cost": "cac",
    "return_on_ad_spend": "roas",
    "sales": "revenue",
    "monthly_recurring_revenue": "mrr",
    "annual_recurring_revenue": "arr",
    "churn": "churn_rate",
    "logo_churn": "churn_rate",
}


def compute_metric(
    engine: Engine, name: str, period: Period, channel: str | None = None, segment: str | None = None
) -> MetricResult:
    """Compute a metric by name.

    Names: `cac`, `ltv`, `ltv_cac`, `roas`, `payback`, `burn`, `runway`, `nrr`, `gross_margin`, `aov`,
    `budget_variance`, `revenue`, `mrr`, `arr`, `churn_rate` (common aliases such as `ltv:cac` or `burn_rate` are accepted).

    Raises:
        ValueError: unknown metric, or a channel/segment for a company-wide metric (burn, runway).
        MetricUnavailableError: the metric cannot be computed for the period.
    """
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    key = _ALIASES.get(key, key)
    if key not in METRICS:
        raise ValueError(f"unknown metric {name!r}; expected one of {', '.join(METRICS)}")
    if key in ("burn", "runway"):
        if channel or segment:
            raise ValueError(f"{key} is company-wide: it has no channel or segment breakdown")
        return METRICS[key](engine, period)
    return METRICS[key](engine, period, channel=channel, segment=segment)


def cac_by_channel(engine: Engine, period: Period) -> pd.DataFrame:
    """CAC, CPL and ROAS per channel for a period.

    Returns:
        One row per channel (catalogue order): channel, spend, new_customers (signups from the customers table),
        cac (NaN without new customers), leads (conversions in the channel table), cpl (spend / leads, NaN
        without leads), revenue (attributed), roas (NaN without spend).
    """
    t = channel_performance
    with engine.connect() as conn:
        perf = dict(
            (ch, (float(s), float(r), int(n or 0)))
            for ch, s, r, n in conn.execute(
                sa.select(
                    t.c.channel,
                    sa.func.sum(t.c.spend),
                    sa.func.sum(t.c.attributed_revenue),
                    sa.func.sum(t.c.conversions),
                )
                .where(t.c.date >= period.start, t.c.date <= period.end)
                .group_by(t.c.channel)
            ).all()
        )
        new: dict[str, int] = dict(
            conn.execute(
                sa.select(customers.c.acquisition_channel, sa.func.count())
                .where(customers.c.signup_date >= period.start, customers.c.signup_date <= period.end)
                .group_by(customers.c.acquisition_channel)
            ).all()
        )
    channels = list(CHANNELS) + sorted(c for c in perf if c not in CHANNELS)
    rows = []
    for ch in channels:
        spend, revenue, leads = perf.get(ch, (0.0, 0.0, 0))
        n = int(new.get(ch, 0))
        rows.append(
            {
                "channel": ch,
                "spend": spend,
                "new_customers": n,
                "cac": spend / n if n else math.nan,
                "leads": leads,
                "cpl": spend / leads if leads else math.nan,
                "revenue": revenue,
                "roas": revenue / spend if spend else math.nan,
            }
        )
    columns = ["channel", "spend", "new_customers", "cac", "leads", "cpl", "revenue", "roas"]
    return pd.DataFrame(rows, columns=columns)
