"""Insights tools: RFM segments, churn risk (BG/NBD + Gamma-Gamma), cohort retention, lead scoring and counts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
from langchain_core.tools import BaseTool
from pydantic import BaseModel, ConfigDict, Field

from app.cache.tools import cached_result
from graph.tools.base import FatalToolError, MissingDataError, ToolResult
from graph.tools.deps import ToolDeps, make_tool
from graph.tools.finance import (
    CHANNEL_ALIASES,
    CUSTOMER_ID_FIND,
    SEGMENT_ALIASES,
    UNKNOWN_CHANNEL_FIND,
    Channel,
    ChannelName,
    Segment,
    known_channel,
    known_segment,
)

if TYPE_CHECKING:
    from app.analytics.churn import ChurnResult, SubscriptionRiskResult


class RfmArgs(BaseModel):
    """Arguments of `rfm_segments`."""

    segment: str | None = Field(default=None, description="Optional segment to list customers of, e.g. 'At Risk'")


Plan = Literal["starter", "growth", "enterprise"]
PLAN_ALIASES: dict[str, Any] = {
    "starter": ["starter plan", "starter customers", "starter accounts"],
    "growth": ["growth plan", "growth customers", "growth accounts"],
    "enterprise": ["enterprise plan", "enterprise customers", "enterprise accounts"],
}
"""Phrases the offline model maps to each Lumio Cloud plan (JSON-schema `x-aliases`)."""


class ChurnArgs(BaseModel):
    """Arguments of `churn_risk`."""

    customer_id: str | None = Field(
        default=None,
        description="One customer's churn probability instead of the list, e.g. C00042",
        json_schema_extra={"x-find": CUSTOMER_ID_FIND},
    )
    plan: Plan | None = Field(
        default=None,
        description="Only accounts on this Lumio Cloud plan",
        json_schema_extra={"x-aliases": PLAN_ALIASES},
    )
    top_n: int = Field(default=20, ge=1, le=500, description="How many at-risk customers to list")
    horizon_weeks: int = Field(default=13, ge=1, le=104, description="Horizon for expected purchases, in weeks")
    valuable_only: bool = Field(default=False, description="Only customers with above-median historical value")
    winback_eligible: bool = Field(
        default=False,
        description="Only accounts the win-back policy allows (brand-voice.md): Starter or Growth accounts that "
        "cancelled in the 90 days up to the last date in the data and had no win-back email in the last 12 months, "
        "ranked by the 12-month value a reactivation brings back (former MRR x 12 + hardware CLV)",
    )


class CohortArgs(BaseModel):
    """Arguments of `cohort_retention`."""

    months: int = Field(default=12, ge=2, le=36, description="How many months after the first purchase to show")


CLV_STRONG_CUES: list[Any] = [
    *("12-month value", "12 month value", "twelve-month value", "lifetime value", "clv", "ltv", "customer value"),
    *("highest value", "most valuable", "highest-value", "high-value", "predicted value", "worth the most"),
]
"""Words of a request for the customers ranked by value ("Which customers have the highest 12-month value?"): not
the purchase cohorts, whose table also counts months."""


class ClvArgs(BaseModel):
    """Arguments of `customer_clv`."""

    model_config = ConfigDict(json_schema_extra={"x-strong-cues": CLV_STRONG_CUES})

    customer_id: str | None = Field(
        default=None,
        description="One customer's lifetime value instead of the ranking, e.g. C00042",
        json_schema_extra={"x-find": CUSTOMER_ID_FIND},
    )
    top_n: int = Field(default=10, ge=1, le=200, description="How many customers to rank")


COUNT_CUES: list[Any] = [
    *("how many", "number of", "count", "acquire", "acquired", "signups", "sign-ups", "signed up", "new customers"),
    *("churned in", "cancelled in", "canceled in", "lost in", "cancellations"),
]
"""Words of a request for a count of customers in a period ("how many customers churned in October")."""


class CountArgs(BaseModel):
    """Arguments of `customer_counts`."""

    model_config = ConfigDict(json_schema_extra={"x-strong-cues": COUNT_CUES})

    period: str | None = Field(
        default=None,
        description="Period phrase, e.g. 'October', 'last quarter', '2025'; empty when the request names none "
        '("how many customers do we have?"): the customers today, with last month\'s new and churned',
    )
    segment: Segment | None = Field(
        default=None,
        description="Only customers of this segment (smb, mid_market, enterprise: company size)",
        json_schema_extra={"x-aliases": SEGMENT_ALIASES},
    )
    channel: ChannelName | None = Field(
        default=None,
        description="Only customers acquired through this channel",
        json_schema_extra={"x-aliases": CHANNEL_ALIASES, "x-unknown": UNKNOWN_CHANNEL_FIND},
    )


CHURN_RATE_STRONG_CUES: list[Any] = [
    *("churn rate", "rate of churn", "churn %", "churn percentage", "monthly churn"),
    *("logo churn", "customer churn rate", "attrition rate", "cancellation rate", "cancel rate", "churning rate"),
    *("percentage of customers churned", "percent of customers churned", "share of customers churned"),
    *("% of customers churned", "percentage of accounts churned", "share of accounts churned"),
]
"""Words of a request for the churn rate ("What is our churn rate?"): a share of accounts, not the at-risk list."""
CHURN_RATE_CUES: list[Any] = [*CHURN_RATE_STRONG_CUES, "rate", "percent", "percentage", "%", "share"]
"""Without one of these the offline model does not pick `churn_rate` ("who is likely to churn?" is the risk list)."""


class ChurnRateArgs(BaseModel):
    """Arguments of `churn_rate`."""

    model_config = ConfigDict(json_schema_extra={"x-cues": CHURN_RATE_CUES, "x-strong-cues": CHURN_RATE_STRONG_CUES})

    period: str = Field(default="last quarter", description="Period phrase, e.g. 'last quarter', 'Q3 2026', 'October'")
    segment: Segment | None = Field(
        default=None,
        description="Only accounts of this segment (smb, mid_market, enterprise)",
        json_schema_extra={"x-aliases": SEGMENT_ALIASES},
    )
    channel: ChannelName | None = Field(
        default=None,
        description="Only accounts acquired through this channel",
        json_schema_extra={"x-aliases": CHANNEL_ALIASES, "x-unknown": UNKNOWN_CHANNEL_FIND},
    )


LEAD_SCORE_CUES: list[Any] = [
    *("score", "scores", "scoring", "scored", "rate the", "rank leads", "hot", "hottest", "call first"),
    *(
        "likelihood",
        "likely to convert",
        "prioritize",
        "prioritise",
        "deserve",
        "best leads",
        "open leads",
        "have open",
    ),
]
"""Words of a request for the lead-scoring model ("which leads are hot", "score our open leads")."""


class LeadArgs(BaseModel):
    """Arguments of `score_leads`."""

    model_config = ConfigDict(json_schema_extra={"x-strong-cues": LEAD_SCORE_CUES})

    top_n: int = Field(default=10, ge=1, le=200, description="How many open leads to list")
    channel: Channel | None = Field(
        default=None,
        description="Only list open leads from this source channel (the model still learns from every lead)",
        json_schema_extra={"x-aliases": CHANNEL_ALIASES},
    )


LEAD_COUNT_CUES: list[Any] = [
    *("how many leads", "how many new leads", "number of leads", "number of new leads", "lead count", "lead counts"),
    *("lead volume", "leads did we get", "leads we got", "leads came in", "leads come in", "new leads came in"),
    *("leads did we generate", "leads we generated", "leads generated", "leads created", "leads by channel"),
    *("leads per channel", "leads by source", "leads per month", "leads by month"),
]
"""Words of a request for how many leads came in ("How many leads did we get last month?"): a count, not the
lead-scoring model (which answers "which leads are hot", "score our leads")."""


class LeadCountArgs(BaseModel):
    """Arguments of `lead_counts`."""

    model_config = ConfigDict(json_schema_extra={"x-strong-cues": LEAD_COUNT_CUES})

    period: str = Field(default="last month", description="Period phrase, e.g. 'last month', 'Q2', 'last 30 days'")
    channel: Channel | None = Field(
        default=None,
        description="Only count leads from this source channel; every channel, one row each, when empty",
        json_schema_extra={"x-aliases": CHANNEL_ALIASES},
    )


def _transactions(deps: ToolDeps) -> pd.DataFrame:
    from app.data.queries import transactions_frame

    df = transactions_frame(deps.engine)
    if df.empty:
        raise MissingDataError("the business database has no transactions yet: run `gtm data seed` or import some")
    return df


WINBACK_WINDOW_DAYS = 90
"""Win-backs go to accounts that cancelled within this many days (their data is kept for 90 days)."""
WINBACK_COOLDOWN_DAYS = 365
"""One win-back offer per account in any 12 months."""
WINBACK_PLANS = ("starter", "growth")
"""Plans a win-back may go to; Enterprise win-backs are handled by the account's Customer Success Manager."""
DISCOUNT_INDUSTRIES = ("Education", "Nonprofit")
"""Accounts with the nonprofit or education discount: no win-back offer, only a reminder of their data."""

WinbackKind = Literal["offer", "reminder", "excluded"]
"""What the policy allows for one account: a win-back offer, a reminder without an offer, or no win-back."""


@dataclass(frozen=True)
class WinbackStatus:
    """The win-back policy's verdict on one account (brand-voice.md, "Incentive policy for win-back offers")."""

    kind: WinbackKind
    rule: str
    """Which rule decided: `active`, `window`, `enterprise`, `plan`, `cooldown`, `discount` or `ok`."""
    reason: str
    """Why, in words."""
    data_kept_until: dt.date | None = None
    """Cancellation date + 90 days, when the account is cancelled."""
    incentive_usd: float = 0.0
    """What the offer costs when redeemed: one free month of the plan the account had ($0 without an offer)."""


def _to_date(value: Any) -> dt.date | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _utc(value: Any) -> dt.datetime | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def winback_status(account: dict[str, Any], as_of: dt.date, last_winback_at: dt.datetime | None) -> WinbackStatus:
    """Apply the win-back policy to one account.

    Args:
        account: `status`, `plan`, `churned_date` and `industry` of the account.
        as_of: the data's last date (the "today" of the data, not the wall clock).
        last_winback_at: when the account was last sent a win-back email (from the outbox), if ever.
    """
    from app.data.catalog import PLAN_MONTHLY_PRICE

    plan = str(account.get("plan") or "").lower()
    churned = _to_date(account.get("churned_date"))
    if account.get("status") != "churned" or churned is None:
        return WinbackStatus("excluded", "active", "the account is active")
    kept = churned + dt.timedelta(days=WINBACK_WINDOW_DAYS)
    if churned <= as_of - dt.timedelta(days=WINBACK_WINDOW_DAYS):
        return WinbackStatus("excluded", "window", f"cancelled more than {WINBACK_WINDOW_DAYS} days ago", kept)
    if plan == "enterprise":
        return WinbackStatus(
            "excluded", "enterprise", "Enterprise win-backs are handled by the Customer Success Manager", kept
        )
    if plan not in WINBACK_PLANS:
        return WinbackStatus("excluded", "plan", f"no Starter or Growth plan on file ({plan or 'none'})", kept)
    if last_winback_at is not None:
        cutoff = min(dt.datetime.now(dt.UTC), dt.datetime.combine(as_of, dt.time.max, dt.UTC))
        if last_winback_at >= cutoff - dt.timedelta(days=WINBACK_COOLDOWN_DAYS):
            return WinbackStatus(
                "excluded", "cooldown", f"a win-back was staged or sent on {last_winback_at.date().isoformat()}", kept
            )
    if account.get("industry") in DISCOUNT_INDUSTRIES:
        return WinbackStatus(
            "reminder", "discount", "nonprofit or education discount: no offer, a reminder of the data", kept
        )
    return WinbackStatus("offer", "ok", f"cancelled {plan.title()} account", kept, PLAN_MONTHLY_PRICE[plan])


def last_winbacks(engine: Any, customer_ids: list[str] | None = None) -> dict[str, dt.datetime]:
    """When each customer was last offered a win-back (from the outbox).

    Sent, being sent, failed (a retry may send it), or staged and waiting for approval in another campaign
    (approving both would offer twice); dropped rows do not count.
    """
    import sqlalchemy as sa

    from app.outbox import outbox

    if not sa.inspect(engine).has_table("outbox"):
        return {}
    query = sa.select(outbox.c.customer_id, outbox.c.sent_at, outbox.c.updated_at).where(
        outbox.c.status.in_(("draft", "approved", "sending", "sent", "failed"))
    )
    if customer_ids is not None:
        query = query.where(outbox.c.customer_id.in_(customer_ids))
    latest: dict[str, dt.datetime] = {}
    with engine.connect() as conn:
        for row in conn.execute(query):
            when = _utc(row.sent_at) or _utc(row.updated_at)
            if when is not None and (str(row.customer_id) not in latest or when > latest[str(row.customer_id)]):
                latest[str(row.customer_id)] = when
    return latest


ACCOUNT_COLUMNS = (
    "customer_id",
    "name",
    "contact_name",
    "email",
    "country",
    "region",
    "industry",
    "status",
    "plan",
    "churned_date",
    "billing_period",
    "mrr",
    "seats",
)
"""Columns of `account_frame`."""


def account_frame(
    engine: Any, customer_ids: list[str] | None = None, churned_since: dt.date | None = None
) -> pd.DataFrame:
    """Accounts with what the win-back policy needs, and their latest subscription (billing period, MRR).

    Args:
        engine: the business database.
        customer_ids: these accounts (any status), in this order; or
        churned_since: every account cancelled after this date.

    Returns:
        One row per account (`ACCOUNT_COLUMNS`); `churned_date` is a `datetime.date` or None.
    """
    import sqlalchemy as sa

    from app.data.schema import customers, subscriptions

    query = sa.select(
        customers.c.id.label("customer_id"),
        customers.c.name,
        customers.c.contact_name,
        customers.c.email,
        customers.c.country,
        customers.c.region,
        customers.c.industry,
        customers.c.status,
        customers.c.plan,
        customers.c.churned_date,
    )
    if customer_ids is not None:
        query = query.where(customers.c.id.in_(customer_ids))
    elif churned_since is None:
        raise ValueError("account_frame needs customer_ids or churned_since")
    else:
        query = query.where(customers.c.status == "churned", customers.c.churned_date > churned_since)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query.order_by(customers.c.id))]
        ids = [str(r["customer_id"]) for r in rows]
        subs: dict[str, dict[str, Any]] = {}
        for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
            for sub in conn.execute(
                sa.select(
                    subscriptions.c.customer_id,
                    subscriptions.c.billing_period,
                    subscriptions.c.mrr,
                    subscriptions.c.seats,
                    subscriptions.c.start_date,
                    subscriptions.c.id,
                )
                .where(subscriptions.c.customer_id.in_(chunk))
                .order_by(subscriptions.c.start_date, subscriptions.c.id)
            ):
                subs[str(sub.customer_id)] = dict(sub._mapping)  # the latest one wins
    for row in rows:
        row["customer_id"] = str(row["customer_id"])
        row["churned_date"] = _to_date(row["churned_date"])
        sub = subs.get(row["customer_id"], {})
        row["billing_period"] = sub.get("billing_period")
        row["mrr"] = float(sub["mrr"]) if sub.get("mrr") is not None else 0.0
        row["seats"] = sub.get("seats")
    frame = pd.DataFrame(rows, columns=list(ACCOUNT_COLUMNS))
    if customer_ids is not None and not frame.empty:
        order = {c: i for i, c in enumerate(dict.fromkeys(str(c) for c in customer_ids))}
        frame = frame.sort_values("customer_id", key=lambda s: s.map(order)).reset_index(drop=True)
    return frame


def _chart(name: str, *args: Any) -> dict[str, Any] | None:
    try:
        from app.analytics import charts
    except ImportError:
        return None
    fig = getattr(charts, name)(*args)
    return fig.to_plotly_json() if hasattr(fig, "to_plotly_json") else None


@cached_result("transactions")
def rfm(deps: ToolDeps, segment: str | None = None) -> ToolResult:
    """RFM segmentation of every customer with purchases."""
    from app.analytics.rfm import rfm_segments

    result = rfm_segments(_transactions(deps), order_col="order_id")
    rows = [
        [s.segment, s.customers, f"{s.share:.1%}", round(s.revenue), f"{s.revenue_share:.1%}", s.action]
        for s in result.segments
    ]
    top = max(result.segments, key=lambda s: s.revenue) if result.segments else None  # what the headline names
    facts = [
        f"{result.total_customers:,} customers scored on orders up to {result.as_of - dt.timedelta(days=1)} (recency "
        f"counted to the day after); total revenue ${result.total_revenue:,.0f}"
    ]
    at_risk = [s for s in result.segments if s.segment in ("At Risk", "Can't Lose Them")]
    if at_risk:
        facts.append(
            "At Risk + Can't Lose Them: "
            f"{sum(s.customers for s in at_risk):,} customers holding ${sum(s.revenue for s in at_risk):,.0f} of revenue"
        )
    if segment:
        ids = result.segment_customers.get(segment, [])
        facts.append(f"{segment}: {len(ids)} customers, e.g. {', '.join(ids[:10]) or 'none'}")
    headline = (
        f"{len(result.segments)} RFM segments; largest revenue share: {top.segment} ({top.revenue_share:.1%})"
        if top is not None
        else "No customers to segment"
    )
    recommendation = f"{top.segment} (the largest revenue share): {top.action}" if top is not None else None
    asked = next((s for s in result.segments if s.segment == segment), None)
    if asked is not None and asked is not top:  # a segment asked about gets its own action too
        recommendation = f"{asked.segment}: {asked.action} {recommendation}"
    return ToolResult(
        headline=headline,
        facts=facts,
        table={"columns": ["segment", "customers", "share", "revenue $", "revenue share", "action"], "rows": rows},
        method="RFM quintile scores (1–5) on recency, frequency (orders) and monetary value; standard R/FM segment map",
        recommendation=recommendation,
        data=result.to_dict(max_customers_per_segment=20),
        chart=_chart("rfm_segment_chart", result),
    )


def churn(
    deps: ToolDeps,
    customer_id: str | None = None,
    plan: str | None = None,
    top_n: int = 20,
    horizon_weeks: int = 13,
    valuable_only: bool = False,
    winback_eligible: bool = False,
) -> ToolResult:
    """The live subscribers most likely to cancel (or one customer's churn risk), with their hardware P(alive).

    With `customer_id`, that customer's figures (an unknown id is an error). With `winback_eligible`, the
    accounts the win-back policy allows instead (`winback_candidates`); that answer reads the outbox, which no
    data version tracks, so it is never cached.
    """
    if customer_id:
        customer_id = _require_customer(deps, customer_id)
        return _churn_customer(deps, customer_id=customer_id, horizon_weeks=horizon_weeks)
    if winback_eligible:
        return winback_candidates(deps, top_n=top_n, horizon_weeks=horizon_weeks)
    return _churn_ranked(deps, top_n=top_n, horizon_weeks=horizon_weeks, valuable_only=valuable_only, plan=plan)


def _require_customer(deps: ToolDeps, customer_id: str) -> str:
    """The id of customer `customer_id` as stored, matched exactly or else in any case ("c00031" is C00031).

    Raises:
        FatalToolError: the business database has no such customer.
    """
    import sqlalchemy as sa

    from app.data.schema import customers

    wanted = customer_id.strip()
    with deps.engine.connect() as conn:
        found = conn.execute(sa.select(customers.c.id).where(customers.c.id == wanted)).first()
        if found is None:
            found = conn.execute(
                sa.select(customers.c.id)
                .where(sa.func.upper(customers.c.id) == wanted.upper())
                .order_by(customers.c.id)
            ).first()
    if found is None:
        raise FatalToolError(f"no customer {customer_id} in the business database: check the id")
    return str(found[0])


def _subscriptions_frame(deps: ToolDeps) -> pd.DataFrame:
    """Every subscription period (see `app.data.schema.subscriptions`)."""
    import sqlalchemy as sa

    from app.data.schema import subscriptions

    with deps.engine.connect() as conn:
        result = conn.execute(sa.select(subscriptions))
        return pd.DataFrame(result.fetchall(), columns=[str(k) for k in result.keys()])


def _tickets_frame(deps: ToolDeps) -> pd.DataFrame:
    """Support tickets: customer_id and created_at."""
    import sqlalchemy as sa

    from app.data.schema import tickets

    with deps.engine.connect() as conn:
        query = sa.select(tickets.c.customer_id, tickets.c.created_at).where(tickets.c.customer_id.is_not(None))
        return pd.DataFrame(conn.execute(query).fetchall(), columns=["customer_id", "created_at"])


@dataclass(frozen=True)
class _ChurnModels:
    """The purchase model (BG/NBD + Gamma-Gamma) and, with subscription data, the subscription churn model."""

    purchases: ChurnResult
    """The BG/NBD + Gamma-Gamma scores of the hardware orders."""
    subscriptions: SubscriptionRiskResult | None
    """The subscription churn model's scores, or None without subscription data."""
    note: str | None
    """Why there is no subscription model, when there is none."""


def _churn_models(deps: ToolDeps, horizon_weeks: int) -> _ChurnModels:
    """Fit the purchase model, then the subscription churn model on top of it when subscriptions exist."""
    from app.analytics._validation import AnalyticsInputError
    from app.analytics.churn import churn_analysis, subscription_churn_risk

    tx = _transactions(deps)
    purchases = churn_analysis(tx, horizon_days=horizon_weeks * 7)
    subs = _subscriptions_frame(deps)
    if subs.empty:
        return _ChurnModels(purchases, None, "no subscriptions in the database: churn is judged on purchases only")
    try:
        risk = subscription_churn_risk(
            subs,
            tx,
            _tickets_frame(deps),
            as_of=deps.today(),
            horizon_days=horizon_weeks * 7,
            purchase_model=purchases.model,
        )
    except AnalyticsInputError as exc:
        return _ChurnModels(purchases, None, f"no subscription churn model ({exc}): churn is judged on purchases only")
    return _ChurnModels(purchases, risk, None)


def _subscription_method(horizon_weeks: int) -> str:
    return (
        f"P(cancel) = probability that a live subscriber cancels within {horizon_weeks} weeks: logistic regression "
        "trained on past snapshot dates (who was subscribed then, who cancelled in the following "
        f"{horizon_weeks} weeks) on plan, billing period, MRR, tenure, an annual renewal inside the horizon, "
        "6-month MRR change and downgrades, support tickets in 90 days and the BG/NBD P(alive) of the account's "
        "hardware purchases; cancelled accounts are churned, not at risk"
    )


@cached_result("transactions", "tickets")
def _churn_ranked(
    deps: ToolDeps, top_n: int = 20, horizon_weeks: int = 13, valuable_only: bool = False, plan: str | None = None
) -> ToolResult:
    """`churn` for every live subscriber, or every repeat buyer without subscription data (cached)."""
    models = _churn_models(deps, horizon_weeks)
    if models.subscriptions is None:
        return _purchase_churn_ranked(deps, models, top_n, horizon_weeks, valuable_only, plan)
    return _subscription_churn_ranked(
        deps, models.subscriptions, models.purchases, top_n, horizon_weeks, valuable_only, plan
    )


def _names(deps: ToolDeps) -> pd.Series:
    from app.data.queries import customers_frame

    return customers_frame(deps.engine).assign(id=lambda f: f["id"].astype(str)).set_index("id")["name"]


def _risk_chart(
    accounts: pd.DataFrame, customers: list[dict[str, Any]], threshold: float, horizon_weeks: int
) -> dict[str, Any] | None:
    """Live subscribers per P(cancel) band, and the listed accounts' annual value at risk (P(cancel) × MRR × 12)."""
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError:
        return None
    p = accounts["p_cancel"]
    bands = {
        f"low (< {threshold / 2:.0%})": int((p < threshold / 2).sum()),
        "watch": int(((p >= threshold / 2) & (p < threshold)).sum()),
        f"at risk (≥ {threshold:.0%})": int((p >= threshold).sum()),
    }
    shown = customers[:15][::-1]
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=(
            f"Live subscribers by P(cancel), next {horizon_weeks} weeks",
            "Annual value at risk (P(cancel) × MRR × 12)",
        ),
    )
    fig.add_trace(go.Bar(x=list(bands), y=list(bands.values()), name="subscribers"), row=1, col=1)
    fig.add_trace(
        go.Bar(
            x=[c["arr_at_risk"] for c in shown],
            y=[c["customer_id"] for c in shown],
            orientation="h",
            name="value at risk $",
            customdata=[[c["name"], c["p_cancel"]] for c in shown],
            hovertemplate="%{y} %{customdata[0]}<br>P(cancel) %{customdata[1]:.0%}<br>$%{x:,.0f}<extra></extra>",
        ),
        row=1,
        col=2,
    )
    fig.update_layout(showlegend=False)
    chart: dict[str, Any] = fig.to_plotly_json()
    return chart


def _subscription_churn_ranked(
    deps: ToolDeps,
    risk: SubscriptionRiskResult,
    purchases: ChurnResult,
    top_n: int,
    horizon_weeks: int,
    valuable_only: bool,
    plan: str | None,
) -> ToolResult:
    """The live subscribers most likely to cancel within the horizon, from the subscription churn model."""
    accounts = risk.accounts
    scope = "live subscribers"
    if plan:
        accounts = accounts[accounts["plan"] == plan.lower()]
        scope = f"live {plan.title()} subscribers"
    if valuable_only and not accounts.empty:
        accounts = accounts[accounts["mrr"] >= accounts["mrr"].median()]
        scope += " with above-median MRR"
    threshold = risk.risk_threshold
    at_risk = accounts[accounts["p_cancel"] >= threshold]
    top = at_risk.head(top_n)
    names = _names(deps)
    clv = purchases.customers.set_index("customer_id")
    hardware_churned = int(
        (accounts["hardware_p_alive"].fillna(1.0) < 0.3).sum()  # what a purchases-only model would call churned
    )
    customers = [
        {
            "customer_id": str(row["customer_id"]),
            "name": str(names.get(str(row["customer_id"]), row["customer_id"])),
            "plan": str(row["plan"]).title(),
            "billing_period": str(row["billing_period"]),
            "mrr": round(float(row["mrr"]), 2),
            "p_cancel": round(float(row["p_cancel"]), 4),
            "p_alive": None if pd.isna(row["hardware_p_alive"]) else round(float(row["hardware_p_alive"]), 4),
            "arr_at_risk": round(float(row["p_cancel"] * row["mrr"] * 12.0), 2),
            "clv_12m": round(float(clv["clv"].get(str(row["customer_id"]), 0.0)), 2) if "clv" in clv else 0.0,
            "signals": str(row["signals"]),
        }
        for _, row in top.iterrows()
    ]
    rows = [
        [c["customer_id"], c["name"], c["plan"], c["mrr"], f"{c['p_cancel']:.0%}", c["p_alive"], c["signals"]]
        for c in customers
    ]
    expected = float(accounts["p_cancel"].sum())
    headline = (
        f"{len(at_risk):,} of {len(accounts):,} {scope} are at risk of cancelling in the next {horizon_weeks} weeks "
        f"(P(cancel) ≥ {threshold:.0%}, twice the {risk.base_rate:.1%} base rate)"
    )
    facts = [
        f"Expected cancellations in the next {horizon_weeks} weeks: {expected:,.1f} of {len(accounts):,} {scope} "
        f"(data to {risk.as_of})",
        f"{risk.cancelled_recently:,} accounts cancelled in the last {horizon_weeks} weeks: they have churned and "
        "are left out (see win-back)",
        f"Model: held-out AUC {risk.auc:.2f} on {risk.n_train:,} account-snapshots from "
        f"{risk.snapshots[0]} to {risk.snapshots[-1]}; strongest signals: "
        + ", ".join(f"{name} ({coef:+.2f})" for name, coef in risk.coefficients[:4]),
        f"Hardware purchases alone (BG/NBD) would call {hardware_churned:,} of these paying subscribers likely "
        "churned: buying no more sensors is not cancelling the subscription, so P(alive) is shown as a signal only",
    ]
    if plan and accounts.empty:
        headline = f"No live {plan.title()} subscribers to score"
    return ToolResult(
        headline=headline,
        facts=facts,
        table={
            "columns": ["customer", "name", "plan", "MRR $", "P(cancel)", "hardware P(alive)", "signals"],
            "rows": rows,
        },
        method=_subscription_method(horizon_weeks),
        recommendation="Have Customer Success call the at-risk accounts before their renewal or next billing date, "
        "starting with the highest MRR; check their open support tickets first.",
        data={
            "customers": customers,
            "bands": purchases.bands,
            "subscription_risk": {
                "scope": scope,
                "live_subscribers": len(accounts),
                "at_risk": len(at_risk),
                "threshold": round(threshold, 4),
                "base_rate": round(risk.base_rate, 4),
                "expected_cancellations": round(expected, 2),
                "cancelled_recently": risk.cancelled_recently,
                "auc": round(risk.auc, 4),
            },
            "model": purchases.model.to_dict(),
        },
        chart=_risk_chart(accounts, customers, threshold, horizon_weeks),
    )


def _purchase_churn_ranked(
    deps: ToolDeps, models: _ChurnModels, top_n: int, horizon_weeks: int, valuable_only: bool, plan: str | None
) -> ToolResult:
    """The repeat buyers most at risk by the purchase model alone (no subscription data)."""
    from app.analytics.rfm import rfm_segments

    tx = _transactions(deps)
    result = models.purchases
    ranked = result.at_risk(len(result.customers))
    if plan and not ranked.empty:
        on_plan = account_frame(deps.engine, [str(c) for c in ranked["customer_id"]])
        keep = set(on_plan.loc[on_plan["plan"].astype(str).str.lower() == plan.lower(), "customer_id"])
        ranked = ranked[ranked["customer_id"].astype(str).isin(keep)]
    if valuable_only and not ranked.empty:
        ranked = ranked[
            ranked["total_spend"] >= result.customers.loc[result.customers["frequency"] > 0, "total_spend"].median()
        ]
    top = ranked.head(top_n)
    names = _names(deps)
    segments = rfm_segments(tx, order_col="order_id").customers.set_index("customer_id")["segment"]
    customers = [
        {
            "customer_id": str(row["customer_id"]),
            "name": str(names.get(str(row["customer_id"]), row["customer_id"])),
            "segment": str(segments.get(str(row["customer_id"]), "")),
            "p_alive": round(float(row["p_alive"]), 4),
            "historical_value": round(float(row["total_spend"]), 2),
            "clv_12m": round(float(row.get("clv", row["expected_value"])), 2),
            "value_at_risk": round(float(row["value_at_risk"]), 2),
        }
        for _, row in top.iterrows()
    ]
    m = result.model
    gg = result.spend_model
    gg_note = f"; Gamma-Gamma p={gg.p:.2f}, q={gg.q:.2f}, γ={gg.v:.2f}" if gg else ""
    bands = result.bands
    rows = [
        [c["customer_id"], c["name"], c["segment"], c["p_alive"], c["historical_value"], c["clv_12m"]]
        for c in customers
    ]
    return ToolResult(
        headline=(
            f"{bands.get('likely_churned', 0):,} repeat customers are likely churned and {bands.get('at_risk', 0):,} "
            f"at risk; {bands.get('active', 0):,} active"
        ),
        facts=[
            f"BG/NBD fitted on {len(result.customers):,} customers (data to {result.observation_end}): "
            f"r={m.r:.3f}, α={m.alpha:.2f}, a={m.a:.3f}, b={m.b:.3f}{gg_note}",
            f"Expected purchases in the next {horizon_weeks} weeks: {result.customers['expected_purchases'].sum():,.0f}",
            f"{bands.get('one_time_buyers', 0):,} one-time buyers are not ranked (one purchase says little about churn)",
            *([models.note] if models.note else []),
            *result.notes,
        ],
        table={
            "columns": ["customer", "name", "segment", "P(alive)", "spend to date $", "12-month CLV $"],
            "rows": rows,
        },
        method="Based on purchases only: BG/NBD (Fader, Hardie & Lee 2005) probability that a customer still buys, "
        "fitted by maximum likelihood; Gamma-Gamma spend model for CLV; ranked by spend to date × (1 − P(alive))",
        recommendation="Win back the high-value customers with low P(alive) before they are lost for good.",
        data={"customers": customers, "bands": bands, "model": m.to_dict()},
        chart=_chart("churn_chart", result),
    )


@cached_result("transactions", "tickets")
def _churn_customer(deps: ToolDeps, customer_id: str, horizon_weeks: int = 13) -> ToolResult:
    """One customer's churn figures: subscription state, P(cancel), hardware P(alive) and CLV."""
    models = _churn_models(deps, horizon_weeks)
    account = account_frame(deps.engine, [customer_id]).iloc[0].to_dict()
    name = str(account["name"])
    scores = models.purchases.customers.set_index("customer_id")
    p_alive = float(scores.at[customer_id, "p_alive"]) if customer_id in scores.index else None
    clv = float(scores.at[customer_id, "clv"]) if customer_id in scores.index and "clv" in scores else None
    facts = [
        "Hardware purchases (BG/NBD): "
        + (
            "no orders on file"
            if p_alive is None
            else f"P(alive) {p_alive:.2f}, {int(scores.at[customer_id, 'frequency'])} repeat purchases, "
            f"12-month hardware CLV ${clv or 0.0:,.2f}"
        )
    ]
    data: dict[str, Any] = {"customer_id": customer_id, "name": name, "status": account["status"], "p_alive": p_alive}
    data["clv_12m"] = None if clv is None else round(clv, 2)
    risk = models.subscriptions
    live = None if risk is None else risk.accounts[risk.accounts["customer_id"] == customer_id]
    if account["status"] == "churned" or (risk is not None and (live is None or live.empty)):
        when = account["churned_date"]
        headline = (
            f"{customer_id} ({name}) has churned: the {str(account['plan'] or '').title()} subscription was "
            f"cancelled{f' on {when}' if when else ''}"
            if account["status"] == "churned"
            else f"{customer_id} ({name}) has no live subscription"
        )
        method = "Subscription status from the subscriptions table; hardware P(alive) from BG/NBD"
    elif risk is not None and live is not None:
        row = live.iloc[0]
        p_cancel = float(row["p_cancel"])
        level = "at risk" if p_cancel >= risk.risk_threshold else "not at risk"
        headline = (
            f"{customer_id} ({name}): {p_cancel:.1%} probability of cancelling in the next {horizon_weeks} weeks "
            f"({level}; base rate {risk.base_rate:.1%})"
        )
        facts.insert(
            0,
            f"Live {str(row['plan']).title()} subscription, {row['billing_period']} billing, MRR ${row['mrr']:,.2f}; "
            f"signals: {row['signals'] or 'none'}",
        )
        data.update(p_cancel=round(p_cancel, 4), mrr=float(row["mrr"]), plan=str(row["plan"]), signals=row["signals"])
        method = _subscription_method(horizon_weeks)
    else:
        headline = (
            f"{customer_id} ({name}): P(alive) {p_alive:.2f} from hardware purchases"
            if p_alive is not None
            else f"{customer_id} ({name}) has no orders to score"
        )
        method = "Based on purchases only: BG/NBD probability that the customer still buys" + (
            f" ({models.note})" if models.note else ""
        )
    return ToolResult(headline=headline, facts=facts, method=method, data=data)


def customer_value(deps: ToolDeps, customer_id: str, horizon_weeks: int = 13) -> dict[str, Any]:
    """One customer's lifetime value on a revenue basis: revenue to date + the expected next 12 months.

    Revenue to date = subscription revenue (MRR pro-rated by the days active in each calendar month, as every
    revenue figure: `app.data.queries.subscription_revenue_by_month`) + hardware orders; next 12 months = MRR × 12
    of a live subscription + the 12-month hardware CLV (BG/NBD × Gamma-Gamma).

    Raises:
        FatalToolError: no customer `customer_id`.
    """
    from app.analytics.churn import churn_analysis
    from app.data.queries import subscription_revenue_by_month

    customer_id = _require_customer(deps, customer_id)
    account = account_frame(deps.engine, [customer_id]).iloc[0].to_dict()
    subs = _subscriptions_frame(deps)
    subs = subs[subs["customer_id"].astype(str) == customer_id]
    today = deps.today()
    subscription = 0.0
    if not subs.empty:  # the product's revenue: MRR pro-rated by the days active in each calendar month
        first = pd.to_datetime(subs["start_date"]).min().date()
        subscription = float(subscription_revenue_by_month(subs, first, today).sum())
    tx = _transactions(deps)
    hardware = float(tx.loc[tx["customer_id"] == customer_id, "amount"].sum())
    scores = churn_analysis(tx, horizon_days=horizon_weeks * 7).customers.set_index("customer_id")
    clv = float(scores.at[customer_id, "clv"]) if customer_id in scores.index and "clv" in scores else 0.0
    live_mrr = float(account["mrr"] or 0.0) if account["status"] == "active" else 0.0
    return {
        "customer_id": customer_id,
        "name": str(account["name"]),
        "status": str(account["status"]),
        "plan": str(account["plan"] or ""),
        "subscription_revenue_to_date": round(subscription, 2),
        "hardware_revenue_to_date": round(hardware, 2),
        "mrr": round(live_mrr, 2),
        "hardware_clv_12m": round(clv, 2),
        "next_12m": round(live_mrr * 12.0 + clv, 2),
        "ltv": round(subscription + hardware + live_mrr * 12.0 + clv, 2),
    }


def customer_value_result(value: dict[str, Any]) -> ToolResult:
    """`customer_value` as a tool result."""
    return ToolResult(
        headline=f"LTV of {value['customer_id']} ({value['name']}): ${value['ltv']:,.2f} "
        f"(${value['subscription_revenue_to_date'] + value['hardware_revenue_to_date']:,.2f} to date + "
        f"${value['next_12m']:,.2f} expected in the next 12 months)",
        facts=[
            f"Status: {value['status']}, plan {value['plan'].title() or 'none'}",
            f"Revenue to date = subscriptions ${value['subscription_revenue_to_date']:,.2f} + hardware "
            f"${value['hardware_revenue_to_date']:,.2f}",
            f"Next 12 months = MRR ${value['mrr']:,.2f} × 12 + hardware CLV ${value['hardware_clv_12m']:,.2f} "
            f"= ${value['next_12m']:,.2f}",
        ],
        method="Customer LTV (revenue basis) = revenue to date + MRR × 12 of a live subscription + 12-month hardware "
        "CLV (BG/NBD expected purchases × Gamma-Gamma spend, 1% monthly discount)",
        data=value,
    )


def clv(deps: ToolDeps, customer_id: str | None = None, top_n: int = 10) -> ToolResult:
    """The customers with the highest predicted 12-month value, or one customer's LTV."""
    if customer_id:
        return customer_value_result(customer_value(deps, customer_id))
    return _clv_ranked(deps, top_n=top_n)


@cached_result("transactions")
def _clv_ranked(deps: ToolDeps, top_n: int = 10) -> ToolResult:
    """The top customers by 12-month CLV: MRR × 12 of a live subscription + hardware CLV (BG/NBD × Gamma-Gamma)."""
    from app.analytics.churn import churn_analysis
    from app.data.queries import mrr_by_customer

    tx = _transactions(deps)
    result = churn_analysis(tx, horizon_days=91)
    scores = result.customers.set_index("customer_id")
    hardware = scores["clv"] if "clv" in scores else scores["expected_value"]
    mrr = mrr_by_customer(deps.engine, deps.today())
    ids = hardware.index.union(mrr.index)
    frame = pd.DataFrame(
        {"hardware_clv_12m": hardware.reindex(ids).fillna(0.0), "mrr": mrr.reindex(ids).fillna(0.0)}, index=ids
    )
    frame["subscription_12m"] = frame["mrr"] * 12.0
    frame["clv_12m"] = frame["hardware_clv_12m"] + frame["subscription_12m"]
    frame["spend_to_date"] = scores["total_spend"].reindex(ids).fillna(0.0)
    top = frame.sort_values(["clv_12m"], ascending=False, kind="stable").head(top_n)
    names = _names(deps)
    rows = [
        [cid, str(names.get(cid, cid)), round(r.clv_12m, 2), round(r.subscription_12m, 2), round(r.hardware_clv_12m, 2)]
        for cid, r in top.iterrows()
    ]
    return ToolResult(
        headline=f"Top {len(rows)} customers by 12-month CLV: {rows[0][1]} leads with ${rows[0][2]:,.0f}"
        if rows
        else "No customers to rank",
        facts=[
            f"{len(frame):,} customers valued; total 12-month CLV ${frame['clv_12m'].sum():,.0f} "
            f"(subscriptions ${frame['subscription_12m'].sum():,.0f}, hardware ${frame['hardware_clv_12m'].sum():,.0f})",
        ],
        table={"columns": ["customer", "name", "12-month CLV $", "subscription $", "hardware CLV $"], "rows": rows},
        method="12-month CLV = MRR × 12 of the live subscription + hardware CLV (BG/NBD expected purchases × "
        "Gamma-Gamma average spend, 1% monthly discount)",
        data={"customers": [{"customer_id": r[0], "name": r[1], "clv_12m": r[2]} for r in rows]},
    )


def counts(
    deps: ToolDeps, period: str | None = None, segment: str | None = None, channel: str | None = None
) -> ToolResult:
    """New customers (signups) and churned customers (cancellations) in a period, of one segment or channel.

    Without a period the question is in the present tense ("how many customers do we have?"): the answer leads
    with the customers today (the data's last day), then last month's new and churned customers.

    Raises:
        FatalToolError: an unknown segment or channel (never counted for every customer instead).
    """
    return _counts(deps, period=period, segment=known_segment(segment), channel=known_channel(channel))


def _scope_label(segment: str | None, channel: str | None) -> str:
    """Who a count covers: "segment enterprise, channel paid_search", or "all customers"."""
    parts = [*([f"segment {segment}"] if segment else []), *([f"channel {channel}"] if channel else [])]
    return ", ".join(parts) or "all customers"


@cached_result("transactions")
def _counts(
    deps: ToolDeps, period: str | None = None, segment: str | None = None, channel: str | None = None
) -> ToolResult:
    """`counts` from the customers table (cached), for the segment and channel given."""
    import sqlalchemy as sa

    from app.data.schema import customers

    p = deps.period(period, "last month")
    today = deps.today()
    c = customers.c
    scope = [*([c.segment == segment] if segment else []), *([c.acquisition_channel == channel] if channel else [])]

    def customers_on(day: dt.date) -> Any:
        """Accounts signed up by `day` and not cancelled by then."""
        return sa.select(sa.func.count()).where(
            c.signup_date <= day, sa.or_(c.churned_date.is_(None), c.churned_date > day), *scope
        )

    with deps.engine.connect() as conn:
        active_today = conn.execute(customers_on(today)).scalar_one()
        new = conn.execute(
            sa.select(sa.func.count()).where(c.signup_date >= p.start, c.signup_date <= p.end, *scope)
        ).scalar_one()
        churned = conn.execute(
            sa.select(sa.func.count()).where(
                c.status == "churned", c.churned_date >= p.start, c.churned_date <= p.end, *scope
            )
        ).scalar_one()
        active_end = conn.execute(customers_on(p.end)).scalar_one()
    label = _scope_label(segment, channel)
    who = "" if not scope else f" ({label})"
    in_period = f"{new:,} new customers acquired, {churned:,} churned (net {new - churned:+,})"
    today_fact = f"Customers{who} today ({today}, the last day in the data): {active_today:,}"
    facts = [
        f"New customers{who} = accounts whose signup date is {p.start} to {p.end}: {new:,}",
        f"Churned{who} = accounts whose subscription was cancelled {p.start} to {p.end}: {churned:,}",
        f"Customers{who} at the end of the period ({p.end}): {active_end:,}",
    ]
    if period is None:  # "how many customers do we have?": today's count first
        headline = f"{active_today:,} customers{who} today ({today}); {p.label}: {in_period}"
        facts.insert(0, f"{today_fact} = accounts signed up by {today} and not cancelled")
    else:
        headline = f"{p.label}{who}: {in_period}"
        if p.end < today:
            facts.append(today_fact)
    return ToolResult(
        headline=headline,
        facts=facts,
        method="Counts from the customers table: signup date for new customers, cancellation (churn) date for "
        "churned ones" + (f"; only accounts with {' and '.join(_scope_words(segment, channel))}" if scope else ""),
        data={
            "period": p.label,
            "start": str(p.start),
            "end": str(p.end),
            "scope": label,
            "segment": segment,
            "channel": channel,
            "new_customers": new,
            "churned": churned,
            "customers_end": active_end,
            "today": str(today),
            "customers_today": active_today,
        },
    )


def _scope_words(segment: str | None, channel: str | None) -> list[str]:
    """The filters of a count in words ("segment = enterprise", "acquisition channel = paid_search")."""
    return [*([f"segment = {segment}"] if segment else []), *([f"acquisition channel = {channel}"] if channel else [])]


def churn_rate(
    deps: ToolDeps, period: str = "last quarter", segment: str | None = None, channel: str | None = None
) -> ToolResult:
    """Churn rate of a period: accounts that cancelled / accounts paying at its start, and per month.

    Raises:
        FatalToolError: an unknown segment or channel, both at once, or no paying accounts before the period.
    """
    segment, channel = known_segment(segment), known_channel(channel)
    if segment and channel:
        raise FatalToolError(
            f"the churn rate is split by a segment or by a channel, not both at once (asked: segment {segment} and "
            f"channel {channel}); ask for one of them"
        )
    return _churn_rate(deps, period=period, segment=segment, channel=channel)


@cached_result("transactions")
def _churn_rate(
    deps: ToolDeps, period: str = "last quarter", segment: str | None = None, channel: str | None = None
) -> ToolResult:
    """`churn_rate` from the subscriptions (cached)."""
    from app.analytics.unit_economics import MetricUnavailableError
    from app.analytics.unit_economics import churn_rate as compute_churn_rate

    p = deps.period(period, "last quarter")
    if p.start > (last := deps.today()):
        raise FatalToolError(f"{p.label} starts after the data ends ({last}): no cancellations to count yet")
    try:
        result = compute_churn_rate(deps.engine, p, channel=channel, segment=segment)
    except MetricUnavailableError as exc:
        raise FatalToolError(str(exc)) from exc
    churned = int(result.inputs["churned_accounts"].value)
    active = int(result.inputs["active_accounts_start"].value)
    monthly = result.inputs["monthly_churn"].value
    months = [m for m in result.breakdown if m["active_start"]]
    rows = [[m["month"], m["active_start"], m["churned"], f"{m['churn_rate_pct']:.2f}%"] for m in months]
    return ToolResult(
        headline=f"Churn rate — {p.label} ({result.scope}): {churned:,} of {active:,} paying accounts cancelled = "
        f"{result.result:.2f}% ({monthly:.2f}% a month)",
        facts=[f"Formula: {result.formula}", *result.steps[: len(result.steps) - len(months)], result.benchmark],
        table={"columns": ["month", "paying at start", "cancelled", "churn rate"], "rows": rows},
        method=f"{result.formula}; {result.assumptions[0]} ({result.start} to {result.end})",
        recommendation=result.recommendation,
        data=result.to_dict(),
    )


_EXCLUDED_FACTS = {
    "enterprise": "Enterprise accounts left to their Customer Success Manager (no win-back email)",
    "plan": "accounts without a Starter or Growth plan on file",
    "cooldown": "accounts already sent a win-back in the last 12 months",
}


def winback_candidates(deps: ToolDeps, top_n: int = 25, horizon_weeks: int = 13) -> ToolResult:
    """The accounts the win-back policy allows (`winback_status`), most valuable first.

    Cancelled Starter and Growth accounts whose cancellation falls in the 90 days up to the data's last date,
    without a win-back email in the last 12 months, ranked by the 12-month value a reactivation brings back:
    former MRR x 12 plus the 12-month hardware CLV of the churn model (BG/NBD + Gamma-Gamma).
    """
    from app.analytics._validation import AnalyticsInputError
    from app.analytics.churn import churn_analysis
    from app.analytics.rfm import rfm_segments
    from app.data.queries import transactions_frame

    as_of = deps.today()
    since = as_of - dt.timedelta(days=WINBACK_WINDOW_DAYS)
    pool = account_frame(deps.engine, churned_since=since).to_dict(orient="records")
    sent = last_winbacks(deps.engine, [str(a["customer_id"]) for a in pool])
    verdicts = {str(a["customer_id"]): winback_status(a, as_of, sent.get(str(a["customer_id"]))) for a in pool}
    chosen = [a for a in pool if verdicts[str(a["customer_id"])].kind != "excluded"]

    tx = transactions_frame(deps.engine)
    scores = pd.DataFrame(columns=["p_alive", "total_spend", "clv"])
    segments: pd.Series = pd.Series(dtype=str)
    result = None
    notes: list[str] = []
    if not tx.empty:
        try:
            result = churn_analysis(tx, horizon_days=horizon_weeks * 7)
            scores = result.customers.set_index("customer_id")
            segments = rfm_segments(tx, order_col="order_id").customers.set_index("customer_id")["segment"]
        except AnalyticsInputError as exc:
            notes.append(f"no churn model: {exc}")

    def score(customer_id: str, column: str) -> float | None:
        if customer_id not in scores.index or column not in scores.columns or pd.isna(scores.at[customer_id, column]):
            return None
        return float(scores.at[customer_id, column])

    customers = []
    for a in chosen:
        cid = str(a["customer_id"])
        verdict = verdicts[cid]
        clv = score(cid, "clv") if "clv" in scores.columns else score(cid, "expected_value")
        mrr = float(a.get("mrr") or 0.0)
        value = 12.0 * mrr + (clv or 0.0)
        p_alive = score(cid, "p_alive")
        customers.append(
            {
                "customer_id": cid,
                "name": str(a["name"]),
                "segment": str(segments.get(cid, "")),
                "p_alive": None if p_alive is None else round(p_alive, 4),
                "historical_value": round(score(cid, "total_spend") or 0.0, 2),
                "clv_12m": round(clv or 0.0, 2),
                "value_at_risk": round(value, 2),
                "plan": str(a["plan"]).title(),
                "churned_date": a["churned_date"].isoformat(),
                "data_kept_until": verdict.data_kept_until.isoformat() if verdict.data_kept_until else None,
                "mrr": round(mrr, 2),
                "value_12m": round(value, 2),
                "offer": "free_month" if verdict.kind == "offer" else "none",
                "incentive_usd": verdict.incentive_usd,
            }
        )
    customers.sort(key=lambda c: (-c["value_12m"], c["customer_id"]))
    eligible = len(customers)
    customers = customers[:top_n]

    rules: dict[str, int] = {}
    for verdict in verdicts.values():
        rules[verdict.rule] = rules.get(verdict.rule, 0) + 1
    facts = [
        f"{len(pool)} accounts cancelled in the {WINBACK_WINDOW_DAYS} days to {as_of.isoformat()} "
        f"(the last date in the data); their data is kept for {WINBACK_WINDOW_DAYS} days after cancelling"
    ]
    facts += [f"Left out: {rules[rule]} {text}" for rule, text in _EXCLUDED_FACTS.items() if rules.get(rule)]
    if rules.get("discount"):
        facts.append(
            f"{rules['discount']} accounts with the nonprofit or education discount get a reminder of their data "
            "and the 90-day window, without an offer"
        )
    if eligible > top_n:
        facts.append(f"Showing the {top_n} most valuable of {eligible} qualifying accounts")
    if result is not None:
        m = result.model
        facts.append(
            f"Hardware CLV from BG/NBD fitted on {len(result.customers):,} customers (data to "
            f"{result.observation_end}): r={m.r:.3f}, α={m.alpha:.2f}, a={m.a:.3f}, b={m.b:.3f}"
        )
    facts += notes
    if eligible:
        headline = (
            f"{eligible} accounts qualify for a win-back: Starter and Growth accounts cancelled in the last "
            f"{WINBACK_WINDOW_DAYS} days, no win-back in the last 12 months"
        )
        recommendation = "Send each account one offer (a free month of the plan it had) while its data is still kept."
    else:
        headline = (
            f"No account qualifies for a win-back: none of the {len(pool)} accounts cancelled in the last "
            f"{WINBACK_WINDOW_DAYS} days is a Starter or Growth account without a win-back in the last 12 months"
        )
        recommendation = "Nothing to send now; Enterprise accounts are for their Customer Success Manager."
    rows = [
        [c["customer_id"], c["name"], c["plan"], c["churned_date"], c["mrr"], c["p_alive"], c["value_12m"]]
        for c in customers
    ]
    return ToolResult(
        headline=headline,
        facts=facts,
        table={
            "columns": ["customer", "name", "plan", "cancelled", "former MRR $", "P(alive)", "12-month value $"],
            "rows": rows,
        },
        method="Win-back policy (brand-voice.md): Starter and Growth accounts cancelled within "
        f"{WINBACK_WINDOW_DAYS} days of the data's last date, one win-back per account in 12 months (outbox); "
        "ranked by former MRR × 12 + 12-month hardware CLV (BG/NBD + Gamma-Gamma)",
        recommendation=recommendation,
        data={
            "customers": customers,
            "as_of": as_of.isoformat(),
            "window_days": WINBACK_WINDOW_DAYS,
            "cancelled_in_window": len(pool),
            "eligible": eligible,
            "rules": rules,
            "bands": result.bands if result is not None else {},
            "model": result.model.to_dict() if result is not None else None,
        },
        chart=winback_chart(customers),
    )


def winback_chart(customers: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The chart of a win-back: the selected `customers` (of `winback_candidates`) by 12-month value.

    None without customers: a win-back's chart is about the accounts it selected, never other customers.
    """
    if not customers:
        return None
    frame = pd.DataFrame(customers, columns=["customer_id", "name", "plan", "mrr", "clv_12m"])
    return _chart("winback_chart", frame)


@cached_result("transactions")
def cohorts(deps: ToolDeps, months: int = 12) -> ToolResult:
    """Monthly cohort retention by first-purchase month."""
    from app.analytics.cohort import cohort_retention

    result = cohort_retention(_transactions(deps), max_periods=months)
    curve = result.average_curve
    facts = [f"{len(result.cohorts)} monthly cohorts, {sum(result.sizes):,} customers; data to {result.last_month}"]
    for month in (1, 3, 6, 12):
        if month < len(curve) and curve[month] is not None:
            facts.append(f"Average hardware repeat-purchase rate in month {month}: {curve[month]:.1%}")
    rows = [
        [c, s, *[f"{v:.0%}" if v is not None else "" for v in r[1:7]]]
        for c, s, r in list(zip(result.cohorts, result.sizes, result.retention, strict=True))[-12:]
    ]
    return ToolResult(
        headline=f"Hardware repeat purchases: {curve[1]:.1%} of customers buy again in month 1 (purchase cohorts, "
        "not subscription retention)"
        if len(curve) > 1 and curve[1] is not None
        else "Purchase cohorts",
        facts=facts,
        table={"columns": ["cohort", "customers", *[f"M{i}" for i in range(1, 7)]], "rows": rows},
        method="Customers grouped by first hardware-purchase month; share placing another hardware order in each "
        "later month (a subscriber who buys no more hardware counts as not retained here: for subscription "
        "retention see NRR and churn risk)",
        data=result.to_dict(),
        chart=_cohort_chart(result),
    )


def _cohort_chart(result: Any) -> dict[str, Any] | None:
    """The cohort heatmap titled for what it plots: hardware repeat purchases, not subscription retention."""
    try:
        from app.analytics.charts import cohort_heatmap
    except ImportError:
        return None
    fig = cohort_heatmap(
        result,
        title="Hardware repeat purchases by first-purchase month (not subscription retention)",
        measure="% of cohort ordering hardware",
    )
    chart: dict[str, Any] = fig.to_plotly_json()
    return chart


OPEN_LEAD_DAYS = 60
"""A lead created this recently that has not converted may still convert (99 % of the demo's conversions
happen within 60 days): its outcome is unknown, so it is scored, not learned from as a loss."""
LEAD_DETAILS = ("created_date", "source_channel", "company_size", "pages_viewed", "demo_requested")
"""Columns shown next to each ranked lead."""
LEAD_COLUMNS = ("created", "channel", "company size", "pages viewed", "demo requested")
"""Their headings."""


def _open_leads(frame: pd.DataFrame, today: dt.date) -> tuple[pd.DataFrame, int]:
    """`frame` with the outcome of recent unconverted leads unknown (NaN), and how many those are."""
    if "created_date" not in frame.columns or "converted" not in frame.columns:
        return frame, 0
    created = pd.to_datetime(frame["created_date"], errors="coerce")
    converted = frame["converted"].astype("float64")
    still_open = (created >= pd.Timestamp(today - dt.timedelta(days=OPEN_LEAD_DAYS))) & (converted == 0)
    out = frame.assign(converted=converted.mask(still_open))
    return out, int(still_open.sum())


@cached_result("channels")
def leads(deps: ToolDeps, top_n: int = 10, channel: str | None = None) -> ToolResult:
    """Lead scoring with logistic regression; AUC on held-out leads; the best open leads (of one channel)."""
    from app.analytics.leads import score_leads
    from app.data.queries import leads_frame

    frame = leads_frame(deps.engine)
    if frame.empty:
        raise MissingDataError("no leads in the database")
    id_col = "lead_id" if "lead_id" in frame.columns else ("id" if "id" in frame.columns else None)
    frame, still_open = _open_leads(frame, deps.today())
    result = score_leads(frame, "converted", id_col=id_col)
    top = result.top_leads(len(frame) if channel else top_n)
    if channel and id_col and "source_channel" in frame.columns:
        in_channel = set(frame.loc[frame["source_channel"] == channel, id_col].astype(str))
        top = top[top["lead"].astype(str).isin(in_channel)]
        still_open = int(frame.loc[frame["source_channel"] == channel, "converted"].isna().sum())
    top = top.head(top_n)
    details = frame.set_index(id_col).reindex([str(r["lead"]) for _, r in top.iterrows()]) if id_col else None
    rows = []
    for position, (_, r) in enumerate(top.iterrows(), 1):
        row: list[Any] = [position, str(r["lead"]), round(float(r["score"]), 3)]
        if details is not None:
            info = details.loc[str(r["lead"])]
            row += [str(info.get(c, ""))[:10] if c == "created_date" else info.get(c, "") for c in LEAD_DETAILS]
        rows.append(row)
    drivers = ", ".join(f"{name} ({coef:+.2f})" for name, coef in result.coefficients[:4])
    source = f" from {channel}" if channel else ""
    return ToolResult(
        headline=f"Top {len(rows)} open leads{source} by conversion score (model AUC {result.auc:.3f} on "
        f"{result.n_test:,} held-out leads)"
        if rows
        else f"Lead-scoring model: AUC {result.auc:.3f} on {result.n_test:,} held-out leads; no open leads to rank",
        facts=[
            f"Trained on {result.n_train:,} labelled leads; conversion rate {result.conversion_rate:.1%}",
            f"Open leads{source}: {still_open:,} created in the last {OPEN_LEAD_DAYS} days without a conversion yet",
            f"Strongest drivers: {drivers}",
        ],
        table={"columns": ["#", "lead", "score", *LEAD_COLUMNS][: len(rows[0]) if rows else 3], "rows": rows},
        method="Logistic regression on standardised numeric and one-hot categorical lead features",
        recommendation="Route the top-scored open leads to sales first.",
        data={
            "auc": result.auc,
            "n_test": result.n_test,
            "open_leads": still_open,
            "channel": channel,
            "top": [r[1] for r in rows],
        },
    )


@cached_result("channels")
def lead_volume(deps: ToolDeps, period: str = "last month", channel: str | None = None) -> ToolResult:
    """How many leads were created in a period, by source channel, vs the period before (from the leads table)."""
    from app.analytics.leads import count_leads
    from app.data.queries import leads_frame

    p = deps.period(period, "last month")
    previous = p.previous()
    frame = leads_frame(deps.engine)
    if frame.empty:
        raise MissingDataError("no leads in the database")
    if channel is not None:
        frame = frame[frame["source_channel"] == channel]
    counts = count_leads(frame, p.start, p.end, previous=(previous.start, previous.end))
    _, still_open = _open_leads(frame, deps.today())
    source = f" from {channel}" if channel else ""
    change = counts.change_pct
    vs = f"{counts.previous_total:,} in {previous.label}" + ("" if change is None else f", {change:+.1f}%")
    facts = [
        f"Previous period: {vs}",
        f"Converted to customers so far: {counts.converted:,} of them"
        + (f" ({counts.converted / counts.total:.1%})" if counts.total else ""),
        f"Open leads{source} now: {still_open:,} created in the last {OPEN_LEAD_DAYS} days without a conversion yet",
    ]
    if channel is None and counts.by_group:
        facts.insert(0, "By channel: " + ", ".join(f"{g} {n:,}" for g, n, _ in counts.by_group))
    rows = [[g, n, f"{n / counts.total:.1%}" if counts.total else "n/a", c] for g, n, c in counts.by_group]
    return ToolResult(
        headline=f"{p.label}: {counts.total:,} new leads{source}",
        facts=facts,
        table={"columns": ["channel", "leads", "share", "converted so far"], "rows": rows},
        method=f"Leads whose created date is {p.start} to {p.end}, counted by source channel, from the leads table; "
        f"compared with {previous.start} to {previous.end}",
        data={
            "period": p.label,
            "start": str(p.start),
            "end": str(p.end),
            "channel": channel,
            "open_leads": still_open,
            **counts.to_dict(),
        },
    )


def build_insights_tools(deps: ToolDeps) -> list[BaseTool]:
    """The Insights agent's tools."""
    tool = partial(make_tool, deps)

    return [
        tool(
            rfm,
            "rfm_segments",
            "RFM segmentation: score customers on recency, frequency and monetary value and group them into named segments (Champions, Loyal, At Risk, Hibernating...) with counts and revenue.",
            RfmArgs,
        ),
        tool(
            churn,
            "churn_risk",
            "Churn prediction: probability each customer is still active (BG/NBD), expected purchases and lifetime value; lists customers likely to churn or who stopped buying.",
            ChurnArgs,
        ),
        tool(
            clv,
            "customer_clv",
            "Customer lifetime value (CLV, LTV) per customer: top customers ranked by predicted 12-month value "
            "(subscription MRR × 12 + BG/NBD × Gamma-Gamma hardware CLV), or one customer's LTV.",
            ClvArgs,
        ),
        tool(
            counts,
            "customer_counts",
            "How many customers: new customers acquired (signups) and customers churned (cancellations) in a period, "
            "with the net change, for all customers or one segment or acquisition channel.",
            CountArgs,
        ),
        tool(
            churn_rate,
            "churn_rate",
            "Churn rate: the share of paying accounts that cancelled in a period (cancelled / paying at its start), "
            "per month too, for all customers or one segment or acquisition channel.",
            ChurnRateArgs,
        ),
        tool(
            cohorts,
            "cohort_retention",
            "Cohort analysis: retention matrix of customers grouped by first-purchase month, how many come back each month.",
            CohortArgs,
        ),
        tool(
            leads,
            "score_leads",
            "Lead scoring: probability each lead converts, model AUC, best leads to call first.",
            LeadArgs,
        ),
        tool(
            lead_volume,
            "lead_counts",
            "How many leads: new leads created in a period, by source channel, with the change vs the period before.",
            LeadCountArgs,
        ),
    ]
