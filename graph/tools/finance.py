"""Finance tools: unit economics, CAC/ROAS by channel, forecast, calculator, sheets, campaign economics.

Every number comes from the business database, an uploaded sheet or the request itself.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import pandas as pd
from langchain_core.tools import BaseTool
from pydantic import BaseModel, ConfigDict, Field, JsonValue, WithJsonSchema

from app.cache.tools import cached_result
from app.data.catalog import CHANNELS, SEGMENTS, check_channel, check_segment
from graph.tools.base import FatalToolError, InvalidToolInput, ToolResult
from graph.tools.deps import ToolDeps, make_tool

if TYPE_CHECKING:
    from app.settings import Settings

Metric = Literal[
    "cac",
    "ltv",
    "ltv_cac",
    "roas",
    "payback",
    "burn",
    "runway",
    "nrr",
    "gross_margin",
    "aov",
    "budget_variance",
    "revenue",
    "mrr",
    "arr",
]
Channel = Literal["paid_search", "paid_social", "email", "content_seo", "events", "partners", "display"]

METRIC_ALIASES: dict[str, Any] = {
    "cac": ["customer acquisition cost", "acquisition cost", "cost per acquisition", "cost to acquire", "cpa"],
    "ltv": ["lifetime value", "clv", "customer lifetime value"],
    "ltv_cac": ["ltv:cac", "ltv/cac", "ltv to cac", "ltv-to-cac"],
    "roas": ["return on ad spend", "ad return"],
    "payback": ["payback period", "cac payback", "months to recover"],
    "burn": ["burn rate", "net burn", "cash burn", "burning"],
    "runway": ["months of cash", "cash runway"],
    "nrr": [
        "net revenue retention",
        "net dollar retention",
        "ndr",
        "expansion",
        "revenue retention",
        "expansion revenue",
    ],
    "gross_margin": ["gross margin", "margin", "margins"],
    "aov": ["average order value", "order value", "basket size"],
    "budget_variance": [
        *("budget variance", "over budget", "under budget", "budget vs actual", "budget", "overspent", "overspend"),
        *("overspending", "over-spent", "over spent", "underspent", "underspend", "over their budget"),
        *("spent more than budgeted", "spent less than budgeted", "over plan", "under plan"),
    ],
    "revenue": ["revenue", "sales", "turnover", "income", "did we make", "did we earn", "do we make"],
    "mrr": ["monthly recurring revenue", "recurring revenue"],
    "arr": ["annual recurring revenue", "annualised recurring revenue", "annualized recurring revenue"],
}
"""Phrases the offline model maps to each metric (JSON-schema `x-aliases`)."""
CHANNEL_ALIASES: dict[str, Any] = {
    "paid_search": ["google ads", "search ads", "sem", "ppc", "adwords"],
    "paid_social": ["linkedin ads", "facebook ads", "social ads", "meta ads", "paid social"],
    "email": ["newsletter", "email marketing"],
    "content_seo": ["seo", "content", "organic", "blog"],
    "events": ["event", "webinar", "webinars", "trade show", "conference"],
    "partners": ["partner", "referral", "referrals", "resellers"],
    "display": ["banner", "display ads", "programmatic"],
}


ChannelName = Annotated[str, WithJsonSchema({"type": "string", "enum": list(CHANNELS)})]
"""A channel as the request names it. The schema offers the catalogue's channels; any other name reaches the tool,
which refuses it (`known_channel`) — a validation error would be "corrected" by dropping the channel, and the
answer would silently be about every channel."""
UNKNOWN_CHANNEL_FIND = (
    r"(?i)\b(tik\s?tok|youtube|instagram|twitter|x\.com|reddit|bing(?:\s+ads)?|snapchat|pinterest|quora|amazon ads"
    r"|tv|television|radio|podcasts?|billboards?|direct mail|affiliates?|influencers?|sms|whatsapp|cold calls?"
    r"|cold calling|telemarketing)\b"
    r"|\b(?:for|from|on|via|through|in)\s+(?:the\s+)?"
    r"(?!(?:every|each|all|our|any|which|that|this|a|one|per|same|other|best|worst|cheapest|top|its|their)\b)"
    r"([a-z][\w.-]*)\s+(?:channel|ads)\b"
)
"""A channel the catalogue does not have, named in a request (JSON-schema `x-unknown` of a channel field): an ad
platform or medium ("ROAS for TikTok"), or any "<name> channel/ads". The offline model passes it on only when no
known channel is named, and the tool refuses it, naming the channels it knows."""

Segment = Literal["smb", "mid_market", "enterprise"]
"""A customer segment (`customers.segment`, from company size)."""
SEGMENT_ALIASES: dict[str, Any] = {
    "smb": ["small business", "small businesses", "smbs", "sme", "smes", "small companies", "small customers"],
    "mid_market": ["mid-market", "mid market", "midmarket", "mid-sized", "mid sized", "mid-size", "midsize"],
    "enterprise": ["enterprises", "large companies", "large customers", "large accounts"],
}
"""Phrases the offline model maps to each segment (JSON-schema `x-aliases`)."""


def known_channel(channel: str | None) -> str | None:
    """The catalogue's name of `channel` (None stays None).

    Raises:
        FatalToolError: a channel the data does not have, naming the channels it has; never an answer for every
            channel in its place.
    """
    if channel is None:
        return None
    try:
        return check_channel(channel)
    except ValueError:
        raise FatalToolError(
            f"there is no channel {channel!r} in the marketing data, so there are no figures for it; the channels "
            f"are {', '.join(CHANNELS)} (ask for one of them, or by channel for all of them)"
        ) from None


def known_segment(segment: str | None) -> str | None:
    """The catalogue's name of `segment` (None stays None).

    Raises:
        FatalToolError: an unknown segment, naming the segments.
    """
    if segment is None:
        return None
    try:
        return check_segment(segment)
    except ValueError:
        raise FatalToolError(
            f"there is no customer segment {segment!r}; the segments are {', '.join(SEGMENTS)}"
        ) from None


CUSTOMER_ID_FIND = r"(?i)\b(C\d{3,})\b|\bcustomer\s+(?:id\s+)?#?(\d+)\b"
"""Where the offline model finds a customer id in a request (JSON-schema `x-find`, any case): the demo's "C00042"
(or "c00042"), or an imported numeric id after "customer" ("customer 1234")."""


SPLIT_BY_FIND = (
    r"(?i)\b(?:by|per|for each|for every|across|split by|broken down by|breakdown by)\s+(?:acquisition\s+|customer\s+)?"
    r"(channel|segment)s?\b"
)
"""Where the offline model finds a split in a request (JSON-schema `x-find`): "revenue by channel", "LTV per segment"."""


METRIC_DEFAULT_PERIOD: dict[str, str] = {"runway": "today", "mrr": "today", "arr": "today", "burn": "last 3 months"}
"""Period of a metric asked without one: "what is our runway?" means now (cash at the latest closed ledger
month), burn the last three closed months (the ones runway divides by), not last quarter; every other metric
defaults to last quarter."""


class MetricArgs(BaseModel):
    """Arguments of `compute_metric`."""

    metric: Metric = Field(
        description="Which metric",
        json_schema_extra={"x-fanout": True, "x-aliases": METRIC_ALIASES},
    )
    period: str | None = Field(
        default=None,
        description="Period phrase, e.g. 'last quarter', 'Q3 2025', 'last 90 days' (default: last quarter; for "
        "runway, MRR, ARR and burn the latest figures)",
    )
    channel: ChannelName | None = Field(
        default=None,
        description="Restrict to one acquisition channel",
        json_schema_extra={"x-fanout": True, "x-aliases": CHANNEL_ALIASES, "x-unknown": UNKNOWN_CHANNEL_FIND},
    )
    segment: Segment | None = Field(
        default=None,
        description="Restrict to one customer segment (smb, mid_market, enterprise); not with a channel",
        json_schema_extra={"x-fanout": True, "x-aliases": SEGMENT_ALIASES},
    )
    customer_id: str | None = Field(
        default=None,
        description="One customer's LTV (revenue to date + expected next 12 months), e.g. C00042",
        json_schema_extra={"x-find": CUSTOMER_ID_FIND},
    )
    share_pct: float | None = Field(
        default=None,
        gt=0,
        le=10_000,
        description="A share of the metric in percent ('15% of our ARR' → 15): the answer is that share of it",
        json_schema_extra={"x-share": True},
    )
    split_by: str | None = Field(  # not an enum: "by channel" earns this tool no bonus over `cac_by_channel`
        default=None,
        description="'channel' or 'segment': the metric for every acquisition channel or customer segment, side by "
        "side ('revenue by channel')",
        json_schema_extra={"x-find": SPLIT_BY_FIND},
    )


class ChannelCacArgs(BaseModel):
    """Arguments of `cac_by_channel`."""

    period: str = Field(default="last quarter", description="Period phrase")


FORECAST_STRONG_CUES: list[JsonValue] = [
    *("forecast", "forecasts", "estimate", "estimated", "estimates", "projection", "projections", "project"),
    *("projected", "predict", "prediction", "predictions", "outlook"),
]
"""Words that ask for a forecast whatever else the request names ("estimate revenue for Q1 2027"): a bonus."""
FORECAST_CUES: list[JsonValue] = [
    *FORECAST_STRONG_CUES,
    *("next", "coming", "upcoming", "future", "will", "expect", "expected", "going to"),
]
"""Words of a request about the future. Without one, the offline model does not pick the forecast ("what was
revenue in March?" asks for the revenue earned)."""


class ForecastArgs(BaseModel):
    """Arguments of `forecast_revenue`."""

    model_config = ConfigDict(json_schema_extra={"x-cues": FORECAST_CUES, "x-strong-cues": FORECAST_STRONG_CUES})

    horizon_months: int = Field(default=6, ge=1, le=36, description="Months to forecast")
    kind: Literal["total", "subscription", "hardware"] = Field(default="total", description="Which revenue")
    period: str | None = Field(
        default=None,
        description="A future period to forecast ('Q1 2027', 'next quarter', 'next year'): the forecast runs to its "
        "end and gives that period's months and total; omit for the next horizon_months months",
    )


class CalcArgs(BaseModel):
    """Arguments of `calculate`."""

    expression: str = Field(
        min_length=1,
        max_length=500,
        description="Arithmetic, e.g. '12,000 * 1.15 - 3,000' or 'price = 49; seats = 25; price * seats'",
    )


SHEET_CUES: list[JsonValue] = [
    "sheet",
    "spreadsheet",
    "csv",
    "xlsx",
    "excel",
    "file",
    "attached",
    "attachment",
    "upload",
    "uploaded",
    "select",
    "column",
    "columns",
    "rows",
]
"""Words of a request about an uploaded file (the web chat adds "(attached: name.csv)"); without one the offline
model does not pick `query_sheet` ("how much did we spend on events?" asks the books)."""


SHEET_STRONG_CUES: list[JsonValue] = [
    *("sheet", "spreadsheet", "csv", "xlsx", "excel", "uploaded", "attached", "attachment"),
    *("this file", "the file", "my file", "from sheet"),
]
"""Words that mean the uploaded sheet whatever else the request names ("total Q1 budget in the sheet" is not the
company's budget variance): a bonus. The latest upload's column names are added when the tools are bound."""


class SheetArgs(BaseModel):
    """Arguments of `query_sheet`."""

    model_config = ConfigDict(json_schema_extra={"x-cues": SHEET_CUES, "x-strong-cues": SHEET_STRONG_CUES})

    sql: str | None = Field(
        default=None, description="One read-only SELECT over table `sheet`; omit to describe and total the sheet"
    )
    question: str | None = Field(
        default=None,
        description="The question in words when there is no SQL ('which department had the highest q1_actual?', "
        "'total Q1 budget', 'most over budget in Q2'): answered with a query over the sheet's columns",
    )
    column: str | None = Field(default=None, description="A column of the latest upload the question is about")
    table: str | None = Field(
        default=None,
        description="Table a question in words is answered from: `sheet` (a CSV or one-sheet workbook) or a "
        "worksheet's table; the first table when omitted",
    )
    file: str | None = Field(default=None, description="Uploaded file name; the latest upload when omitted")


def _upload_columns(settings: Settings) -> list[str]:
    """The columns of the latest sheet the current request may read (header only, cached by modification time)."""
    files = _visible_uploads(settings)
    if not files:
        return []
    stat = files[-1].stat()
    return list(_header(str(files[-1]), stat.st_mtime_ns, stat.st_size))


@lru_cache(maxsize=32)
def _header(path: str, _mtime_ns: int, _size: int) -> tuple[str, ...]:
    from app.analytics.sheets import sheet_columns

    return tuple(sheet_columns(path))


def _generic_words() -> set[str]:
    """Column names that are also the books' vocabulary (`revenue`, `budget`, a channel): no bonus for them."""
    words = {*METRIC_ALIASES, *CHANNEL_ALIASES}
    for names in (*METRIC_ALIASES.values(), *CHANNEL_ALIASES.values()):
        words.update(str(n) for n in names)
    return {w.replace("_", " ") for w in words} | words


def _sheet_args(deps: ToolDeps) -> type[SheetArgs]:
    """`SheetArgs` whose JSON schema names the latest upload's columns, read each time the tools are bound.

    The columns become the `column` enum (with their spaced spellings as aliases) and cue words, so a request
    that names one ("which department had the highest q1_actual?") goes to the sheet; names that are also
    metric or channel words ("revenue", "budget") stay ordinary cues and earn no bonus of their own.
    """

    def hints(schema: dict[str, Any], _model: Any) -> None:
        columns = _upload_columns(deps.settings)
        spaced = {c: c.replace("_", " ") for c in columns}
        generic = _generic_words()
        schema["x-cues"] = [*SHEET_CUES, *columns, *spaced.values()]
        schema["x-strong-cues"] = [
            *SHEET_STRONG_CUES,
            *(n for c in columns for n in {c, spaced[c]} if c not in generic and spaced[c] not in generic),
        ]
        table = schema["properties"]["table"]["anyOf"][0]  # "in the sheet", "this file": the upload itself
        table["enum"] = ["sheet"]
        table["x-aliases"] = {"sheet": [str(c) for c in SHEET_STRONG_CUES if c != "sheet"]}
        if columns:
            option = schema["properties"]["column"]["anyOf"][0]
            option["enum"] = columns
            option["x-aliases"] = {c: [spaced[c]] for c in columns if spaced[c] != c}

    class LiveSheetArgs(SheetArgs):
        model_config = ConfigDict(title="SheetArgs", json_schema_extra=hints)

    return LiveSheetArgs


WHAT_IF_STRONG_CUES: list[JsonValue] = [
    *("what would", "what if", "if we", "if i", "what happens if", "would we", "would it", "would that"),
    *("suppose", "supposing", "assuming", "scenario", "hypothetical", "hypothetically"),
]
"""Words of a scenario ("what would MRR be if we add…"): the what-if answers, not today's figure."""
WHAT_IF_CUES: list[JsonValue] = [*WHAT_IF_STRONG_CUES, "would", "if"]
"""Without one of these the offline model does not pick `what_if` ("what is our MRR?" asks for today's)."""


class WhatIfArgs(BaseModel):
    """Arguments of `what_if`."""

    model_config = ConfigDict(json_schema_extra={"x-cues": WHAT_IF_CUES, "x-strong-cues": WHAT_IF_STRONG_CUES})

    metric: Metric | None = Field(
        default=None,
        description="The figure the scenario starts from (MRR or ARR for added accounts, CAC for a spend, any "
        "metric for a % change); read from the question when omitted",
        json_schema_extra={"x-aliases": METRIC_ALIASES},
    )
    question: str | None = Field(
        default=None,
        description="The scenario in words ('add 120 Growth accounts at $199', 'spend $1.2M on acquisition', "
        "'CAC rises 10%'), read for what the fields below leave out",
    )
    accounts: int | None = Field(default=None, description="Accounts added (negative: lost)")
    price_usd: float | None = Field(
        default=None, ge=0, description="Monthly price of each added account (default: the plan named, else Growth)"
    )
    spend_usd: float | None = Field(
        default=None, ge=0, description="Spend turned into new customers at the current CAC (revenue at the ROAS)"
    )
    change_pct: float | None = Field(default=None, description="Change of the metric in percent (-10 = 10% lower)")
    period: str | None = Field(default=None, description="Period of the current figure (default as compute_metric)")
    channel: ChannelName | None = Field(
        default=None,
        description="The channel whose spend the scenario changes ('cut events spend by 50%'); all channels if omitted",
        json_schema_extra={"x-aliases": CHANNEL_ALIASES, "x-unknown": UNKNOWN_CHANNEL_FIND, "x-no-bonus": True},
    )


DEFAULT_WINBACK_INCENTIVE_USD = 199.0
"""A recipient without its own incentive: one free Growth month, the largest standard win-back offer."""


class CampaignEconomicsArgs(BaseModel):
    """Arguments of `campaign_economics`."""

    customers: list[dict[str, Any]] = Field(
        description="Recipients with clv_12m (and p_alive); from the win-back selection also incentive_usd (their "
        "plan's free month, $0 without an offer) and value_12m (former MRR x 12 + hardware CLV)"
    )
    incentive_usd: float = Field(
        default=0.0,
        ge=0,
        description="Incentive value per redemption for every recipient; 0 = each recipient's own incentive_usd, "
        "else one free Growth month ($199), the brand-voice policy's largest standard offer",
    )
    response_rate: float = Field(default=0.12, gt=0, le=1, description="Expected share of recipients who come back")
    cost_per_email: float = Field(default=0.05, ge=0, description="Sending cost per email")


def metric(
    deps: ToolDeps,
    metric: str,
    period: str | None = None,
    channel: str | None = None,
    segment: str | None = None,
    customer_id: str | None = None,
    share_pct: float | None = None,
    split_by: str | None = None,
) -> ToolResult:
    """One unit-economics metric from the database (for one channel or segment), or one customer's LTV by id.

    With `share_pct`, that share of the metric ("15% of our ARR"); with `split_by`, the metric for every channel
    or segment side by side ("revenue by channel").

    Raises:
        FatalToolError: an unknown customer, channel or segment; a customer id with a metric that has no
            per-customer figure; a channel or segment the metric cannot be split by.
    """
    channel, segment = known_channel(channel), known_segment(segment)
    if split_by and not customer_id and not channel and not segment:
        return _split_metric(deps, metric, period, split_by)
    if share_pct is not None and not customer_id:
        if channel or segment:
            _check_split(metric, channel, segment)
        return _share_of(_company_metric(deps, metric, period=period, channel=channel, segment=segment), share_pct)
    if customer_id:
        from graph.tools.insights import customer_value, customer_value_result

        if metric != "ltv":
            raise FatalToolError(
                f"{metric.upper()} is a company-wide metric with no per-customer figure; ask for the LTV or the "
                f"churn risk of {customer_id}"
            )
        return customer_value_result(customer_value(deps, customer_id))
    if channel or segment:
        _check_split(metric, channel, segment)
    return _company_metric(deps, metric, period=period, channel=channel, segment=segment)


def _share_of(result: ToolResult, share_pct: float) -> ToolResult:
    """`share_pct` percent of a metric result ("15% of our ARR"), with the multiplication as the last step."""
    from app.analytics.unit_economics import format_value

    data = dict(result.get("data") or {})
    whole, unit, name = data.get("result"), str(data.get("unit", "")), str(data.get("metric", "the metric"))
    if whole is None:
        raise FatalToolError(f"{name} has no finite value ({result['headline']}), so it has no {share_pct:g}% share")
    value = whole * share_pct / 100.0
    step = f"{share_pct:g}% of {name} = {share_pct:g}% × {format_value(whole, unit)} = {format_value(value, unit)}"
    data.update(
        share_pct=share_pct,
        of_result=whole,
        result=round(value, 4),
        result_text=f"{format_value(value, unit)} ({share_pct:g}% of {name} {format_value(whole, unit)})",
        steps=[*data.get("steps", []), step],
    )
    prompt_vars = dict(result.get("prompt_vars") or {})
    prompt_vars.update(metric_name=f"{share_pct:g}% of {name}", data_json=json.dumps(data, default=str, indent=1))
    return ToolResult(
        headline=f"{share_pct:g}% of {result['headline']} = {format_value(value, unit)}",
        facts=[*result.get("facts", []), step],
        method=f"{result.get('method')}; then × {share_pct:g}%",
        recommendation=None,
        data=data,
        template=str(result.get("template", "finance.metric_calculation")),
        prompt_vars=prompt_vars,
    )


ADDITIVE_METRICS = frozenset({"revenue", "mrr", "arr"})
"""Metrics whose channel (or segment) figures add up to the company's: their split shows each one's share."""


def _split_metric(deps: ToolDeps, metric: str, period: str | None, split_by: str) -> ToolResult:
    """The metric for every acquisition channel or customer segment, side by side, with the company's figure.

    A channel's figure covers the customers acquired through it (`customers.acquisition_channel`), as
    `compute_metric` with a channel does; a segment's the customers of that segment.

    Raises:
        FatalToolError: a split that is neither channel nor segment, or one the metric has not (burn, runway;
            ROAS by segment).
    """
    from app.analytics.unit_economics import format_value

    by = split_by.strip().lower().rstrip("s")
    if by not in ("channel", "segment"):
        raise FatalToolError(f"a metric is split by channel or by segment, not by {split_by!r}")
    names = list(CHANNELS) if by == "channel" else list(SEGMENTS)
    _check_split(metric, names[0] if by == "channel" else None, names[0] if by == "segment" else None)
    total = _company_metric(deps, metric, period=period)
    total_data = dict(total.get("data") or {})
    unit, label = str(total_data.get("unit", "")), str(total_data.get("period", ""))
    name = str(total_data.get("metric", metric.upper()))
    whole = total_data.get("result")
    rows: list[list[Any]] = []
    values: dict[str, float] = {}
    for one in names:
        try:
            part = _company_metric(deps, metric, period=period, **{by: one})
        except FatalToolError as exc:
            rows.append([one, f"n/a: {exc}", None])
            continue
        value = (part.get("data") or {}).get("result")
        if value is None:
            rows.append([one, "n/a", None])
            continue
        values[one] = value
        share = round(value / whole * 100.0, 1) if metric in ADDITIVE_METRICS and whole else None
        rows.append([one, format_value(value, unit), share])
    columns = [by, name, "share of total %"]
    if metric not in ADDITIVE_METRICS:
        columns, rows = columns[:2], [r[:2] for r in rows]
    facts = [f"Company {name} {label}: {format_value(whole, unit) if whole is not None else 'n/a'}"]
    if values:
        top = max(values, key=lambda k: values[k])
        low = min(values, key=lambda k: values[k])
        facts.append(
            f"Highest: {top} ({format_value(values[top], unit)}); lowest: {low} ({format_value(values[low], unit)})"
        )
    if metric in ADDITIVE_METRICS and whole:
        rest = whole - sum(values.values())
        facts.append(
            f"Sum of the {by}s: {format_value(sum(values.values()), unit)}"
            + (f" ({format_value(rest, unit)} from customers without a {by})" if abs(rest) >= 0.01 else " = the total")
        )
    scope = (
        "customers acquired through each channel (customers.acquisition_channel)"
        if by == "channel"
        else ("customers of each segment (customers.segment)")
    )
    return ToolResult(
        headline=f"{name} by {by} for {label}: " + ", ".join(f"{k} {format_value(v, unit)}" for k, v in values.items()),
        facts=facts,
        table={"columns": columns, "rows": rows},
        method=f"{total_data.get('formula', name)}, computed for the {scope}",
        data={"metric": metric, "period": label, "split_by": by, "unit": unit, "total": whole, "values": values},
    )


COMPANY_ONLY_METRICS = frozenset({"burn", "runway"})
"""Metrics of the whole company's books (the finance ledger): no channel or segment split."""
CHANNEL_ONLY_METRICS = frozenset({"roas"})
"""Metrics recorded per channel only (attributed revenue in the channel table): no segment split."""


def _check_split(metric: str, channel: str | None, segment: str | None) -> None:
    """Refuse a split the metric does not have, saying what can be asked instead.

    Raises:
        FatalToolError: a channel or segment for burn or runway, a segment for ROAS, or a channel and a segment
            together.
    """
    name = metric.upper() if len(metric) <= 4 else metric.replace("_", " ")
    scope = f"channel {channel}" if channel else f"segment {segment}"
    if metric in COMPANY_ONLY_METRICS:
        raise FatalToolError(
            f"{name} comes from the company's ledger and cannot be split by {scope.split()[0]}: there is no "
            f"{name} for {scope}; ask for the company's {name}, or for a metric with a split (CAC, LTV, NRR, "
            "gross margin, revenue, MRR, ARR)"
        )
    if segment and metric in CHANNEL_ONLY_METRICS:
        raise FatalToolError(
            f"{name} is recorded per marketing channel (attributed revenue / spend), not per customer segment: "
            f"there is no {name} for segment {segment}; ask for {name} for a channel or by channel, or for the "
            f"{segment} segment's CAC, LTV or revenue"
        )
    if channel and segment:
        raise FatalToolError(
            f"a metric is split by a channel or by a segment, not both at once (asked: channel {channel} and "
            f"segment {segment}); ask for one of them"
        )


def future_period_message(metric: str, label: str, last: Any) -> str:
    """Why a metric cannot be measured for a period that has not started, and what to ask instead.

    "What was our CAC next quarter?": no figure is made up; the forecast is the tool for the future.
    """
    name = metric.upper() if len(metric) <= 4 else metric.replace("_", " ")
    if metric in ("revenue", "mrr", "arr"):
        instead = f"ask for a revenue forecast instead (e.g. 'forecast revenue for {label}')"
    else:
        instead = (
            f"{name} is measured from what happened, not forecast: ask for a revenue forecast instead (e.g. "
            f"'forecast revenue for {label}'), or for {name} in a period with data (e.g. last quarter)"
        )
    return f"{label} starts after the data ends ({last}): no data yet for {label}, nothing to measure yet; {instead}"


@cached_result("transactions", "channels", "finance")
def _company_metric(
    deps: ToolDeps, metric: str, period: str | None = None, channel: str | None = None, segment: str | None = None
) -> ToolResult:
    """One unit-economics metric from the database, in the seed's `metric_calculation` format.

    With a channel or segment the metric covers those customers only, and its headline says so.
    """
    from app.analytics.unit_economics import MetricUnavailableError, compute_metric

    p = deps.period(period or METRIC_DEFAULT_PERIOD.get(metric, "last quarter"), "last quarter")
    if p.start > (last := deps.today()):
        raise FatalToolError(future_period_message(metric, p.label, last))
    try:
        result = compute_metric(deps.engine, metric, p, channel=channel, segment=segment)
    except MetricUnavailableError as exc:
        raise FatalToolError(str(exc)) from exc
    except ValueError as exc:  # a split the metric has not: a retry without it would answer another question
        raise FatalToolError(str(exc)) from exc
    data = result.to_dict()
    facts = [f"Formula: {result.formula}", *result.steps[-2:]]
    return ToolResult(
        headline=result.summary(),
        facts=facts,
        method=f"{result.formula} ({result.start} to {result.end})",
        recommendation=result.recommendation,
        data=data,
        template="finance.metric_calculation",
        prompt_vars={
            "metric_name": result.metric,
            "time_period": f"{result.period} ({result.scope})"
            if result.start == result.end
            else f"{result.period} ({result.start} to {result.end}, {result.scope})",
            "data_json": json.dumps(data, default=str, indent=1),
        },
    )


@cached_result("transactions", "channels")
def channel_cac(deps: ToolDeps, period: str = "last quarter") -> ToolResult:
    """CAC and ROAS for every channel, with a chart."""
    from app.analytics.charts import channel_chart
    from app.analytics.unit_economics import cac_by_channel

    p = deps.period(period, "last quarter")
    if p.start > (last := deps.today()):
        raise FatalToolError(future_period_message("cac", p.label, last))
    frame = cac_by_channel(deps.engine, p)
    if frame.empty or frame["spend"].sum() <= 0:
        raise FatalToolError(f"no marketing spend recorded for {p.label}")
    rows = [
        [
            r.channel,
            round(r.spend),
            int(r.new_customers),
            None if pd.isna(r.cac) else round(r.cac, 2),
            int(r.leads),
            None if pd.isna(r.cpl) else round(r.cpl, 2),
            None if pd.isna(r.roas) else round(r.roas, 2),
        ]
        for r in frame.itertuples()
    ]
    valid = frame.dropna(subset=["cac"])
    best = valid.loc[valid["cac"].idxmin()] if not valid.empty else None
    worst = valid.loc[valid["cac"].idxmax()] if not valid.empty else None
    total_cac = frame["spend"].sum() / max(1, frame["new_customers"].sum())
    facts = [
        f"Blended CAC {p.label}: ${total_cac:,.2f} (${frame['spend'].sum():,.0f} spend / {int(frame['new_customers'].sum()):,} new customers)"
    ]
    if frame["leads"].sum() > 0:
        facts.append(
            f"Blended CPL (cost per lead): ${frame['spend'].sum() / frame['leads'].sum():,.2f} "
            f"({int(frame['leads'].sum()):,} leads)"
        )
    if best is not None and worst is not None:
        facts.append(
            f"Cheapest channel: {best['channel']} (${best['cac']:,.2f}); most expensive: {worst['channel']} (${worst['cac']:,.2f})"
        )
    return ToolResult(
        headline=f"CAC by channel for {p.label}: from ${valid['cac'].min():,.0f} to ${valid['cac'].max():,.0f}"
        if not valid.empty
        else f"Spend by channel for {p.label}",
        facts=facts,
        table={"columns": ["channel", "spend $", "new customers", "CAC $", "leads", "CPL $", "ROAS"], "rows": rows},
        method="CAC = channel spend / new customers acquired by the channel; CPL (cost per lead) = spend / leads "
        "captured; ROAS = attributed revenue / spend",
        recommendation=f"Shift budget from {worst['channel']} towards {best['channel']} if volume allows."
        if best is not None and worst is not None and worst["cac"] > 2 * best["cac"]
        else None,
        data={"period": p.label, "channels": json.loads(frame.to_json(orient="records"))},
        chart=channel_chart(frame).to_plotly_json(),
    )


MAX_FORECAST_MONTHS = 36
"""Furthest a forecast reaches, in months after the last full month of data (as `ForecastArgs.horizon_months`)."""


def _whole_period(p: Any) -> Any:
    """`p` without its cut at the data's last day: "this quarter" to forecast is the whole quarter, not its first weeks."""
    from app.data.periods import Period, half_period, month_end, quarter_of, quarter_period

    if "to date" not in p.label:
        return p
    label = p.label.lower()
    if "year to date" in label:
        return Period(p.start, p.start.replace(month=12, day=31), str(p.start.year))
    if label.startswith("q") or "quarter" in label:
        return quarter_period(p.start.year, quarter_of(p.start))
    if label.startswith("h1") or label.startswith("h2"):
        return half_period(p.start.year, 1 if p.start.month <= 6 else 2)
    if "week" in label:
        return p
    whole = month_end(p.start.year, p.start.month)
    return Period(p.start, whole, p.label.replace(" month to date", "").replace(" to date", ""))


def _months_between(first: pd.Timestamp, last: pd.Timestamp) -> int:
    """Calendar months from `first` to `last`, both month starts, counting both."""
    return (last.year - first.year) * 12 + last.month - first.month + 1


@cached_result("transactions", "channels")
def forecast(deps: ToolDeps, horizon_months: int = 6, kind: str = "total", period: str | None = None) -> ToolResult:
    """Monthly revenue forecast with an 80% interval and a fan chart: the next months, or a future period's.

    With a `period` ("Q1 2027", "next quarter") the forecast runs to the period's end and the answer is that
    period's months and their total (months already in the books count as actuals); a period that is over has
    actual revenue, which the tool says to ask for.
    """
    from app.analytics.charts import forecast_fan_chart
    from app.analytics.forecast import forecast_revenue
    from app.data.queries import monthly_revenue

    series = monthly_revenue(deps.engine, kind)  # type: ignore[arg-type]
    if len(series) < 6:
        raise FatalToolError("not enough monthly revenue history to forecast (need at least 6 months)")
    window = None
    if period:
        window = _whole_period(deps.period(period, "next quarter"))
        first_forecast = series.index[-1] + pd.offsets.MonthBegin(1)
        last_month = pd.Timestamp(window.end.replace(day=1))
        if last_month < first_forecast:
            raise FatalToolError(
                f"{window.label} is over (revenue is in the books to {deps.today()}): its revenue is an actual, not a "
                f"forecast; ask 'what was revenue in {window.label}?', or forecast a period after "
                f"{series.index[-1].strftime('%B %Y')}"
            )
        horizon_months = _months_between(first_forecast, last_month)
        if horizon_months > MAX_FORECAST_MONTHS:
            raise FatalToolError(
                f"{window.label} ends {horizon_months} months after the last full month of data "
                f"({series.index[-1].strftime('%B %Y')}); the forecast reaches at most {MAX_FORECAST_MONTHS} months ahead"
            )
    result = forecast_revenue(series, horizon=horizon_months, season_length=12)
    data = result.to_dict()
    history = {d[:7]: round(v) for d, v in zip(result.history_dates[-12:], result.history[-12:], strict=True)}
    growth = result.assumptions.get("growth rate", result.assumptions.get("growth_rate", "from the fitted trend"))
    backtest = ""
    if result.backtest is not None:
        b = result.backtest.to_dict() if hasattr(result.backtest, "to_dict") else dict(vars(result.backtest))
        backtest = f"backtest MAPE {b.get('mape', float('nan')):.1%} vs seasonal-naive {b.get('baseline_mape', float('nan')):.1%}"
    dates, mean, lower, upper = result.dates, result.mean, result.lower, result.upper
    methodology = result.methodology
    actual_facts: list[str] = []
    if window is not None:
        first_month = pd.Timestamp(window.start.replace(day=1))
        last_month = pd.Timestamp(window.end.replace(day=1))
        actual = series[(series.index >= first_month) & (series.index <= last_month)]
        keep = [i for i, d in enumerate(dates) if first_month <= pd.Timestamp(d) <= last_month]
        actual_dates = [d.date().isoformat() for d in actual.index]
        actual_values = [float(v) for v in actual]
        actual_facts = [
            f"{d[:7]}: ${v:,.0f} (actual, from the books)" for d, v in zip(actual_dates, actual_values, strict=True)
        ]
        dates = actual_dates + [dates[i] for i in keep]
        mean = actual_values + [mean[i] for i in keep]
        lower = actual_values + [lower[i] for i in keep]
        upper = actual_values + [upper[i] for i in keep]
        point, lo, hi = sum(mean), sum(lower), sum(upper)
        months = f"{dates[0][:7]} to {dates[-1][:7]}" if len(dates) > 1 else dates[0][:7]
        summed = (
            f"{window.label} = the sum of the model's monthly points for {months}"
            if not actual_facts
            else f"{window.label} = actual revenue for {', '.join(d[:7] for d in actual_dates)} plus the model's points "
            f"for the other months"
        )
        methodology = (
            f"{methodology} {summed}: ${point:,.0f}, 80% range ${lo:,.0f}–${hi:,.0f} (the monthly bounds summed, a "
            "conservative range)."
        )
        headline = f"{kind.title()} revenue forecast for {window.label} ({months}): ${point:,.0f} (80% range ${lo:,.0f}–${hi:,.0f})"
        forecast_period = f"{window.label} ({months})"
    else:
        point, (lo, hi) = result.point_estimate, result.point_interval
        headline = (
            f"{kind.title()} revenue forecast for the next {horizon_months} months: ${point:,.0f} "
            f"(80% range ${lo:,.0f}–${hi:,.0f})"
        )
        forecast_period = f"{horizon_months} months"
    model_output = {
        **{k: data[k] for k in ("interval", "method")},
        "dates": dates,
        "mean": mean,
        "lower": lower,
        "upper": upper,
        "methodology": methodology,
        "backtest": backtest,
    }
    return ToolResult(
        headline=headline,
        facts=[
            *actual_facts,
            *(
                f"{d[:7]}: ${m:,.0f} (80%: ${a:,.0f}–${b:,.0f})"
                for d, m, a, b in list(zip(dates, mean, lower, upper, strict=True))[len(actual_facts) :]
            ),
        ],
        method=methodology,
        data={
            "dates": dates,
            "mean": mean,
            "lower": lower,
            "upper": upper,
            "method": result.method,
            **(
                {
                    "period": window.label,
                    "total": round(point, 2),
                    "total_lower": round(lo, 2),
                    "total_upper": round(hi, 2),
                }
                if window is not None
                else {}
            ),
        },
        chart=forecast_fan_chart(result).to_plotly_json(),
        template="finance.revenue_forecast",
        prompt_vars={
            "forecast_period": forecast_period,
            "historical_data": json.dumps(history),
            "model_output": json.dumps(model_output, default=str),
            "growth_rate": growth,
            "churn_rate": result.assumptions.get("churn", "reflected in the history (not modelled separately)"),
            "seasonality": result.assumptions.get("seasonality", "yearly" if result.seasonal else "none"),
        },
    )


def calculator(deps: ToolDeps, expression: str) -> ToolResult:
    """Safe arithmetic and what-ifs (no eval)."""
    from app.analytics.calculator import CalculatorError, calculate

    try:
        result = calculate(expression)
    except CalculatorError as exc:
        raise InvalidToolInput(str(exc)) from exc
    return ToolResult(
        headline=f"{expression.strip()} = {result.formatted}",
        facts=list(result.steps),
        method="Safe expression evaluator (whitelisted operators and functions, no eval)",
        data=result.to_dict(),
    )


def _uploads(folder: Path) -> list[Path]:
    """The sheets in the uploads folder, oldest first."""
    if not folder.exists():
        return []
    return sorted(
        (p for p in folder.glob("*") if p.suffix.lower() in (".csv", ".xlsx", ".xls")), key=lambda p: p.stat().st_mtime
    )


def _current_thread() -> str | None:
    """The thread of the graph run calling a tool (None outside a run: the CLI's `gtm finance sheet`)."""
    from langgraph.config import get_config

    try:
        thread = get_config().get("configurable", {}).get("thread_id")
    except RuntimeError:
        return None
    return str(thread) if thread else None


def _visible_uploads(settings: Settings) -> list[Path]:
    """The sheets the current request may read, the thread's newest attachment last.

    First the shared ones (put in `GTM_HOME/uploads` by hand), then those attached in its own chat thread,
    each oldest first.

    Another thread's attachments are never visible: one user's budget sheet is not another user's answer.
    """
    thread = _current_thread()
    return _uploads(settings.uploads_path()) + (_uploads(settings.uploads_path(thread)) if thread else [])


def _latest_upload(deps: ToolDeps, name: str | None) -> Path:
    files = _visible_uploads(deps.settings)
    if name:
        matches = [p for p in files if p.name == Path(name).name]
        if not matches:
            raise InvalidToolInput(
                f"no uploaded sheet named {name!r}; uploaded: {', '.join(p.name for p in files) or 'none'}"
            )
        return matches[-1]
    if not files:
        raise FatalToolError("no sheet uploaded yet: attach a CSV or XLSX file to your message")
    return files[-1]


_SQL_QUERY = re.compile(r"^\s*(?:select|with)\b.*\bfrom\b", re.IGNORECASE | re.DOTALL)
"""Text that is SQL ("SELECT department FROM sheet"), not a sentence that starts with "select"."""


def sheet(
    deps: ToolDeps,
    sql: str | None = None,
    file: str | None = None,
    question: str | None = None,
    column: str | None = None,
    table: str | None = None,
) -> ToolResult:
    """Answer a question about an uploaded sheet: run its SQL, turn its words into a query, or describe and total it.

    Raises:
        InvalidToolInput: a bad file, a query that is not allowed, or a column the sheet does not have (the
            message lists the columns).
    """
    from app.analytics.sheets import SheetError, describe_sheet, load_sheet, question_to_sql

    path = _latest_upload(deps, file)
    try:
        with load_sheet(path) as db:
            table = table if table in db.tables else db.tables[0]
            columns = db.columns(table)
            if not question and column in {c.name for c in columns if c.numeric}:
                question = f"total {column}"  # a numeric column alone: its total
            if sql and (_SQL_QUERY.match(sql) or not question):
                text, asks = sql, None
            elif question and (asked := question_to_sql(question, columns, table)) is not None:
                text, asks = asked.sql, asked.asks
            else:
                text, asks = None, None
            q = db.query(text) if text else None
        if q is not None:
            return _sheet_answer(path.name, q, asks)
        d = describe_sheet(path)
    except SheetError as exc:
        raise InvalidToolInput(str(exc)) from exc
    info = d.to_dict()
    facts: list[str] = []
    for described in info["tables"]:
        facts.append(f"Table `{described.get('name')}`: {described.get('rows', described.get('row_count'))} rows")
        for col in described.get("columns", []):
            total = col.get("total", col.get("sum"))
            if total is not None:
                facts.append(f"Total of {col.get('source_name') or col['name']}: {total:,.2f}")
    return ToolResult(
        headline=f"{path.name}: {len(info['tables'])} table(s)",
        facts=facts + list(d.warnings),
        method="Columns typed and totalled on an in-memory copy of the uploaded file",
        data={"file": path.name, "tables": len(info["tables"])},
    )


_MONEY = r"[$€£]\s?(\d[\d,]*(?:\.\d+)?)\s*(k|m|mn|bn|b)?(?![a-z])"
_SCALE = {"k": 1e3, "m": 1e6, "mn": 1e6, "b": 1e9, "bn": 1e9}
_ACCOUNTS = re.compile(
    r"\b(?P<verb>add|adding|added|sign|signing|win|winning|gain|gaining|get|land|landing|lose|losing|lost|churn|"
    r"churning|churned)\s+(?:another\s+|an\s+extra\s+)?(?P<n>\d[\d,]*)\s+(?:new\s+|more\s+|extra\s+)?"
    r"(?:(?P<plan>starter|growth|enterprise)\s+)?(?:plan\s+)?(?:accounts?|customers?|subscriptions?|subscribers?|"
    r"clients?|logos?)\b",
    re.IGNORECASE,
)
_SPEND = re.compile(
    rf"\b(?:spend|spending|spent|invest|investing|put|allocate|allocating|budget(?:\s+of)?)\s+(?:an?\s+)?"
    rf"(?:extra\s+|another\s+|additional\s+)?{_MONEY}",
    re.IGNORECASE,
)
_PERCENT = re.compile(
    r"\b(?P<verb>grow|grows|grew|increase|increases|increased|rise|rises|raise|raised|goes up|went up|improve|"
    r"improves|cut|cuts|drop|drops|dropped|fall|falls|decrease|decreases|decreased|reduce|reduces|reduced|lower|"
    r"lowered|goes down|went down)(?:\s+(?:our\s+|the\s+|its\s+)?(?:prices?|pricing))?\s+(?:by\s+)?"
    r"(?P<pct>\d+(?:\.\d+)?)\s*(?:%|percent)",
    re.IGNORECASE,
)
_DOWN = ("cut", "drop", "fall", "decrease", "reduce", "lower", "goes down", "went down")
_DRIVER = re.compile(
    r"\b(churn(?: rate)?|retention|conversion(?: rate)?|click-through|ctr|traffic|leads?|headcount|salar(?:y|ies)"
    r"|costs?|spend(?:ing)?|budget|prices?|pricing)\b",
    re.IGNORECASE,
)
"""What a percentage may change instead of the metric itself ("if churn drops by 2%" is not "MRR falls 2%")."""
_PRICE_METRICS = frozenset({"revenue", "mrr", "arr"})
"""Metrics a price change scales (same volume assumed): "what would revenue be if we raised prices by 10%"."""


def _changed_driver(text: str, found: re.Match[str], metric: str) -> str | None:
    """The other figure a "grows/drops N%" phrase changes (churn, prices…), or None when it changes the metric.

    Read in the words just before the verb and just after it ("if churn drops by 2%", "if we raise prices 10%").
    """
    window = text[max(0, found.start() - 40) : found.start()] + " " + text[found.start() : found.end() + 20]
    for driver in _DRIVER.finditer(window):
        word = driver.group(1).lower()
        if word.startswith(("price", "pricing")) and metric in _PRICE_METRICS:
            continue
        return word
    return None


_ARITHMETIC = re.compile(r"[$(]*\d[\d,.]*%?[)]*(?:\s*[-+*/×^]\s*[$(]*\d[\d,.]*%?[)]*)+")
"""Numbers joined by operators ("1000 * 49 * 1.1")."""


def _arithmetic(text: str) -> str | None:
    """The longest arithmetic in `text`, if any."""
    spans = [m.group(0) for m in _ARITHMETIC.finditer(text)]
    return max(spans, key=len).replace("×", "*") if spans else None


def _money(text: str) -> float | None:
    """The first amount of money in `text` ("$199", "$1.2M", "$50k")."""
    if m := re.search(_MONEY, text, re.IGNORECASE):
        return float(m.group(1).replace(",", "")) * _SCALE.get((m.group(2) or "").lower(), 1.0)
    return None


def _format(value: float, unit: str) -> str:
    """A metric value with its unit ("$655,878.99", "12.3 months", "104.2%")."""
    if unit == "USD" or unit.startswith("USD/"):
        return f"${value:,.2f}"
    if unit == "%":
        return f"{value:,.1f}%"
    return f"{value:,.2f} {unit}".rstrip()


def what_if(
    deps: ToolDeps,
    metric: str | None = None,
    question: str | None = None,
    accounts: int | None = None,
    price_usd: float | None = None,
    spend_usd: float | None = None,
    change_pct: float | None = None,
    period: str | None = None,
    channel: str | None = None,
) -> ToolResult:
    """A scenario on a real figure: today's metric from the books with the stated change applied, arithmetic shown.

    Added (or lost) accounts × monthly price change MRR (× 12 ARR); a spend divided by the current CAC is the
    customers it buys (× ROAS the revenue it returns); a percentage scales any metric. Fields the caller leaves
    out are read from `question`; a question without a change gets the current figure.

    Raises:
        InvalidToolInput: a change that does not apply to the metric, or nothing to start from.
    """
    from app.analytics.calculator import CalculatorError, calculate
    from app.data.catalog import PLAN_MONTHLY_PRICE

    text = question or ""
    plan: str | None = None
    if accounts is None and spend_usd is None and (cut := _spend_change(text)) is not None:
        channel = known_channel(channel)  # only a spend change is per channel: "spend $10k on TikTok" is the CAC's
        if metric not in (None, "cac"):
            raise InvalidToolInput(
                f"a change in spend is modelled for CAC only (spend / new customers), not for {metric.upper()}: ask "
                "'what would CAC be if we cut events spend by 50%?'"
            )
        return _cac_with_spend_change(deps, change_pct if change_pct is not None else cut, channel, period)
    if accounts is None and (m := _ACCOUNTS.search(text)):
        accounts = int(m.group("n").replace(",", ""))
        if m.group("verb").lower().startswith(("lose", "losing", "lost", "churn")):
            accounts = -accounts
        plan = (m.group("plan") or "").lower() or None
        if price_usd is None:
            price_usd = _money(text[m.end() :]) or _money(text)
    if accounts is not None and price_usd is None:
        plan = plan or next((p for p in PLAN_MONTHLY_PRICE if re.search(rf"\b{p}\b", text, re.IGNORECASE)), None)
        price_usd = PLAN_MONTHLY_PRICE[plan or "growth"]
    if accounts is None and spend_usd is None and (m := _SPEND.search(text)):
        spend_usd = float(m.group(1).replace(",", "")) * _SCALE.get((m.group(2) or "").lower(), 1.0)
    percent = _PERCENT.search(text) if accounts is None and spend_usd is None and change_pct is None else None
    if percent is not None:
        change_pct = float(percent.group("pct")) * (-1 if percent.group("verb").lower().startswith(_DOWN) else 1)
    if metric is None:
        metric = "mrr" if accounts is not None else "cac" if spend_usd is not None else None
    if percent is not None and metric is not None and (driver := _changed_driver(text, percent, metric)):
        raise InvalidToolInput(
            f"a change in {driver} is not modelled as a change in {metric.upper()}: say how {metric.upper()} itself "
            f"changes (e.g. 'what would {metric.upper()} be if it grows 10%?') or add accounts, prices or spend"
        )
    if metric is None and accounts is None and spend_usd is None and (expression := _arithmetic(text)):
        return calculator(deps, expression)  # "what if …: 1000 * 49 * 1.1" gives its own arithmetic
    if metric is None:
        raise InvalidToolInput(
            "say which figure the scenario starts from, e.g. 'what would MRR be if we add 120 Growth accounts at "
            "$199?' or 'if we spend $1.2M, how many customers at our CAC?'"
        )
    if accounts is None and spend_usd is None and change_pct is None:
        return _company_metric(deps, metric, period=period)

    base = _company_metric(deps, metric, period=period)
    data: dict[str, Any] = dict(base.get("data") or {})
    headline = str(base["headline"])
    current, unit, label = data.get("result"), str(data.get("unit", "")), data.get("period")
    name = str(data.get("metric", metric.upper()))
    if current is None:
        raise InvalidToolInput(f"{name} has no finite current value ({headline}); a scenario cannot start from it")
    now = f"{name} {label}: {_format(current, unit)} (from the books: {headline})"
    if accounts is not None:
        if metric not in ("mrr", "arr"):
            raise InvalidToolInput(f"added accounts change MRR or ARR, not {name}; ask 'what would MRR be if…'")
        months = " * 12" if metric == "arr" else ""
        expression = f"current = {current:.2f}; change = {accounts} * {price_usd:g}{months}; current + change"
        plan_note = (
            f" ({plan.title()} plan price)" if plan and f"{price_usd:g}" == f"{PLAN_MONTHLY_PRICE[plan]:g}" else ""
        )
        change = (
            f"we {'add' if accounts >= 0 else 'lose'} {abs(accounts):,} accounts at ${price_usd:,.2f}/month{plan_note}"
        )
    elif spend_usd is not None:
        if metric not in ("cac", "roas"):
            raise InvalidToolInput(f"a spend buys customers at the CAC or returns revenue at the ROAS, not {name}")
        operator = "/" if metric == "cac" else "*"
        expression = f"spend = {spend_usd:.2f}; current = {current:.4f}; spend {operator} current"
        change = f"we spend ${spend_usd:,.0f}"
    else:
        assert change_pct is not None
        expression = f"current = {current:.4f}; current * (1 + {change_pct:g} / 100)"
        change = f"{name} {'rises' if change_pct >= 0 else 'falls'} {abs(change_pct):g}%"
    try:
        calc = calculate(expression)
    except CalculatorError as exc:
        raise InvalidToolInput(str(exc)) from exc
    value = calc.value
    if spend_usd is not None and metric == "cac":
        outcome = f"${spend_usd:,.0f} / {_format(current, unit)} CAC = {value:,.1f}, about {value:,.0f} new customers"
        result = {"customers": round(value, 2)}
    elif spend_usd is not None:
        outcome = f"${spend_usd:,.0f} × ROAS {current:,.2f} = ${value:,.2f} attributed revenue"
        result = {"revenue": round(value, 2)}
    else:
        delta = value - current
        outcome = (
            f"{name} would be {_format(value, unit)} (now {_format(current, unit)} "
            f"{'+' if delta >= 0 else '−'} {_format(abs(delta), unit)})"
        )
        result = {"scenario": round(value, 4), "change": round(delta, 4)}
    return ToolResult(
        headline=f"What if {change}: {outcome}",
        facts=[f"Current {now}", *(f"Step: {step}" for step in calc.steps)],
        method="Scenario = the current figure from the books with the stated change applied (no ramp-up, churn or "
        "seasonality assumed); arithmetic by the safe calculator",
        data={"metric": metric, "period": label, "current": current, "unit": unit, "expression": expression, **result},
    )


_SPEND_WORD = r"(?:marketing\s+|ad\s+|advertising\s+|media\s+)?(?:spend(?:ing)?|budget)s?"
_SPEND_VERBS = (
    "cut|cuts|cutting|reduce|reduced|reducing|lower|lowered|lowering|drop|dropped|dropping|decrease|decreased|"
    "decreasing|trim|trimmed|slash|slashed|raise|raised|raising|increase|increased|increasing|grow|grew|boost|boosted"
)
"""Verbs of a spend change written before the spend ("cut events spend by 50%")."""
_SPEND_CHANGE = re.compile(
    rf"\b(?P<verb>{_SPEND_VERBS})"
    rf"\b[^.?!%\d]{{0,40}}?\b{_SPEND_WORD}\b[^.?!%\d]{{0,30}}?(?:by\s+)?(?P<pct>\d+(?:\.\d+)?)\s*(?:%|percent\b)"
    rf"|\b{_SPEND_WORD}\b[^.?!%\d]{{0,30}}?\b(?P<verb2>drops?|dropped|falls?|fell|rises?|rose|grows?|grew|goes up|goes down"
    rf"|went up|went down|(?:is|was|were)\s+(?:cut|reduced|lowered|raised|increased))\s+(?:by\s+)?(?P<pct2>\d+(?:\.\d+)?)\s*(?:%|percent\b)"
    rf"|\b(?P<half>halve|halved|halving|double|doubled|doubling)\b[^.?!%\d]{{0,40}}?\b{_SPEND_WORD}\b",
    re.IGNORECASE,
)
"""A percentage change of marketing spend ("cut events spend by 50%", "if paid search budget drops 20%", "halve
events spend"): a scenario on the spend CAC divides, not on CAC itself."""
_SPEND_DOWN = ("cut", "reduc", "lower", "drop", "decreas", "trim", "slash", "fall", "fell", "went down", "goes down")


def _spend_change(text: str) -> float | None:
    """The percent change of spend a scenario states (−50 for "cut events spend by 50%"), or None."""
    m = _SPEND_CHANGE.search(text)
    if m is None:
        return None
    if m.group("half"):
        return -50.0 if m.group("half").lower().startswith("halv") else 100.0
    verb = (m.group("verb") or m.group("verb2")).lower()
    pct = float(m.group("pct") or m.group("pct2"))
    return -pct if any(d in verb for d in _SPEND_DOWN) else pct


def _cac_with_spend_change(deps: ToolDeps, change_pct: float, channel: str | None, period: str | None) -> ToolResult:
    """CAC had one channel's (or all) spend been `change_pct`% different, with the same new customers.

    CAC' = (spend − channel spend + channel spend × (1 + change)) / new customers. The new customers are kept as
    they were: the scenario says what the spend would have cost per customer, not how many customers the channel
    would have lost (or won), which the books cannot tell.
    """
    from app.analytics.calculator import CalculatorError, calculate
    from app.analytics.unit_economics import cac_by_channel

    if change_pct <= -100:
        raise InvalidToolInput(f"spend cannot fall by {abs(change_pct):g}%: at most 100%")
    base = _company_metric(deps, "cac", period=period)
    data = dict(base.get("data") or {})
    inputs = data.get("inputs") or {}
    spend = float((inputs.get("marketing_spend") or {}).get("value") or 0.0)
    customers = int((inputs.get("new_customers") or {}).get("value") or 0)
    current, label = data.get("result"), str(data.get("period", ""))
    if current is None or customers <= 0:
        raise InvalidToolInput(f"CAC has no current value to start from ({base['headline']})")
    if channel:
        frame = cac_by_channel(deps.engine, deps.period(period or "last quarter", "last quarter"))
        changed = float(frame.loc[frame["channel"] == channel, "spend"].sum())
        where = f"{channel} spend"
    else:
        changed, where = spend, "marketing spend"
    expression = (
        f"spend = {spend:.2f}; changed = {changed:.2f}; customers = {customers}; "
        f"(spend - changed + changed * (1 + {change_pct:g} / 100)) / customers"
    )
    try:
        calc = calculate(expression)
    except CalculatorError as exc:
        raise InvalidToolInput(str(exc)) from exc
    value = calc.value
    new_spend = spend - changed + changed * (1 + change_pct / 100)
    verb = "cut" if change_pct < 0 else "raised"
    change = f"{where} {label} was {verb} by {abs(change_pct):g}%"
    return ToolResult(
        headline=(
            f"What if {change}: CAC would have been ${value:,.2f} (actual ${current:,.2f}; "
            f"{'−' if value < current else '+'}${abs(value - current):,.2f}), with the same {customers:,} new customers"
        ),
        facts=[
            f"Actual CAC {label}: ${spend:,.2f} spend / {customers:,} new customers = ${current:,.2f}",
            f"{where[:1].upper()}{where[1:]} {label}: ${changed:,.2f} → ${changed * (1 + change_pct / 100):,.2f} "
            f"({change_pct:+g}%)",
            f"Scenario spend = ${spend:,.2f} − ${changed:,.2f} + ${changed * (1 + change_pct / 100):,.2f} = "
            f"${new_spend:,.2f}",
            f"Scenario CAC = ${new_spend:,.2f} / {customers:,} = ${value:,.2f}",
        ],
        method="Scenario CAC = (spend with the stated change) / the same new customers: the customers that spend "
        "acquired are assumed to come anyway (an upper bound on the saving of a cut); arithmetic by the safe "
        "calculator",
        data={
            "metric": "cac",
            "period": label,
            "current": current,
            "unit": "USD/customer",
            "channel": channel,
            "change_pct": change_pct,
            "spend": spend,
            "changed_spend": changed,
            "new_customers": customers,
            "expression": expression,
            "scenario": round(value, 4),
            "change": round(value - current, 4),
        },
    )


def _sheet_answer(file: str, q: Any, asks: str | None) -> ToolResult:
    """A query's rows as a tool result; a one-row answer to a question in words is also the headline."""
    facts = [f"Query: {q.sql}"]
    headline = f"{q.row_count} row(s) from {file}" + (" (truncated)" if q.truncated else "")
    if asks and q.row_count == 1:
        cells = ", ".join(f"{c} {_cell(v)}" for c, v in zip(q.columns, q.rows[0], strict=True))
        headline = f"{file}: {asks}: {cells}"
    elif asks:
        facts.insert(0, f"Answers: {asks}")
    return ToolResult(
        headline=headline,
        facts=facts,
        table={"columns": q.columns, "rows": q.rows[:50]},
        method="Read-only SELECT on an in-memory copy of the sheet (validated with sqlglot)"
        + ("; the question was turned into SQL over the sheet's own column names" if asks else ""),
        data={"columns": q.columns, "row_count": q.row_count, "rows": q.rows[:50], "sql": q.sql},
    )


def _cell(value: Any) -> str:
    """A result cell for people: numbers with thousands separators."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:,.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else f"{value:,}"


def campaign_economics(
    deps: ToolDeps,
    customers: list[dict[str, Any]],
    incentive_usd: float = 0.0,
    response_rate: float = 0.12,
    cost_per_email: float = 0.05,
) -> ToolResult:
    """Win-back cost (incentive × expected redemptions + sending) and ROI from expected reactivated value.

    The incentive is one free month of the plan each account had (Starter $49, Growth $199: plans-and-pricing.md),
    taken from each recipient's `incentive_usd` (accounts without an offer cost only the sending); an explicit
    `incentive_usd` applies to every recipient, and recipients without one default to a Growth month.
    """
    n = len(customers)
    if n == 0:
        raise FatalToolError("no recipients: nothing to cost")

    def incentive_of(c: dict[str, Any]) -> float:
        if incentive_usd:
            return incentive_usd
        own = c.get("incentive_usd")
        return DEFAULT_WINBACK_INCENTIVE_USD if own is None else float(own)

    incentives = [incentive_of(c) for c in customers]
    offers = sum(1 for i in incentives if i > 0)
    redemptions = n * response_rate
    incentive_cost = sum(incentives) * response_rate
    cost = incentive_cost + n * cost_per_email
    value = sum(float(c.get("value_12m") or c.get("clv_12m") or c.get("historical_value") or 0.0) for c in customers)
    value *= response_rate
    roi = (value - cost) / cost if cost else 0.0
    by_price: dict[float, int] = {}
    for i in incentives:
        by_price[i] = by_price.get(i, 0) + 1
    mix = " + ".join(f"{k} × ${p:,.0f}" for p, k in sorted(by_price.items(), reverse=True))
    average = sum(incentives) / n
    value_label = (
        "12-month value (former MRR × 12 + hardware CLV)"
        if any(c.get("value_12m") is not None for c in customers)
        else "12-month CLV"
    )
    return ToolResult(
        headline=f"Win-back for {n} customers: cost ${cost:,.0f}, expected value ${value:,.0f}, ROI {roi:.1f}×",
        facts=[
            f"Incentive: one free month of each account's plan ({mix}; {offers} of {n} recipients get an offer), "
            f"${average:,.2f} on average",
            f"Cost = Σ incentives ${sum(incentives):,.0f} × {response_rate:.0%} expected to redeem ({redemptions:.1f} "
            f"of {n}) + {n} × ${cost_per_email:.2f} sending = ${cost:,.2f}",
            f"Expected reactivated value = {response_rate:.0%} × Σ {value_label} (${value / response_rate:,.0f}) = ${value:,.2f}",
            f"ROI = (value − cost) / cost = ({value:,.0f} − {cost:,.0f}) / {cost:,.0f} = {roi:.2f}",
        ],
        method="Expected-value model: response rate × each account's 12-month value (former MRR × 12 + BG/NBD + "
        "Gamma-Gamma hardware CLV) against each account's free month and the sending cost",
        recommendation="Proceed: expected value exceeds cost."
        if roi > 0
        else "Reconsider: the expected value does not cover the cost.",
        data={
            "recipients": n,
            "campaign_cost": round(cost, 2),
            "expected_value": round(value, 2),
            "roi": round(roi, 4),
            "incentive_usd": round(average, 2),
            "incentive_cost": round(incentive_cost, 2),
            "offers": offers,
            "response_rate": response_rate,
        },
    )


def build_finance_tools(deps: ToolDeps) -> list[BaseTool]:
    """The Finance agent's tools."""
    tool = partial(make_tool, deps)

    assert set(CHANNELS) == set(CHANNEL_ALIASES), "channel aliases out of step with the catalogue"
    return [
        tool(
            metric,
            "compute_metric",
            "Compute a unit-economics metric from the books with formula and steps: CAC (customer acquisition cost), LTV, LTV:CAC, ROAS, payback, burn rate, runway, NRR, gross margin, AOV, budget variance, revenue (actual, earned) or MRR/ARR, for a period and optional channel or customer segment.",
            MetricArgs,
        ),
        tool(
            channel_cac,
            "cac_by_channel",
            "Marketing spend, new customers, CAC and ROAS broken down by every marketing channel for a period: how much "
            "we spent on each channel, compared side by side with a chart.",
            ChannelCacArgs,
        ),
        tool(
            forecast,
            "forecast_revenue",
            "Forecast monthly revenue for the coming months (projection, outlook, prediction) with an 80% interval and a fan chart.",
            ForecastArgs,
        ),
        tool(
            what_if,
            "what_if",
            "Hypothetical scenario (what would happen if we...): apply a stated change, such as accounts won or "
            "lost at a price, an amount spent, or a percentage rise or cut, to today's figure from the books and "
            "show the arithmetic.",
            WhatIfArgs,
        ),
        tool(calculator, "calculate", "Calculator for ad-hoc arithmetic, percentages and what-if scenarios.", CalcArgs),
        tool(
            sheet,
            "query_sheet",
            "Answer questions about an uploaded spreadsheet (CSV/XLSX): totals, columns, or a SQL SELECT over it.",
            _sheet_args(deps),
        ),
        tool(
            campaign_economics,
            "campaign_economics",
            "Cost and ROI of a win-back campaign for a list of customers.",
            CampaignEconomicsArgs,
            internal=True,
        ),
    ]
