"""Filters named in a question are applied, or refused by name, never dropped (exploratory-testing bugs).

- "CAC for the smb segment", "ARR for enterprise customers", "NRR / gross margin for the enterprise segment" were
  answered company-wide: `compute_metric` takes a segment (`customers.segment`) and labels the answer with it.
- "How many new customers from paid search / new enterprise customers": `customer_counts` takes both filters.
- "ROAS for TikTok": an unknown channel is refused, naming the known channels; a segment for ROAS or burn is refused.
- "What is our churn rate?" got the at-risk list: `churn_rate` (cancelled / paying at the start, and per month).
- "Which customers have the highest 12-month value?" got the purchase cohorts: it is the CLV ranking.
- "churn risk for customer c00031": ids match in any case.

Every expected figure is recomputed here from the seeded business database with SQL and pandas.
"""

from __future__ import annotations

import sqlite3
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from langchain_core.messages import HumanMessage

from app.data.catalog import CHANNELS
from app.data.db import get_engine
from app.settings import Settings
from graph.llm.offline import OfflineChatModel
from graph.tools.base import FatalToolError
from graph.tools.deps import ToolDeps
from graph.tools.finance import build_finance_tools, metric
from graph.tools.insights import build_insights_tools, churn, churn_rate, counts
from graph.tools.marketing import build_marketing_tools, channels
from tests.graph.conftest import offline_settings


@pytest.fixture
def deps(tmp_path: Path, seeded_db: Path) -> ToolDeps:
    settings: Settings = offline_settings(tmp_path, seeded_db, tmp_path)
    return ToolDeps(engine=get_engine(settings.business_db_url), settings=settings)


@pytest.fixture(scope="module")
def schema_deps(tmp_path_factory: pytest.TempPathFactory) -> ToolDeps:
    """Deps for planning only: the model sees the tools' schemas, nothing runs."""
    return ToolDeps(engine=None, settings=Settings(home=tmp_path_factory.mktemp("plan")))


def _frame(deps: ToolDeps, query: str, *args: object) -> pd.DataFrame:
    with sqlite3.connect(str(deps.engine.url.database)) as conn:
        return pd.read_sql_query(query, conn, params=args)


def _plan(tools: list[Any], agent: str, request: str) -> list[tuple[str, dict[str, Any]]]:
    model = OfflineChatModel(agent=agent).bind_tools([t for t in tools if not (t.metadata or {}).get("internal")])
    return [(c["name"], c["args"]) for c in model.invoke([HumanMessage(request)]).tool_calls]


def _last_quarter(deps: ToolDeps) -> tuple[date, date]:
    """The calendar quarter before the one holding the data's last day."""
    today = deps.today()
    first = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    end = first - timedelta(days=1)
    return date(end.year, end.month - 2, 1), end


def _mrr_on(deps: ToolDeps, day: date, segment: str | None = None) -> pd.Series:
    """MRR per paying account on `day` (subscriptions running that day), optionally of one segment."""
    subs = _frame(
        deps,
        "select s.customer_id, s.mrr, s.start_date, s.end_date, c.segment from subscriptions s "
        "join customers c on c.id = s.customer_id",
    )
    running = (pd.to_datetime(subs["start_date"]) <= pd.Timestamp(day)) & (
        subs["end_date"].isna() | (pd.to_datetime(subs["end_date"]) > pd.Timestamp(day))
    )
    if segment:
        running &= subs["segment"] == segment
    mrr = subs[running].groupby("customer_id")["mrr"].sum()
    return mrr[mrr > 0]


# -- which tool, with which filters ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agent", "request_text", "expected"),
    [
        (
            "finance",
            "What was CAC for the smb segment in Q3 2026?",
            ("compute_metric", {"metric": "cac", "period": "Q3 2026", "segment": "smb"}),
        ),
        ("finance", "ARR for enterprise customers", ("compute_metric", {"metric": "arr", "segment": "enterprise"})),
        (
            "finance",
            "NRR for the enterprise segment last quarter",
            ("compute_metric", {"metric": "nrr", "segment": "enterprise", "period": "last quarter"}),
        ),
        (
            "finance",
            "gross margin in Q3 2026 for the enterprise segment",
            ("compute_metric", {"metric": "gross_margin", "segment": "enterprise"}),
        ),
        ("finance", "ROAS for TikTok last month", ("compute_metric", {"metric": "roas", "channel": "TikTok"})),
        ("finance", "ROAS for Facebook ads", ("compute_metric", {"metric": "roas", "channel": "paid_social"})),
        ("finance", "What is our burn rate?", ("compute_metric", {"metric": "burn", "channel": None})),
        ("marketing", "How did TikTok perform last month?", ("channel_performance", {"channel": "TikTok"})),
        ("marketing", "ROAS for every channel last month", ("channel_performance", {"channel": None})),
        (
            "insights",
            "How many new customers from paid search in Q3 2026?",
            ("customer_counts", {"period": "Q3 2026", "channel": "paid_search", "segment": None}),
        ),
        (
            "insights",
            "How many new enterprise customers did we get in Q3 2026?",
            ("customer_counts", {"period": "Q3 2026", "segment": "enterprise", "channel": None}),
        ),
        ("insights", "What is our churn rate?", ("churn_rate", {"period": None})),
        ("insights", "churn rate last quarter", ("churn_rate", {"period": "last quarter"})),
        ("insights", "What was monthly churn for smb in Q3 2026?", ("churn_rate", {"segment": "smb"})),
        ("insights", "Which customers are likely to churn?", ("churn_risk", {})),
        ("insights", "How many customers churned in October?", ("customer_counts", {})),
        ("insights", "Which customers have the highest 12-month value?", ("customer_clv", {})),
        ("insights", "Top 10 customers by predicted lifetime value", ("customer_clv", {"top_n": 10})),
        ("insights", "churn risk for customer c00031", ("churn_risk", {"customer_id": "c00031"})),
    ],
)
def test_the_filter_a_request_names_reaches_the_tool(
    schema_deps: ToolDeps, agent: str, request_text: str, expected: tuple[str, dict[str, Any]]
) -> None:
    build = {"finance": build_finance_tools, "insights": build_insights_tools, "marketing": build_marketing_tools}
    [(name, args)] = _plan(build[agent](schema_deps), agent, request_text)
    assert (name, {k: args.get(k) for k in expected[1]}) == expected, (request_text, name, args)


# -- compute_metric by segment --------------------------------------------------------------------------------


def test_cac_for_a_segment_allocates_untargeted_spend_by_its_share_of_new_customers(deps: ToolDeps) -> None:
    start, end = _last_quarter(deps)
    signups = _frame(deps, "select segment from customers where signup_date between ? and ?", str(start), str(end))
    spend = _frame(
        deps,
        "select p.spend, k.segment from channel_performance p left join campaigns k on k.id = p.campaign_id "
        "where p.date between ? and ?",
        str(start),
        str(end),
    )
    n_smb, n_all = int((signups["segment"] == "smb").sum()), len(signups)
    direct = spend.loc[spend["segment"] == "smb", "spend"].sum()
    untargeted = spend.loc[spend["segment"].isna() | (spend["segment"] == "all"), "spend"].sum()
    expected = (direct + untargeted * n_smb / n_all) / n_smb

    result = metric(deps, "cac", period="last quarter", segment="smb")
    company = metric(deps, "cac", period="last quarter")

    assert result["data"]["result"] == pytest.approx(expected, rel=1e-9)
    assert result["data"]["inputs"]["new_customers"]["value"] == n_smb
    assert result["data"]["scope"] == "segment smb" and "segment smb" in result["headline"]
    assert company["data"]["result"] == pytest.approx(spend["spend"].sum() / n_all, rel=1e-9)
    assert result["data"]["result"] != pytest.approx(company["data"]["result"])


def test_arr_and_nrr_for_a_segment_cover_its_accounts_only(deps: ToolDeps) -> None:
    arr = metric(deps, "arr", segment="enterprise")
    day = date.fromisoformat(arr["data"]["end"])
    assert arr["data"]["result"] == pytest.approx(_mrr_on(deps, day, "enterprise").sum() * 12, abs=0.01)
    assert "segment enterprise" in arr["headline"]
    assert metric(deps, "arr")["data"]["result"] == pytest.approx(_mrr_on(deps, day).sum() * 12, abs=0.01)

    start, end = _last_quarter(deps)
    before = _mrr_on(deps, start - timedelta(days=1), "enterprise")
    after = _mrr_on(deps, end, "enterprise").reindex(before.index, fill_value=0.0)
    nrr = metric(deps, "nrr", period="last quarter", segment="enterprise")
    assert nrr["data"]["result"] == pytest.approx(after.sum() / before.sum() * 100, rel=1e-9)
    assert nrr["data"]["scope"] == "segment enterprise"


def test_gross_margin_for_a_segment_reads_that_segments_orders(deps: ToolDeps) -> None:
    start, end = _last_quarter(deps)
    orders = _frame(
        deps,
        "select o.amount from orders o join customers c on c.id = o.customer_id "
        "where c.segment = 'enterprise' and o.order_date between ? and ?",
        str(start),
        str(end),
    )
    result = metric(deps, "gross_margin", period="last quarter", segment="enterprise")
    assert result["data"]["inputs"]["hardware_revenue"]["value"] == pytest.approx(orders["amount"].sum(), abs=0.01)
    assert result["data"]["scope"] == "segment enterprise" and "segment enterprise" in result["headline"]


@pytest.mark.parametrize(
    ("name", "kwargs", "says"),
    [
        ("roas", {"segment": "smb"}, "recorded per marketing channel"),
        ("burn", {"segment": "enterprise"}, "cannot be split by segment"),
        ("runway", {"channel": "email"}, "cannot be split by channel"),
        ("cac", {"segment": "smb", "channel": "email"}, "not both"),
    ],
)
def test_a_split_the_metric_has_not_is_refused_not_answered_company_wide(
    deps: ToolDeps, name: str, kwargs: dict[str, str], says: str
) -> None:
    with pytest.raises(FatalToolError, match=says):
        metric(deps, name, **kwargs)


def test_an_unknown_channel_is_refused_naming_the_known_ones(deps: ToolDeps) -> None:
    with pytest.raises(FatalToolError) as metric_error:
        metric(deps, "roas", period="last month", channel="TikTok")
    with pytest.raises(FatalToolError) as report_error:
        channels(deps, period="last month", channel="TikTok")
    for error in (metric_error, report_error):
        assert "TikTok" in str(error.value) and all(c in str(error.value) for c in CHANNELS)
    assert metric(deps, "roas", channel="Paid Search")["data"]["scope"] == "channel paid_search"


# -- customer counts by segment and channel -------------------------------------------------------------------


@pytest.mark.parametrize(("segment", "channel"), [(None, "paid_search"), ("enterprise", None), ("smb", "email")])
def test_customer_counts_take_a_segment_and_a_channel(deps: ToolDeps, segment: str | None, channel: str | None) -> None:
    start, end = _last_quarter(deps)
    people = _frame(deps, "select segment, acquisition_channel, signup_date, status, churned_date from customers")
    keep = pd.Series(True, index=people.index)
    if segment:
        keep &= people["segment"] == segment
    if channel:
        keep &= people["acquisition_channel"] == channel
    people = people[keep]
    new = people["signup_date"].between(str(start), str(end)).sum()
    churned = ((people["status"] == "churned") & people["churned_date"].between(str(start), str(end))).sum()

    result = counts(deps, period="last quarter", segment=segment, channel=channel)
    everyone = counts(deps, period="last quarter")

    assert (result["data"]["new_customers"], result["data"]["churned"]) == (new, churned)
    assert all(f"{k} {v}" in result["headline"] for k, v in (("segment", segment), ("channel", channel)) if v)
    assert everyone["data"]["new_customers"] > new


def test_customer_counts_refuse_an_unknown_channel(deps: ToolDeps) -> None:
    with pytest.raises(FatalToolError, match="paid_search"):
        counts(deps, period="last quarter", channel="TikTok")


# -- churn rate -----------------------------------------------------------------------------------------------


def _churn(deps: ToolDeps, first: date, last: date, segment: str | None = None) -> tuple[int, int]:
    before = _mrr_on(deps, first - timedelta(days=1), segment)
    after = _mrr_on(deps, last, segment)
    return int((~before.index.isin(after.index)).sum()), len(before)


def test_churn_rate_is_cancelled_over_paying_at_the_start_and_per_month(deps: ToolDeps) -> None:
    start, end = _last_quarter(deps)
    cancelled, paying = _churn(deps, start, end)
    result = churn_rate(deps, period="last quarter")

    assert result["data"]["result"] == pytest.approx(cancelled / paying * 100, rel=1e-9)
    assert f"{cancelled:,} of {paying:,}" in result["headline"] and f"{cancelled / paying:.2%}" in result["headline"]
    months = [(m.date(), (m + pd.offsets.MonthEnd(0)).date()) for m in pd.date_range(start, end, freq="MS")]
    assert [(r["churned"], r["active_start"]) for r in result["data"]["breakdown"]] == [
        _churn(deps, a, b) for a, b in months
    ]
    assert [row[0] for row in result["table"]["rows"]] == [f"{a:%Y-%m}" for a, _ in months]
    monthly = 1 - (1 - cancelled / paying) ** (1 / ((end - start).days + 1) * (365.25 / 12))
    assert result["data"]["inputs"]["monthly_churn"]["value"] == pytest.approx(monthly * 100, rel=1e-9)


def test_churn_rate_for_a_segment_and_refusals(deps: ToolDeps) -> None:
    start, end = _last_quarter(deps)
    cancelled, paying = _churn(deps, start, end, "smb")
    result = churn_rate(deps, period="last quarter", segment="smb")
    assert result["data"]["result"] == pytest.approx(cancelled / paying * 100, rel=1e-9)
    assert "segment smb" in result["headline"]
    with pytest.raises(FatalToolError, match="not both"):
        churn_rate(deps, segment="smb", channel="email")
    with pytest.raises(FatalToolError, match="paid_search"):
        churn_rate(deps, channel="TikTok")


# -- customer ids in any case ---------------------------------------------------------------------------------


def test_a_lower_case_customer_id_is_the_same_customer(deps: ToolDeps) -> None:
    [(cid,)] = _frame(deps, "select id from customers order by id limit 1 offset 30").itertuples(index=False)
    lower = churn(deps, customer_id=cid.lower())
    assert lower["data"]["customer_id"] == cid
    assert lower["headline"] == churn(deps, customer_id=cid)["headline"]
    assert metric(deps, "ltv", customer_id=cid.lower())["data"]["customer_id"] == cid
    with pytest.raises(FatalToolError, match="no customer"):
        churn(deps, customer_id="c99999")
