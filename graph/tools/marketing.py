"""Marketing tools: channel analytics, campaign briefs and personalised email context.

Campaign briefs are grounded in segment data; email context gives the last purchase, a co-purchase
recommendation and, for cancelled accounts, what the win-back policy in `knowledge_base/brand-voice.md`
allows: one incentive (one free month of the plan the account had), valid for `OFFER_VALID_DAYS` days
from sending with the real deadline date (never after the date until which the account's data is kept:
`offer_deadline`), that date, a named
sender (`SENDER_NAME`, `SENDER_ROLE`), the company address and an unsubscribe link. Dates in email copy
are written the brand's way ("March 4", `brand_date`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from functools import partial
from typing import Any, Literal, get_args

from langchain_core.tools import BaseTool
from pydantic import BaseModel, ConfigDict, Field

from app.analytics.rfm import SEGMENTS
from app.cache.tools import cached_result
from app.data.periods import MONTHS, Period, parse_period
from app.mail import ADDRESS_US, SENDER_NAME, SENDER_ROLE, UNSUBSCRIBE_URL, postal_address  # the footer's facts
from graph.tools.base import FatalToolError, InvalidToolInput, MissingDataError, ToolResult
from graph.tools.deps import ToolDeps, make_tool
from graph.tools.finance import CHANNEL_ALIASES, UNKNOWN_CHANNEL_FIND, ChannelName, known_channel

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
DEFAULT_GOAL = "the segment's usual goal"
"""A campaign asked without a goal gets its segment's play goal (`PLAY_GOALS`)."""
SEGMENT_PLAYS: dict[str, tuple[str, tuple[str, str, str]]] = {
    "grow": (
        "Switch to annual billing in Settings → Billing → Change plan: two months free",
        (
            "Your Lumio data at work: the rooms and floors your team uses most, in numbers.",
            "Annual billing costs ten times the monthly price, so two months are free.",
            "Add Lumio Air to the floors you already measure and see air quality next to occupancy.",
        ),
    ),
    "activate": (
        "Finish setup: pair your sensors and invite your team (Devices → Sensors → Add sensor)",
        (
            "Your first week of occupancy data: what it already shows about your office.",
            "Setup takes most teams less than a day: pair the sensors, draw the floor plan, invite your team.",
            "Utilisation reports show the busiest days and peak hours after 7 days of data.",
        ),
    ),
    "re-engage": (
        "Book a 15-minute review of your occupancy data with your Customer Success contact",
        (
            "Your Lumio data since your last order: which spaces changed the most.",
            "One practical step this week: a utilisation report for your next space decision.",
            "Sensors that went quiet: check batteries and the hub so no day is missing.",
        ),
    ),
}
"""Call to action and key messages by what a segment needs, from Lumio's own facts (no invented offers or
figures; the win-back incentive is only for cancelled accounts, see `incentive_text`)."""
PLAY_GOALS: dict[str, tuple[str, str]] = {
    "grow": (
        "grow revenue from accounts that already get value",
        "switches to annual billing, Lumio Air added to measured floors, revenue per recipient vs a 10% hold-out",
    ),
    "activate": (
        "get new accounts fully set up in their first weeks",
        "sensors paired and team members invited within 14 days, weekly active users, tickets per new account",
    ),
    "re-engage": (
        "re-engage customers and grow repeat orders",
        "open rate, click-through rate, reactivation (orders within 30 days), revenue per recipient vs a 10% hold-out",
    ),
}
"""Default goal and success metrics of each play."""
SEGMENT_PLAY: dict[str, str] = {
    "Champions": "grow",
    "Loyal": "grow",
    "Potential Loyalist": "grow",
    "New Customers": "activate",
    "Promising": "activate",
}
"""The play of each RFM segment (every other segment is re-engaged)."""
OFFER_VALID_DAYS = 14
"""Win-back offers are valid for 14 days from sending; the email names the real deadline date."""
REACTIVATION_PATH = "Settings → Billing → Choose plan"
"""Where the Owner of a cancelled account reactivates it (within 90 days, everything is restored)."""


def brand_date(value: dt.date | str | None) -> str | None:
    """A date the brand's way: "March 4" (no year, no leading zero); None stays None."""
    if value is None or value == "":
        return None
    day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])
    return f"{day:%B} {day.day}"


def offer_deadline(sent_on: dt.date, data_kept_until: dt.date | None) -> dt.date:
    """The last day to take up a win-back offer sent on `sent_on`: 14 days later, never after the data is deleted.

    `OFFER_VALID_DAYS` after sending, or the date the account's data is kept until when that comes first. The offer reactivates a cancelled account with its data (brand-voice.md: win-backs go out "while their data is
    still kept"); after that date the data is deleted and there is nothing to come back to, so a deadline past it
    would not be real.
    """
    deadline = sent_on + dt.timedelta(days=OFFER_VALID_DAYS)
    return deadline if data_kept_until is None else min(deadline, data_kept_until)


def incentive_text(plan: str) -> str:
    """The one win-back incentive the policy allows us to offer an account: a free month of its plan."""
    return f"one free month of your {plan.title()} plan"


PERFORMANCE_CUES: list[Any] = [
    *("perform", "performs", "performed", "performing", "performance", "underperforming", "how did", "how is"),
    *("how are", "how was", "how were", "roas", "ctr", "cpl", "cost per lead", "click-through", "click rate"),
    *("conversion rate", "impressions", "clicks", "spend", "spent", "drove"),
]
"""Words of a request about how channels did (`x-strong-cues` of `channel_performance`): "How did email perform
in Q3?" names the email channel, which is also a campaign type, and asks for its numbers, not a campaign brief."""


class ChannelArgs(BaseModel):
    """Arguments of `channel_performance`."""

    model_config = ConfigDict(json_schema_extra={"x-strong-cues": PERFORMANCE_CUES})

    period: str = Field(default="last 30 days", description="Period phrase, e.g. 'last 30 days', 'last quarter'")
    channel: ChannelName | None = Field(
        default=None,
        description="Report on this channel (compared with the others); all channels when empty",
        json_schema_extra={"x-aliases": CHANNEL_ALIASES, "x-unknown": UNKNOWN_CHANNEL_FIND},
    )


CampaignType = Literal["email", "paid social", "webinar", "direct mail", "multi-channel"]
CAMPAIGN_TYPE_ALIASES: dict[str, Any] = {
    "email": ["emails", "newsletter", "email marketing"],
    "webinar": ["webinars"],
    "direct mail": ["postcards", "mailers", "mailer"],
    "multi-channel": ["multichannel", "omnichannel", "cross-channel"],
}
"""Phrases the offline model maps to each campaign type (JSON-schema `x-aliases`)."""


class CampaignArgs(BaseModel):
    """Arguments of `generate_campaign`."""

    target_segment: Segment = Field(
        default="At Risk", description="RFM segment to target", json_schema_extra={"x-aliases": SEGMENT_ALIASES}
    )
    campaign_type: CampaignType = Field(
        default="email",
        description="Channel the campaign runs on",
        json_schema_extra={"x-aliases": CAMPAIGN_TYPE_ALIASES},
    )
    budget: float = Field(default=5000.0, gt=0, le=10_000_000, description="Budget in USD")
    goal: str = Field(default=DEFAULT_GOAL, max_length=500, description="What the campaign should achieve")
    launch_period: str | None = Field(
        default=None,
        max_length=100,
        description="When the campaign runs, e.g. 'Q1', 'March', 'H2 2027'; a quarter, half or month named without "
        "a year is the next one to come. Empty: no timing in the brief",
    )


CUSTOMER_ID_FIND = r"\b(C\d{3,})\b|\bcustomers?\s+(?:id\s+)?#?(\d+)\b"
"""Where the offline model finds customer ids in a request (JSON-schema `x-find`): the demo's "C00042", or an
imported numeric id after "customer" ("customer 1234")."""
_CUSTOMER_ID = re.compile(CUSTOMER_ID_FIND, re.IGNORECASE)


def customer_ids_in(text: str) -> list[str]:
    """The customer ids a request names, in order and without repeats ("c00042" is read as "C00042")."""
    return list(dict.fromkeys(next(g for g in m.groups() if g).upper() for m in _CUSTOMER_ID.finditer(text)))


PURPOSE_FIND = (
    r"(?i)\b((?:invit(?:e|es|ing|ation)|announc(?:e|es|ing)|introduc(?:e|es|ing)|thank(?:s|ing)?"
    r"|congratulat(?:e|es|ing))\b[^.?!\n]*)"
)
"""Where the offline model finds an email's stated purpose in a request ("... inviting them to our webinar")."""
_PURPOSE_VERBS = {
    "invit": "invite",
    "announc": "announce",
    "introduc": "introduce",
    "thank": "thank",
    "congratulat": "congratulate",
}
"""The verb a purpose starts with, by its stem."""
_TO_READER = {"them": "you", "him": "you", "her": "you", "their": "your", "his": "your", "they": "you"}


def purpose_phrase(text: str) -> str:
    """A stated purpose as what the email does, written to the reader.

    "inviting them to our webinar" → "invite you to our webinar", "an invitation to the launch" → "invite you
    to the launch"; any other text is kept (without trailing punctuation).
    """
    words = " ".join(text.split()).strip(" .!?,;:").split(" ")
    while len(words) > 1 and words[0].lower() in ("a", "an", "to"):  # "an invitation to ...", "to thank ..."
        words.pop(0)
    if not words[0]:
        return ""
    stem = next((s for s in _PURPOSE_VERBS if words[0].lower().startswith(s)), None)
    if stem is not None:
        words[0] = _PURPOSE_VERBS[stem]
        if words[0].lower().startswith("invitation") or (len(words) > 1 and words[1].lower() == "to"):
            words.insert(1, "you")  # "an invitation to X" / "invite to X": invite you to X
    words = [_TO_READER.get(w.lower(), w) for w in words]
    return " ".join(words)[:200]


class EmailArgs(BaseModel):
    """Arguments of `draft_email`."""

    customer_id: str = Field(
        min_length=1, description="Customer id, e.g. C00042", json_schema_extra={"x-find": CUSTOMER_ID_FIND}
    )
    tone: Literal["warm", "friendly", "professional", "urgent"] = "warm"
    purpose: str = Field(
        default="",
        max_length=300,
        description="What the email is for when the request says (e.g. 'invite them to our webinar'); empty for "
        "the usual email: a win-back for a cancelled account, a product follow-up otherwise",
        json_schema_extra={"x-find": PURPOSE_FIND},
    )


class ContextArgs(BaseModel):
    """Arguments of `customer_context`."""

    customer_ids: list[str] = Field(description="Customers to look up", json_schema_extra={"x-find": CUSTOMER_ID_FIND})


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{value:+.1f}%"


def _all_channels(total: dict[str, Any]) -> str:
    """Spend, ROAS (with its change) and blended CAC of all channels together, in words."""
    return (
        f"${total['spend'] or 0:,.0f} spend, ROAS {total['roas'] or 0:.2f} ({_pct(total['roas_change_pct'])} vs "
        f"previous period), blended CAC ${total['cac'] or 0:,.0f}"
    )


@cached_result("transactions", "channels")
def channels(deps: ToolDeps, period: str = "last 30 days", channel: str | None = None) -> ToolResult:
    """Spend, CTR, conversion, CPL, CAC and ROAS by channel with change vs the previous period (one channel first).

    Raises:
        FatalToolError: a channel the data does not have (naming those it has), or no data for the channel.
    """
    from app.analytics.channels import channel_report
    from app.analytics.charts import channel_chart

    channel = known_channel(channel)
    p = deps.period(period, "last 30 days")
    report = channel_report(deps.engine, p)
    d = report.to_dict()

    rows = [
        [
            c["channel"],
            round(c["spend"] or 0),
            f"{(c['ctr'] or 0):.2%}",
            f"{(c['conversion_rate'] or 0):.2%}",
            None if c["cpl"] is None else round(c["cpl"]),
            None if c["cac"] is None else round(c["cac"]),
            None if c["roas"] is None else round(c["roas"], 2),
            _pct(c["roas_change_pct"]),
        ]
        for c in d["channels"]
    ]
    total = d["total"]
    frame = report.frame().drop(index="total", errors="ignore").reset_index()
    headline = f"{p.label}: {_all_channels(total)}"
    facts = list(d["notes"])
    if channel is not None:
        one = next((c for c in d["channels"] if c["channel"] == channel), None)
        if one is None:
            raise FatalToolError(f"no data for the channel {channel} in {p.label}")
        by_roas = sorted((c for c in d["channels"] if c["roas"] is not None), key=lambda c: -c["roas"])
        rank = next((i for i, c in enumerate(by_roas, 1) if c["channel"] == channel), None)
        share = (one["spend"] or 0) / (total["spend"] or 1)
        headline = (
            f"{channel}, {p.label}: ${one['spend'] or 0:,.0f} spend ({share:.0%} of all), CTR {(one['ctr'] or 0):.2%}, "
            f"conversion {(one['conversion_rate'] or 0):.2%}, "
            + ("CPL n/a, " if one["cpl"] is None else f"CPL ${one['cpl']:,.0f}, ")
            + ("CAC n/a" if one["cac"] is None else f"CAC ${one['cac']:,.0f}")
            + (
                ""
                if one["roas"] is None
                else f", ROAS {one['roas']:.2f} ({_pct(one['roas_change_pct'])} vs previous period)"
            )
        )
        facts = [
            *([f"ROAS rank {rank} of {len(by_roas)} channels"] if rank else []),
            f"All channels: {_all_channels(total)}",
            *facts,
        ]
        rows.sort(key=lambda row: row[0] != channel)  # the channel asked about first
    return ToolResult(
        headline=headline,
        facts=facts,
        table={
            "columns": ["channel", "spend $", "CTR", "conversion", "CPL $", "CAC $", "ROAS", "ROAS change"],
            "rows": rows,
        },
        method=f"{p.start} to {p.end} vs {report.previous.start} to {report.previous.end}; "
        + "; ".join(f"{k} = {v}" for k, v in d["definitions"].items()),
        data=d,
        chart=channel_chart(frame[["channel", "spend", "cac", "roas"]]).to_plotly_json(),
    )


_MONTH_NAMES = "|".join(sorted(MONTHS, key=len, reverse=True))
_NAMED_PERIOD = re.compile(
    rf"^(?:(?:in|for|during)\s+)?(?:the\s+)?((?:q[1-4]|h[12]|(?:first|1st|second|2nd)\s+half(?:\s+of\s+the\s+year)?"
    rf"|{_MONTH_NAMES})\.?)$",
    re.IGNORECASE,
)
"""A quarter, half or month named without a year ("Q1", "in March", "the second half")."""
_HAS_YEAR = re.compile(r"\b(?:19|20)\d{2}\b|'\d{2}\b|\bfy\s*\d{2}\b", re.IGNORECASE)


def campaign_window(phrase: str, today: dt.date) -> tuple[Period | None, str | None]:
    """When a campaign asked for `phrase` runs, as of `today`, and a note when it cannot run then.

    A campaign is planned ahead: a quarter, half or month named without a year is the next one that has not
    ended yet ("Q1" asked in November is next year's Q1, not the one that is over), a whole period. A phrase with
    a year or a relative one ("this quarter") is read as written. A period that is over gives no timing: a
    relative one ("customers who bought last month") says what the campaign is about, not when it runs; one with
    a year ("Q1 2025") gets a note saying why.

    Raises:
        InvalidToolInput: the phrase is not a period.
    """
    phrase = " ".join(phrase.split()).strip(" ?.!")
    try:
        if named := _NAMED_PERIOD.match(phrase):
            for year in (today.year, today.year + 1):
                whole = parse_period(f"{named.group(1)} {year}", dt.date(year + 1, 12, 31))  # not cut at today
                if whole is not None and whole.end >= today:
                    return whole, None
        if _HAS_YEAR.search(phrase):  # "Q4 2026" as a whole, even when it has started
            parsed = parse_period(phrase, today)
            whole = parse_period(phrase, dt.date(parsed.end.year + 1, 12, 31)) if parsed else None
        else:
            whole = parse_period(phrase, today)
    except ValueError as exc:  # "Q7", "31 April"
        raise InvalidToolInput(str(exc)) from exc
    if whole is None:
        raise InvalidToolInput(f"launch period {phrase!r} not understood: try 'Q1', 'March' or 'H2 2027'")
    if whole.end >= today:
        return whole, None
    if _HAS_YEAR.search(phrase):  # "a campaign for Q1 2025": say why the brief has no timing
        return (
            None,
            f"{whole.label} is over (the data runs to {today}): the brief has no timing; ask for a coming period",
        )
    return None, None  # "customers who bought last month": what the campaign is about, not when it runs


@cached_result("transactions")
def campaign(
    deps: ToolDeps,
    target_segment: str = "At Risk",
    campaign_type: str = "email",
    budget: float = 5000.0,
    goal: str = DEFAULT_GOAL,
    launch_period: str | None = None,
) -> ToolResult:
    """A campaign brief grounded in the target segment's real numbers, for a coming period when one is asked."""
    from app.analytics.rfm import rfm_segments
    from app.data.queries import transactions_frame

    tx = transactions_frame(deps.engine)
    if tx.empty:
        raise MissingDataError("no customer data yet: run `gtm data seed`")
    result = rfm_segments(tx, order_col="order_id")
    summary = next((s for s in result.segments if s.segment == target_segment), None)
    if summary is None:
        raise FatalToolError(f"no customers in the {target_segment} segment right now")
    facts = [
        f"{summary.customers:,} customers ({summary.share:.1%} of all), ${summary.revenue:,.0f} lifetime revenue",
        f"average {summary.avg_frequency:.1f} orders, last purchase {summary.avg_recency_days:.0f} days ago on average",
        f"recommended action for the segment: {summary.action}",
    ]
    window, timing_note = campaign_window(launch_period, deps.today()) if launch_period else (None, None)
    budget_per = budget / max(1, summary.customers)
    play = SEGMENT_PLAY.get(target_segment, "re-engage")
    cta, messages = SEGMENT_PLAYS[play]
    default_goal, metrics = PLAY_GOALS[play]
    goal = goal if goal != DEFAULT_GOAL else default_goal
    timing = f"{window.label} ({window.start} to {window.end})" if window else None
    budget_text = f"{budget:,.0f}" + (f" for {timing}" if timing else "")
    if timing:
        facts.append(f"Runs in {timing}: ${budget:,.0f} budget on {campaign_type}")
    elif timing_note:
        facts.append(timing_note)
    segment_data = {
        "segment": target_segment,
        "facts": facts,
        "budget": budget,
        "budget_per_customer": round(budget_per, 2),
        "channel": campaign_type,
        "launch_period": window.to_dict() if window else None,
        "cta": cta,
        "key_messages": list(messages),
        "success_metrics": metrics,
    }
    return ToolResult(
        headline=f"{campaign_type.title()} campaign for {target_segment}"
        + (f", {window.label}" if window else "")
        + f": {summary.customers:,} customers, ${budget:,.0f} budget (${budget_per:,.2f} per customer)",
        facts=facts,
        method="Segment from RFM quintile scores on the order history; brand voice from brand-voice.md",
        data=segment_data,
        template="marketing.campaign_generation",
        prompt_vars={
            "campaign_type": campaign_type,
            "target_segment": target_segment if target_segment.endswith("Customers") else f"{target_segment} customers",
            "product_name": "Lumio sensors and Lumio Cloud",
            "campaign_goal": goal,
            "budget": budget_text,
            "segment_data": json.dumps(segment_data),
        },
    )


def contexts(deps: ToolDeps, customer_ids: list[str]) -> ToolResult:
    """Per customer: name, plan, last purchase, a co-purchase recommendation and what the win-back policy allows.

    `winback` is `offer` (one free month of the plan, `incentive`, until `offer_deadline`), `reminder` (a
    cancelled account that may not get an offer: nonprofit/education discount, or a win-back in the last 12
    months) or `none` (active, Enterprise, or cancelled too long ago). Dates are ISO here; `email_values`
    writes them the brand's way.
    """
    from app.data.queries import co_purchase_recommendations, last_purchases
    from graph.tools.insights import account_frame, last_winbacks, winback_status

    ids = list(dict.fromkeys(str(c) for c in customer_ids))
    as_of = deps.today()
    accounts = account_frame(deps.engine, customer_ids=ids)
    purchases = last_purchases(deps.engine, ids).set_index("customer_id")
    recommended = co_purchase_recommendations(deps.engine, [str(c) for c in purchases.index])
    sent = last_winbacks(deps.engine, ids)
    customers = []
    for account in accounts.to_dict(orient="records"):
        cid = str(account["customer_id"])
        verdict = winback_status(account, as_of, sent.get(cid))
        kind = verdict.kind if verdict.kind != "excluded" else ("reminder" if verdict.rule == "cooldown" else "none")
        bought = purchases.loc[cid] if cid in purchases.index else None
        last = bought["last_order_date"] if bought is not None else None
        plan = str(account["plan"] or "").title()
        deadline = offer_deadline(as_of, verdict.data_kept_until)
        customers.append(
            {
                "customer_id": cid,
                "name": str(account["contact_name"] or account["name"]),
                "company": str(account["name"]),
                "email": str(account["email"] or ""),
                "country": account["country"],
                "status": account["status"],
                "plan": plan,
                "billing_period": account["billing_period"],
                "churned_date": account["churned_date"].isoformat() if account["churned_date"] else None,
                "data_kept_until": verdict.data_kept_until.isoformat() if verdict.data_kept_until else None,
                "last_order_date": last.date().isoformat() if last is not None and hasattr(last, "date") else None,
                "last_product": (bought["last_product"] or bought["top_product"] if bought is not None else None)
                or "your Lumio hardware",
                "recommended_product": recommended.get(cid) or "Lumio Air",
                "winback": kind,
                "winback_reason": verdict.reason,
                "incentive": incentive_text(plan) if kind == "offer" else None,
                "incentive_usd": verdict.incentive_usd if kind == "offer" else 0.0,
                "offer_date": as_of.isoformat(),
                "offer_deadline": deadline.isoformat() if kind == "offer" else None,
                "sender": f"{SENDER_NAME}, {SENDER_ROLE}",
                "address": postal_address(account["country"]),
                "unsubscribe_url": UNSUBSCRIBE_URL.format(customer_id=cid),
            }
        )
    return ToolResult(headline=f"Context for {len(customers)} customers", facts=[], data={"customers": customers})


def email_values(ctx: dict[str, Any], tone: str = "warm", purpose: str = "") -> dict[str, Any]:
    """The `marketing.email_draft` values for one customer context (from `contexts`).

    The prompt's placeholders are fixed (graph/prompts.py), so the account line (`rfm_segment`), the offer with
    its deadline (`incentive`), the next step (`recommended_product`) and the sender, address and unsubscribe
    link (`channel`) carry the policy's facts in words for a hosted model; the same facts are added as
    structured values for the offline writer. An email with a stated `purpose` (an invitation, an
    announcement) is written for that purpose: the next step says so, and it makes no offer.
    """
    kind = ctx.get("winback", "none")
    plan = ctx.get("plan") or "Lumio Cloud"
    churned, kept = brand_date(ctx.get("churned_date")), brand_date(ctx.get("data_kept_until"))
    deadline = brand_date(ctx.get("offer_deadline"))
    if kind in ("offer", "reminder"):
        account = f"cancelled {plan} account (cancelled on {churned}; its Lumio data is kept until {kept})"
        next_step = f"reactivate in {REACTIVATION_PATH}"
    else:
        account = f"{plan} customer" if ctx.get("status") != "churned" else f"former {plan} customer"
        next_step = str(ctx.get("recommended_product") or "Lumio Air")
    if kind == "offer":
        offer = (
            f"{ctx['incentive']}, if they choose a plan by {deadline} (the only offer: no discount, nothing on "
            f"hardware; the account's data is deleted after {kept}, so the offer ends by then and everything comes "
            "back only if they reactivate by then)"
        )
    else:
        offer = f"none: make no offer ({ctx.get('winback_reason', 'no win-back offer for this account')})"
    purpose = purpose_phrase(purpose)
    if purpose:
        next_step = f"{purpose} (the email's purpose: write it for this, not as a win-back or a product follow-up)"
        offer = "none: make no offer (the email has its own purpose)"
    sender = ctx.get("sender") or f"{SENDER_NAME}, {SENDER_ROLE}"
    address = ctx.get("address") or ADDRESS_US
    unsubscribe = ctx.get("unsubscribe_url") or UNSUBSCRIBE_URL.format(customer_id=ctx.get("customer_id", ""))
    return {
        "customer_name": ctx.get("name", "there"),
        "last_purchase_date": brand_date(ctx.get("last_order_date")) or "no hardware order on file",
        "customer_id": ctx.get("customer_id"),
        "last_product": ctx.get("last_product") or "your Lumio hardware",
        "rfm_segment": account,
        "channel": f"email signed by {sender}; footer: {address}, Unsubscribe: {unsubscribe}",
        "recommended_product": next_step,
        "incentive": offer,
        "tone": tone,
        # Structured (ISO dates), for the offline writer; the values above say the same in words.
        "winback": kind,
        "winback_reason": ctx.get("winback_reason"),
        "plan": plan,
        "churned_on": ctx.get("churned_date"),
        "data_kept_until": ctx.get("data_kept_until"),
        "offer": ctx.get("incentive") if kind == "offer" else None,
        "offer_deadline": ctx.get("offer_deadline") if kind == "offer" else None,
        "sender_name": sender.split(",")[0].strip(),
        "sender_role": sender.split(",", 1)[1].strip() if "," in sender else SENDER_ROLE,
        "address": address,
        "unsubscribe_url": unsubscribe,
        "reactivation_path": REACTIVATION_PATH,
        "recommended": ctx.get("recommended_product"),
        "purpose": purpose,
    }


def email(deps: ToolDeps, customer_id: str, tone: str = "warm", purpose: str = "") -> ToolResult:
    """Everything a personalised email needs for one customer (a win-back offer only where the policy allows).

    With a stated `purpose` ("invite them to our webinar") the email is written for that purpose, with no offer.
    """
    ctx = contexts(deps, [customer_id])["data"]["customers"]
    if not ctx:
        raise FatalToolError(f"no customer {customer_id}")
    c = ctx[0]
    purpose = purpose_phrase(purpose)
    if c.get("status") == "churned" and c.get("winback") == "none" and not purpose:
        # a cancelled account the win-back policy leaves out (Enterprise, or its 90 days are over): no sales email
        raise FatalToolError(
            f"no email drafted for {c['name']} ({customer_id}): the account cancelled on {c['churned_date']} and "
            f"gets no win-back email ({c['winback_reason']})"
        )
    facts = [
        f"Plan: {c['plan'] or 'none'} ({c['status']}"
        + (f", cancelled {c['churned_date']}, data kept until {c['data_kept_until']})" if c["churned_date"] else ")"),
        f"Last purchase: {c['last_product']} on {c['last_order_date'] or 'no order on file'}",
        f"Win-back: {c['winback']} ({c['winback_reason']})",
    ]
    if purpose:
        facts.append(f"Purpose: {purpose} (no offer in this email)")
    elif c["incentive"]:
        facts.append(f"Offer: {c['incentive']}, valid until {c['offer_deadline']}")
    return ToolResult(
        headline=f"Email draft for {c['name']} ({c['company']})",
        facts=facts,
        data=c,
        template="marketing.email_draft",
        prompt_vars=email_values(c, tone, purpose),
    )


def build_marketing_tools(deps: ToolDeps) -> list[BaseTool]:
    """The Marketing agent's tools (`customer_context` is internal to the win-back pipeline)."""
    tool = partial(make_tool, deps)
    assert set(get_args(Segment)) == set(SEGMENTS), "segment names out of step with app.analytics.rfm"

    return [
        tool(
            channels,
            "channel_performance",
            "Channel analytics: spend, impressions, CTR, conversion rate, CAC and ROAS by marketing channel with change vs the previous period; which channels or ads perform best, bring the cheapest customers or convert best.",
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
