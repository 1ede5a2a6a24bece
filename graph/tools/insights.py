"""Insights tools: RFM segments, churn risk (BG/NBD + Gamma-Gamma), cohort retention, lead scoring."""

from __future__ import annotations

from functools import partial
from typing import Any

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
        f"{result.total_customers:,} customers scored as of {result.as_of}; total revenue ${result.total_revenue:,.0f}"
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


@cached_result("transactions")
def churn(deps: ToolDeps, top_n: int = 20, horizon_weeks: int = 13, valuable_only: bool = False) -> ToolResult:
    """Probability alive (BG/NBD) and CLV (Gamma-Gamma) per customer; the repeat buyers most at risk."""
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


@cached_result("channels")
def leads(deps: ToolDeps, top_n: int = 10) -> ToolResult:
    """Lead scoring with logistic regression; AUC on held-out leads."""
    from app.analytics.leads import score_leads
    from app.data.queries import leads_frame

    frame = leads_frame(deps.engine)
    if frame.empty:
        raise FatalToolError("no leads in the database")
    id_col = "lead_id" if "lead_id" in frame.columns else ("id" if "id" in frame.columns else None)
    result = score_leads(frame, "converted", id_col=id_col)
    top = result.top_leads(top_n)
    rows = [[str(r["lead"]), round(float(r["score"]), 3), int(r["rank"])] for _, r in top.iterrows()]
    drivers = ", ".join(f"{name} ({coef:+.2f})" for name, coef in result.coefficients[:4])
    return ToolResult(
        headline=f"Lead-scoring model: AUC {result.auc:.3f} on {result.n_test:,} held-out leads",
        facts=[
            f"Trained on {result.n_train:,} labelled leads; conversion rate {result.conversion_rate:.1%}",
            f"Strongest drivers: {drivers}",
        ],
        table={"columns": ["lead", "score", "rank"], "rows": rows},
        method="Logistic regression on standardised numeric and one-hot categorical lead features",
        recommendation="Route the top-scored open leads to sales first.",
        data={"auc": result.auc, "n_test": result.n_test, "top": [r[0] for r in rows]},
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
