"""Insights tools: RFM segments, churn risk (BG/NBD + Gamma-Gamma), cohort retention, lead scoring."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import pandas as pd
from langchain_core.tools import BaseTool
from pydantic import BaseModel, Field

from app.cache.tools import cached_result
from graph.tools.base import FatalToolError, ToolResult
from graph.tools.deps import ToolDeps, make_tool


class RfmArgs(BaseModel):
    """Arguments of `rfm_segments`."""

    segment: str | None = Field(default=None, description="Optional segment to list customers of, e.g. 'At Risk'")


class ChurnArgs(BaseModel):
    """Arguments of `churn_risk`."""

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


class LeadArgs(BaseModel):
    """Arguments of `score_leads`."""

    top_n: int = Field(default=10, ge=1, le=200, description="How many open leads to list")


def _transactions(deps: ToolDeps) -> pd.DataFrame:
    from app.data.queries import transactions_frame

    df = transactions_frame(deps.engine)
    if df.empty:
        raise FatalToolError("the business database has no transactions yet: run `gtm data seed` or import some")
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
    best = result.segments[0] if result.segments else None
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
        f"{len(result.segments)} RFM segments; largest revenue share: {max(result.segments, key=lambda s: s.revenue).segment}"
        if result.segments
        else "No customers to segment"
    )
    return ToolResult(
        headline=headline,
        facts=facts,
        table={"columns": ["segment", "customers", "share", "revenue $", "revenue share", "action"], "rows": rows},
        method="RFM quintile scores (1–5) on recency, frequency (orders) and monetary value; standard R/FM segment map",
        recommendation=best.action if best else None,
        data=result.to_dict(max_customers_per_segment=20),
        chart=_chart("rfm_segment_chart", result),
    )


def churn(
    deps: ToolDeps,
    top_n: int = 20,
    horizon_weeks: int = 13,
    valuable_only: bool = False,
    winback_eligible: bool = False,
) -> ToolResult:
    """Probability alive (BG/NBD) and CLV (Gamma-Gamma) per customer; the repeat buyers most at risk.

    With `winback_eligible`, the accounts the win-back policy allows instead (`winback_candidates`); that
    answer reads the outbox, which no data version tracks, so it is never cached.
    """
    if winback_eligible:
        return winback_candidates(deps, top_n=top_n, horizon_weeks=horizon_weeks)
    return _churn_ranked(deps, top_n=top_n, horizon_weeks=horizon_weeks, valuable_only=valuable_only)


@cached_result("transactions")
def _churn_ranked(deps: ToolDeps, top_n: int = 20, horizon_weeks: int = 13, valuable_only: bool = False) -> ToolResult:
    """`churn` for every repeat buyer (cached: depends on the transactions only)."""
    from app.analytics.churn import churn_analysis
    from app.analytics.rfm import rfm_segments
    from app.data.queries import customers_frame

    tx = _transactions(deps)
    result = churn_analysis(tx, horizon_days=horizon_weeks * 7)
    ranked = result.at_risk(len(result.customers))
    if valuable_only and not ranked.empty:
        ranked = ranked[
            ranked["total_spend"] >= result.customers.loc[result.customers["frequency"] > 0, "total_spend"].median()
        ]
    top = ranked.head(top_n)
    names = customers_frame(deps.engine).assign(id=lambda f: f["id"].astype(str)).set_index("id")["name"]
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
            *result.notes,
        ],
        table={
            "columns": ["customer", "name", "segment", "P(alive)", "spend to date $", "12-month CLV $"],
            "rows": rows,
        },
        method="BG/NBD (Fader, Hardie & Lee 2005) fitted by maximum likelihood; Gamma-Gamma spend model for CLV; "
        "ranked by spend to date × (1 − P(alive))",
        recommendation="Win back the high-value customers with low P(alive) before they are lost for good.",
        data={"customers": customers, "bands": bands, "model": m.to_dict()},
        chart=_chart("churn_chart", result),
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
        chart=_chart("churn_chart", result) if result is not None else None,
    )


@cached_result("transactions")
def cohorts(deps: ToolDeps, months: int = 12) -> ToolResult:
    """Monthly cohort retention by first-purchase month."""
    from app.analytics.cohort import cohort_retention

    result = cohort_retention(_transactions(deps), max_periods=months)
    curve = result.average_curve
    facts = [f"{len(result.cohorts)} monthly cohorts, {sum(result.sizes):,} customers; data to {result.last_month}"]
    for month in (1, 3, 6, 12):
        if month < len(curve) and curve[month] is not None:
            facts.append(f"Average retention in month {month}: {curve[month]:.1%}")
    rows = [
        [c, s, *[f"{v:.0%}" if v is not None else "" for v in r[1:7]]]
        for c, s, r in list(zip(result.cohorts, result.sizes, result.retention, strict=True))[-12:]
    ]
    return ToolResult(
        headline=f"Month-1 retention averages {curve[1]:.1%}"
        if len(curve) > 1 and curve[1] is not None
        else "Cohort retention",
        facts=facts,
        table={"columns": ["cohort", "customers", *[f"M{i}" for i in range(1, 7)]], "rows": rows},
        method="Customers grouped by first-purchase month; share purchasing again in each later month",
        data=result.to_dict(),
        chart=_chart("cohort_heatmap", result),
    )


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
def leads(deps: ToolDeps, top_n: int = 10) -> ToolResult:
    """Lead scoring with logistic regression; AUC on held-out leads."""
    from app.analytics.leads import score_leads
    from app.data.queries import leads_frame

    frame = leads_frame(deps.engine)
    if frame.empty:
        raise FatalToolError("no leads in the database")
    id_col = "lead_id" if "lead_id" in frame.columns else ("id" if "id" in frame.columns else None)
    frame, still_open = _open_leads(frame, deps.today())
    result = score_leads(frame, "converted", id_col=id_col)
    top = result.top_leads(top_n)
    details = frame.set_index(id_col).reindex([str(r["lead"]) for _, r in top.iterrows()]) if id_col else None
    rows = []
    for position, (_, r) in enumerate(top.iterrows(), 1):
        row: list[Any] = [position, str(r["lead"]), round(float(r["score"]), 3)]
        if details is not None:
            info = details.loc[str(r["lead"])]
            row += [str(info.get(c, ""))[:10] if c == "created_date" else info.get(c, "") for c in LEAD_DETAILS]
        rows.append(row)
    drivers = ", ".join(f"{name} ({coef:+.2f})" for name, coef in result.coefficients[:4])
    return ToolResult(
        headline=f"Top {len(rows)} open leads by conversion score (model AUC {result.auc:.3f} on {result.n_test:,} "
        "held-out leads)"
        if rows
        else f"Lead-scoring model: AUC {result.auc:.3f} on {result.n_test:,} held-out leads; no open leads to rank",
        facts=[
            f"Trained on {result.n_train:,} labelled leads; conversion rate {result.conversion_rate:.1%}",
            f"Open leads: {still_open:,} created in the last {OPEN_LEAD_DAYS} days without a conversion yet",
            f"Strongest drivers: {drivers}",
        ],
        table={"columns": ["#", "lead", "score", *LEAD_COLUMNS][: len(rows[0]) if rows else 3], "rows": rows},
        method="Logistic regression on standardised numeric and one-hot categorical lead features",
        recommendation="Route the top-scored open leads to sales first.",
        data={"auc": result.auc, "n_test": result.n_test, "open_leads": still_open, "top": [r[1] for r in rows]},
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
    ]
