"""Finance questions the offline planner and the Finance tools answered wrongly (exploratory `gtm ask` testing).

- "What was our CAC next quarter?" and "CAC in the last 2 quarters" answered last quarter: the slot filler did not pick
  out "next quarter" / "last 2 quarters" / "past two quarters"; a future period is refused, pointing to the forecast.
- "Forecast revenue for Q1 2027" gave the next 6 months: a forecast naming a future period forecasts that period
  (the sum of the model's points for its months, with the interval).
- "What is 15% of our ARR?" gave ARR; "If we cut events spend by 50%, what would our CAC have been last quarter?"
  ignored the cut; "revenue in Q3 2026 by channel" gave the total; "Which campaigns overspent last quarter?" gave
  CAC by channel instead of the budget variance per campaign.

Every expected figure is recomputed here from the seeded business database with SQL and pandas (the forecast with
the analytics model directly, its months picked by calendar arithmetic here).
"""

from __future__ import annotations

import calendar
import re
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
from graph.tools.finance import build_finance_tools, forecast, metric, what_if
from tests.graph.conftest import offline_settings


@pytest.fixture
def deps(tmp_path: Path, seeded_db: Path) -> ToolDeps:
    settings: Settings = offline_settings(tmp_path, seeded_db, tmp_path)
    return ToolDeps(engine=get_engine(settings.business_db_url), settings=settings)


@pytest.fixture(scope="module")
def finance_model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The offline model bound to the Finance tools (planning only: nothing runs)."""
    deps = ToolDeps(engine=None, settings=Settings(home=tmp_path_factory.mktemp("plan")))
    tools = [t for t in build_finance_tools(deps) if not (t.metadata or {}).get("internal")]
    return OfflineChatModel(agent="finance").bind_tools(tools)


def _plan(model: Any, request: str) -> list[tuple[str, dict[str, Any]]]:
    return [(c["name"], c["args"]) for c in model.invoke([HumanMessage(request)]).tool_calls]


def _frame(deps: ToolDeps, query: str, *args: object) -> pd.DataFrame:
    with sqlite3.connect(str(deps.engine.url.database)) as conn:
        return pd.read_sql_query(query, conn, params=args)


def _last_day(deps: ToolDeps) -> date:
    """The data's last day, read here from the tables themselves."""
    row = _frame(
        deps,
        "select max(d) as d from (select max(date) as d from channel_performance union all "
        "select max(order_date) from orders union all select max(signup_date) from customers)",
    )
    return date.fromisoformat(str(row["d"][0])[:10])


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _quarters_before(day: date, n: int) -> tuple[date, date]:
    """First and last day of the `n` whole calendar quarters before the one holding `day`."""
    end = _quarter_start(day) - timedelta(days=1)
    start = _quarter_start(day)
    for _ in range(n):
        start = _quarter_start(start - timedelta(days=1))
    return start, end


def _label(start: date) -> str:
    return f"Q{(start.month - 1) // 3 + 1} {start.year}"


def _cac(deps: ToolDeps, start: date, end: date) -> tuple[float, int, float]:
    """(spend, new customers, CAC) of all channels over [start, end]."""
    spend = float(
        _frame(
            deps,
            "select coalesce(sum(spend), 0) as s from channel_performance where date between ? and ?",
            start.isoformat(),
            end.isoformat(),
        )["s"][0]
    )
    new = int(
        _frame(
            deps,
            "select count(*) as n from customers where signup_date between ? and ?",
            start.isoformat(),
            end.isoformat(),
        )["n"][0]
    )
    return spend, new, spend / new


# -- 1. periods the slot filler now passes through --------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_text", "tool", "period"),
    [
        ("What was our CAC next quarter?", "compute_metric", "next quarter"),
        ("CAC in the last 2 quarters", "compute_metric", "last 2 quarters"),
        ("CAC in the past two quarters", "compute_metric", "past two quarters"),
        ("What was revenue last fiscal year?", "compute_metric", "last fiscal year"),
        ("CAC for the coming quarter", "compute_metric", "coming quarter"),
        ("Forecast revenue for Q1 2027", "forecast_revenue", "Q1 2027"),
        ("what will revenue look like next quarter", "forecast_revenue", "next quarter"),
    ],
)
def test_the_planner_passes_the_new_period_phrases_through(
    finance_model: Any, request_text: str, tool: str, period: str
):
    [(name, args)] = _plan(finance_model, request_text)
    assert (name, args.get("period")) == (tool, period), args


def test_a_forecast_horizon_is_not_a_period(finance_model: Any):
    assert _plan(finance_model, "project revenue for the next 9 months") == [
        ("forecast_revenue", {"horizon_months": 9})
    ]


def test_cac_over_the_last_two_quarters_is_both_whole_quarters(deps: ToolDeps):
    start, end = _quarters_before(_last_day(deps), 2)
    spend, new, expected = _cac(deps, start, end)
    result = metric(deps, "cac", period="last 2 quarters")
    data = result["data"]
    assert (data["start"], data["end"]) == (start.isoformat(), end.isoformat())
    assert data["result"] == pytest.approx(expected, abs=0.005)
    assert data["inputs"]["new_customers"]["value"] == new
    assert data["inputs"]["marketing_spend"]["value"] == pytest.approx(spend, abs=0.01)
    assert _label(start) in data["period"] and _label(_quarter_start(end)) in data["period"]


def test_cac_next_quarter_is_refused_and_points_to_the_forecast(deps: ToolDeps):
    last = _last_day(deps)
    nxt = _quarter_start(_quarter_start(last) + timedelta(days=95))
    with pytest.raises(FatalToolError) as caught:
        metric(deps, "cac", period="next quarter")
    message = str(caught.value)
    assert f"no data yet for {_label(nxt)}" in message and "ask for a revenue forecast instead" in message, message
    assert f"{_label(nxt)} starts after the data ends" in message  # the wording the route tests read


# -- 2. a forecast to a named future period ---------------------------------------------------------------------


def test_a_forecast_for_a_future_quarter_sums_that_quarters_months(deps: ToolDeps):
    from app.analytics.forecast import forecast_revenue
    from app.data.queries import monthly_revenue

    last = _last_day(deps)
    nxt = _quarter_start(_quarter_start(last) + timedelta(days=95))
    months = [date(nxt.year, nxt.month + i, 1) for i in range(3)]
    series = monthly_revenue(deps.engine, "total")
    first_forecast = (series.index[-1] + pd.offsets.MonthBegin(1)).date()
    horizon = (months[-1].year - first_forecast.year) * 12 + months[-1].month - first_forecast.month + 1
    model = forecast_revenue(series, horizon=horizon, season_length=12)
    keep = [i for i, d in enumerate(model.dates) if date.fromisoformat(d) in months]
    assert len(keep) == 3
    expected = sum(model.mean[i] for i in keep)
    low, high = sum(model.lower[i] for i in keep), sum(model.upper[i] for i in keep)

    result = forecast(deps, period=_label(nxt))
    data = result["data"]
    assert [d[:7] for d in data["dates"]] == [m.isoformat()[:7] for m in months]
    assert data["total"] == pytest.approx(expected, abs=0.01)
    assert (data["total_lower"], data["total_upper"]) == (pytest.approx(low, abs=0.01), pytest.approx(high, abs=0.01))
    assert low < expected < high
    assert f"revenue forecast for {_label(nxt)}" in result["headline"] and f"${expected:,.0f}" in result["headline"]
    assert result["prompt_vars"]["forecast_period"].startswith(_label(nxt))
    from graph.llm.writers import write_forecast

    title = write_forecast(result["prompt_vars"]).splitlines()[0]
    assert title.startswith(f"**Revenue forecast — {_label(nxt)} (") and "next" not in title
    # "next quarter" is the same quarter
    assert forecast(deps, period="next quarter")["data"]["total"] == pytest.approx(expected, abs=0.01)


def test_a_forecast_for_a_period_that_is_over_says_to_ask_for_the_actual(deps: ToolDeps):
    start, _ = _quarters_before(_last_day(deps), 1)
    with pytest.raises(FatalToolError, match=rf"{_label(start)} is over.*what was revenue in {_label(start)}"):
        forecast(deps, period="last quarter")


# -- 3. a share, a spend cut, a split by channel, the campaigns over budget -----------------------------------


def test_fifteen_percent_of_arr(finance_model: Any, deps: ToolDeps):
    assert _plan(finance_model, "What is 15% of our ARR?") == [("compute_metric", {"metric": "arr", "share_pct": 15.0})]
    day = _last_day(deps)
    subs = _frame(deps, "select customer_id, mrr, start_date, end_date from subscriptions")
    running = (pd.to_datetime(subs["start_date"]) <= pd.Timestamp(day)) & (
        subs["end_date"].isna() | (pd.to_datetime(subs["end_date"]) > pd.Timestamp(day))
    )
    mrr = subs[running].groupby("customer_id")["mrr"].sum()
    arr = float(mrr[mrr > 0].sum()) * 12
    result = metric(deps, "arr", share_pct=15)
    assert result["data"]["result"] == pytest.approx(0.15 * arr, abs=0.01)
    assert result["data"]["of_result"] == pytest.approx(arr, abs=0.01)
    assert f"${0.15 * arr:,.2f}" in result["data"]["result_text"]
    assert result["prompt_vars"]["metric_name"] == "15% of ARR"


def test_cac_with_events_spend_halved_keeps_the_new_customers(finance_model: Any, deps: ToolDeps):
    request = "If we cut events spend by 50%, what would our CAC have been last quarter?"
    [(name, args)] = _plan(finance_model, request)
    assert (name, args["metric"], args["period"], args["channel"]) == ("what_if", "cac", "last quarter", "events")
    start, end = _quarters_before(_last_day(deps), 1)
    spend, new, actual = _cac(deps, start, end)
    events = float(
        _frame(
            deps,
            "select sum(spend) as s from channel_performance where channel = 'events' and date between ? and ?",
            start.isoformat(),
            end.isoformat(),
        )["s"][0]
    )
    expected = (spend - 0.5 * events) / new
    result = what_if(deps, **{k: v for k, v in args.items() if k != "metric"}, metric="cac")
    assert result["data"]["scenario"] == pytest.approx(expected, abs=0.005)
    assert result["data"]["current"] == pytest.approx(actual, abs=0.005)
    assert f"${expected:,.2f}" in result["headline"] and f"same {new:,} new customers" in result["headline"]
    # all channels: the spend cut across the board
    whole = what_if(
        deps, metric="cac", question="what would CAC be if we cut marketing spend by 20%?", period="last quarter"
    )
    assert whole["data"]["scenario"] == pytest.approx(0.8 * spend / new, abs=0.005)


def _revenue_by_channel(deps: ToolDeps, start: date, end: date) -> dict[str, float]:
    """Subscriptions pro rata per day of MRR (a day's share of its month) + hardware orders, per acquisition channel."""
    subs = _frame(
        deps,
        "select s.mrr, s.start_date, s.end_date, c.acquisition_channel as channel from subscriptions s "
        "join customers c on c.id = s.customer_id",
    )
    days = pd.date_range(start, end, freq="D")
    per_day = pd.Series([1 / calendar.monthrange(d.year, d.month)[1] for d in days], index=days)
    totals: dict[str, float] = dict.fromkeys(CHANNELS, 0.0)
    for row in subs.itertuples():
        first = pd.Timestamp(row.start_date)
        stop = pd.Timestamp(row.end_date) if isinstance(row.end_date, str) else pd.Timestamp("2999-01-01")
        active = per_day[(per_day.index >= first) & (per_day.index < stop)]  # the end date is exclusive
        totals[row.channel] += float(active.sum()) * float(row.mrr)
    orders = _frame(
        deps,
        "select c.acquisition_channel as channel, sum(o.amount) as amount from orders o join customers c "
        "on c.id = o.customer_id where o.order_date between ? and ? group by c.acquisition_channel",
        start.isoformat(),
        end.isoformat(),
    )
    for row in orders.itertuples():
        totals[row.channel] += float(row.amount)
    return totals


def test_revenue_by_channel_is_split_by_acquisition_channel(finance_model: Any, deps: ToolDeps):
    start, end = _quarters_before(_last_day(deps), 1)
    label = _label(start)
    assert _plan(finance_model, f"revenue in {label} by channel") == [
        ("compute_metric", {"metric": "revenue", "period": label, "split_by": "channel"})
    ]
    expected = _revenue_by_channel(deps, start, end)
    result = metric(deps, "revenue", period=label, split_by="channel")
    values = result["data"]["values"]
    assert set(values) == set(CHANNELS)
    for channel in CHANNELS:
        assert values[channel] == pytest.approx(expected[channel], abs=0.05), channel
    assert result["data"]["total"] == pytest.approx(sum(expected.values()), abs=0.05)
    assert [row[0] for row in result["table"]["rows"]] == list(CHANNELS)
    # CAC by channel stays the channel table; burn has no split
    assert _plan(finance_model, "CAC by channel last quarter") == [("cac_by_channel", {"period": "last quarter"})]
    with pytest.raises(FatalToolError, match="cannot be split by channel"):
        metric(deps, "burn", split_by="channel")


def test_campaigns_that_overspent_are_listed_from_the_budget_variance(finance_model: Any, deps: ToolDeps):
    assert _plan(finance_model, "Which campaigns overspent last quarter?") == [
        ("compute_metric", {"metric": "budget_variance", "period": "last quarter"})
    ]
    start, end = _quarters_before(_last_day(deps), 1)
    campaigns = _frame(
        deps,
        "select id, start_date, end_date, budget from campaigns where start_date <= ? and end_date >= ?",
        end.isoformat(),
        start.isoformat(),
    )
    spend = _frame(
        deps,
        "select campaign_id, sum(spend) as spend from channel_performance where date between ? and ? "
        "and campaign_id is not null group by campaign_id",
        start.isoformat(),
        end.isoformat(),
    ).set_index("campaign_id")["spend"]
    over: list[tuple[str, float, float]] = []
    for row in campaigns.itertuples():
        first, last = date.fromisoformat(row.start_date), date.fromisoformat(row.end_date)
        flight = (last - first).days + 1
        days = (min(last, end) - max(first, start)).days + 1
        planned = float(row.budget) * days / flight
        actual = float(spend.get(row.id, 0.0))
        if actual > planned:
            over.append((row.id, actual - planned, (actual - planned) / planned * 100))
    over.sort(key=lambda item: -item[1])
    assert over, "the seeded data has campaigns over budget"
    result = metric(deps, "budget_variance", period="last quarter")
    [step] = [s for s in result["data"]["steps"] if s.startswith("Campaigns over budget")]
    assert re.findall(r"CMP-[\w-]+", step) == [cid for cid, _, _ in over]
    for cid, dollars, pct in over:
        assert f"{cid} " in step and f"+${dollars:,.2f} ({pct:+.1f}%)" in step, (cid, step)
