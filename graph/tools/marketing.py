"""Marketing tools: channel analytics, campaign briefs and personalised email context.

Campaign briefs are grounded in segment data; email context gives the last purchase and a
co-purchase recommendation.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any, Literal, get_args

from langchain_core.tools import BaseTool
from pydantic import BaseModel, Field

from app.analytics.rfm import SEGMENTS
from app.cache.tools import cached_result
from graph.tools.base import FatalToolError, ToolResult
from graph.tools.deps import ToolDeps, make_tool

Segment = Literal[
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
]
SEGMENT_ALIASES: dict[str, Any] = {
    "Champions": ["best customers", "top customers", "vip", "vips"],
    "Loyal": ["loyal customers", "regulars"],
    "New Customers": ["new customers", "recent signups", "new buyers"],
    "At Risk": ["at-risk", "at risk customers", "slipping"],
    "Can't Lose Them": ["cant lose them", "can not lose"],
    "Hibernating": ["dormant", "inactive", "lapsed"],
    "Lost": ["churned", "lost customers", "former customers"],
}
WINBACK_INCENTIVE = "one free month of Lumio Cloud (or 20% off your next hardware order)"
"""The brand-voice policy's win-back offer."""


class ChannelArgs(BaseModel):
    """Arguments of `channel_performance`."""

    period: str = Field(default="last 30 days", description="Period phrase, e.g. 'last 30 days', 'last quarter'")


class CampaignArgs(BaseModel):
    """Arguments of `generate_campaign`."""

    target_segment: Segment = Field(
        default="At Risk", description="RFM segment to target", json_schema_extra={"x-aliases": SEGMENT_ALIASES}
    )
    campaign_type: Literal["email", "paid social", "webinar", "direct mail", "multi-channel"] = Field(default="email")
    budget: float = Field(default=5000.0, gt=0, le=10_000_000, description="Budget in USD")
    goal: str = Field(default="re-engage customers and grow repeat orders", max_length=500)


CUSTOMER_ID_FIND = r"\b(C\d{3,})\b|\bcustomers?\s+(?:id\s+)?#?(\d+)\b"
"""Where the offline model finds customer ids in a request (JSON-schema `x-find`): the demo's "C00042", or an
imported numeric id after "customer" ("customer 1234")."""


class EmailArgs(BaseModel):
    """Arguments of `draft_email`."""

    customer_id: str = Field(
        min_length=1, description="Customer id, e.g. C00042", json_schema_extra={"x-find": CUSTOMER_ID_FIND}
    )
    tone: Literal["warm", "friendly", "professional", "urgent"] = "warm"


class ContextArgs(BaseModel):
    """Arguments of `customer_context`."""

    customer_ids: list[str] = Field(description="Customers to look up", json_schema_extra={"x-find": CUSTOMER_ID_FIND})


@cached_result("transactions", "channels")
def channels(deps: ToolDeps, period: str = "last 30 days") -> ToolResult:
    """Spend, CTR, conversion, CAC and ROAS by channel with change vs the previous period."""
    from app.analytics.channels import channel_report
    from app.analytics.charts import channel_chart

    p = deps.period(period, "last 30 days")
    report = channel_report(deps.engine, p)
    d = report.to_dict()

    def pct(value: Any) -> str:
        return "n/a" if value is None else f"{value:+.1f}%"

    rows = [
        [
            c["channel"],
            round(c["spend"] or 0),
            f"{(c['ctr'] or 0):.2%}",
            f"{(c['conversion_rate'] or 0):.2%}",
            None if c["cac"] is None else round(c["cac"]),
            None if c["roas"] is None else round(c["roas"], 2),
            pct(c["roas_change_pct"]),
        ]
        for c in d["channels"]
    ]
    total = d["total"]
    frame = report.frame().drop(index="total", errors="ignore").reset_index()
    return ToolResult(
        headline=(
            f"{p.label}: ${total['spend'] or 0:,.0f} spend, ROAS {total['roas'] or 0:.2f} ({pct(total['roas_change_pct'])} vs previous period), "
            f"blended CAC ${total['cac'] or 0:,.0f}"
        ),
        facts=list(d["notes"]),
        table={"columns": ["channel", "spend $", "CTR", "conversion", "CAC $", "ROAS", "ROAS change"], "rows": rows},
        method=f"{p.start} to {p.end} vs {report.previous.start} to {report.previous.end}; "
        + "; ".join(f"{k} = {v}" for k, v in d["definitions"].items()),
        data=d,
        chart=channel_chart(frame[["channel", "spend", "cac", "roas"]]).to_plotly_json(),
    )


@cached_result("transactions")
def campaign(
    deps: ToolDeps,
    target_segment: str = "At Risk",
    campaign_type: str = "email",
    budget: float = 5000.0,
    goal: str = "re-engage customers and grow repeat orders",
) -> ToolResult:
    """A campaign brief grounded in the target segment's real numbers."""
    from app.analytics.rfm import rfm_segments
    from app.data.queries import transactions_frame

    tx = transactions_frame(deps.engine)
    if tx.empty:
        raise FatalToolError("no customer data yet: run `gtm data seed`")
    result = rfm_segments(tx, order_col="order_id")
    summary = next((s for s in result.segments if s.segment == target_segment), None)
    if summary is None:
        raise FatalToolError(f"no customers in the {target_segment} segment right now")
    facts = [
        f"{summary.customers:,} customers ({summary.share:.1%} of all), ${summary.revenue:,.0f} lifetime revenue",
        f"average {summary.avg_frequency:.1f} orders, last purchase {summary.avg_recency_days:.0f} days ago on average",
        f"recommended action for the segment: {summary.action}",
    ]
    budget_per = budget / max(1, summary.customers)
    segment_data = {
        "segment": target_segment,
        "facts": facts,
        "budget_per_customer": round(budget_per, 2),
        "cta": f"Claim {WINBACK_INCENTIVE}",
    }
    return ToolResult(
        headline=f"{campaign_type.title()} campaign for {target_segment}: {summary.customers:,} customers, ${budget_per:,.2f} per customer",
        facts=facts,
        method="Segment from RFM quintile scores on the order history; brand voice from brand-voice.md",
        data=segment_data,
        template="marketing.campaign_generation",
        prompt_vars={
            "campaign_type": campaign_type,
            "target_segment": f"{target_segment} customers",
            "product_name": "Lumio sensors and Lumio Cloud",
            "campaign_goal": goal,
            "budget": f"{budget:,.0f}",
            "segment_data": json.dumps(segment_data),
        },
    )


def contexts(deps: ToolDeps, customer_ids: list[str]) -> ToolResult:
    """Per customer: name, last purchase, a co-purchase recommendation and the incentive."""
    from app.data.queries import co_purchase_recommendations, last_purchases

    frame = last_purchases(deps.engine, customer_ids)
    recommended = co_purchase_recommendations(deps.engine, [str(c) for c in frame["customer_id"]])
    customers = []
    for row in frame.itertuples():
        last = row.last_order_date
        customers.append(
            {
                "customer_id": str(row.customer_id),
                "name": str(row.contact_name or row.name),
                "company": str(row.name),
                "email": str(row.email),
                "last_order_date": last.date().isoformat() if hasattr(last, "date") else str(last),
                "last_product": row.last_product or row.top_product or "your Lumio hardware",
                "recommended_product": recommended.get(str(row.customer_id)) or "Lumio Air",
                "incentive": WINBACK_INCENTIVE,
            }
        )
    return ToolResult(headline=f"Context for {len(customers)} customers", facts=[], data={"customers": customers})


def email(deps: ToolDeps, customer_id: str, tone: str = "warm") -> ToolResult:
    """Everything a personalised email needs for one customer."""
    ctx = contexts(deps, [customer_id])["data"]["customers"]
    if not ctx:
        raise FatalToolError(f"no purchase history for customer {customer_id}")
    c = ctx[0]
    return ToolResult(
        headline=f"Email draft for {c['name']} ({c['company']})",
        facts=[
            f"Last purchase: {c['last_product']} on {c['last_order_date']}",
            f"Recommendation: {c['recommended_product']}",
        ],
        data=c,
        template="marketing.email_draft",
        prompt_vars={
            "customer_name": c["name"],
            "last_purchase_date": c["last_order_date"],
            "last_product": c["last_product"],
            "rfm_segment": "customer",
            "channel": "email",
            "recommended_product": c["recommended_product"],
            "incentive": c["incentive"],
            "tone": tone,
        },
    )


def build_marketing_tools(deps: ToolDeps) -> list[BaseTool]:
    """The Marketing agent's tools (`customer_context` is internal to the win-back pipeline)."""
    tool = partial(make_tool, deps)
    assert set(get_args(Segment)) == set(SEGMENTS), "segment names out of step with app.analytics.rfm"

    return [
        tool(
            channels,
            "channel_performance",
            "Channel analytics: spend, impressions, CTR, conversion rate, CAC and ROAS by marketing channel with change vs the previous period; which channels perform best.",
            ChannelArgs,
        ),
        tool(
            campaign,
            "generate_campaign",
            "Create a marketing campaign brief (concept, key messages, call to action, success metrics) for a customer segment.",
            CampaignArgs,
        ),
        tool(
            email, "draft_email", "Draft a personalised email for one customer from their purchase history.", EmailArgs
        ),
        tool(contexts, "customer_context", "Purchase context for a list of customers.", ContextArgs, internal=True),
    ]
