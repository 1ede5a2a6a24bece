"""Churn risk on subscriptions, customer ids and filters, ARR, CPL, counts and no-comparison revenue.

Numbers are checked against the seeded business database with plain SQL.
"""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest

from app.analytics import unit_economics as ue
from app.data.db import get_engine
from app.data.periods import Period
from app.settings import Settings
from graph.tools.base import FatalToolError
from graph.tools.deps import ToolDeps
from graph.tools.finance import build_finance_tools, metric
from graph.tools.insights import build_insights_tools, churn, counts, leads
from tests.graph.conftest import offline_settings


@pytest.fixture
def deps(tmp_path: Path, seeded_db: Path) -> ToolDeps:
    settings: Settings = offline_settings(tmp_path, seeded_db, tmp_path)
    return ToolDeps(engine=get_engine(settings.business_db_url), settings=settings)


def _sql(deps: ToolDeps, query: str, *args: object) -> list[tuple]:
    path = str(deps.engine.url.database)
    with sqlite3.connect(path) as conn:
        return conn.execute(query, args).fetchall()


def _live(deps: ToolDeps) -> dict[str, str]:
    return dict(_sql(deps, "select customer_id, plan from subscriptions where end_date is null and status = 'active'"))


def test_at_risk_list_holds_live_subscribers_only_and_says_what_it_is_based_on(deps: ToolDeps) -> None:
    result = churn(deps, top_n=50)
    live = _live(deps)
    listed = [c["customer_id"] for c in result["data"]["customers"]]
    assert listed and all(c in live for c in listed)
    cancelled = {c for (c,) in _sql(deps, "select id from customers where status = 'churned'")}
    assert not cancelled & set(listed)
    risk = result["data"]["subscription_risk"]
    assert risk["live_subscribers"] == len(live)
    assert "live subscribers" in result["headline"]
    assert "P(cancel)" in result["method"] and "cancelled accounts are churned" in result["method"]
    ranked = [c["p_cancel"] for c in result["data"]["customers"]]
    assert ranked == sorted(ranked, reverse=True) and min(ranked) >= risk["threshold"]


def test_a_plan_filters_the_at_risk_list(deps: ToolDeps) -> None:
    live = _live(deps)
    result = churn(deps, plan="enterprise", top_n=500)
    assert result["data"]["subscription_risk"]["live_subscribers"] == sum(p == "enterprise" for p in live.values())
    assert all(c["plan"] == "Enterprise" for c in result["data"]["customers"])


def test_a_named_customer_gets_its_own_figure(deps: ToolDeps) -> None:
    active = sorted(_live(deps))[0]
    one = churn(deps, customer_id=active)
    assert one["headline"].startswith(active) and "probability of cancelling" in one["headline"]
    assert one["data"]["customer_id"] == active and 0 <= one["data"]["p_cancel"] <= 1
    (gone, when), *_ = _sql(deps, "select id, churned_date from customers where status = 'churned' order by id")
    lost = churn(deps, customer_id=gone)
    assert "has churned" in lost["headline"] and str(when) in lost["headline"]


def test_an_unknown_customer_is_an_error_not_a_company_figure(deps: ToolDeps) -> None:
    with pytest.raises(FatalToolError, match="no customer C99999"):
        churn(deps, customer_id="C99999")
    with pytest.raises(FatalToolError, match="no customer C99999"):
        metric(deps, "ltv", customer_id="C99999")


def test_a_customer_ltv_adds_revenue_to_date_and_the_next_12_months(deps: ToolDeps) -> None:
    cid = sorted(_live(deps))[0]
    result = metric(deps, "ltv", customer_id=cid)
    (hardware,) = _sql(deps, "select coalesce(sum(amount), 0) from orders where customer_id = ?", cid)[0]
    (mrr,) = _sql(deps, "select mrr from subscriptions where customer_id = ? and end_date is null", cid)[0]
    data = result["data"]
    assert data["hardware_revenue_to_date"] == pytest.approx(hardware)
    assert data["mrr"] == pytest.approx(mrr)
    assert data["ltv"] == pytest.approx(
        data["subscription_revenue_to_date"] + hardware + 12 * mrr + data["hardware_clv_12m"], abs=0.05
    )


def test_lead_scoring_of_one_channel_lists_that_channel_only(deps: ToolDeps) -> None:
    result = leads(deps, top_n=10, channel="partners")
    assert result["table"]["rows"] and all(row[4] == "partners" for row in result["table"]["rows"])


def test_counts_of_new_and_churned_customers_in_a_period(deps: ToolDeps) -> None:
    p = deps.period("last month", "last month")
    result = counts(deps, period="last month")
    (new,) = _sql(deps, "select count(*) from customers where signup_date between ? and ?", p.start, p.end)[0]
    (lost,) = _sql(
        deps,
        "select count(*) from subscriptions where status = 'cancelled' and end_date between ? and ?",
        p.start,
        p.end,
    )[0]
    assert result["data"]["new_customers"] == new and result["data"]["churned"] == lost
    assert f"{new:,} new customers" in result["headline"] and f"{lost:,} churned" in result["headline"]


def test_arr_is_mrr_times_12_as_the_result(deps: ToolDeps) -> None:
    today = deps.today()
    result = ue.compute_metric(deps.engine, "arr", Period(today, today, "today"))
    (mrr,) = _sql(
        deps,
        "select sum(mrr) from subscriptions where start_date <= ? and (end_date is null or end_date > ?)",
        today,
        today,
    )[0]
    assert result.metric == "ARR" and result.unit == "USD/year"
    assert result.result == pytest.approx(12 * mrr)
    assert any(step.startswith("MRR on") for step in result.steps)
    assert "per year" in result.formatted()


def test_revenue_without_a_whole_previous_period_makes_no_claim_about_change(deps: ToolDeps) -> None:
    (first,) = _sql(deps, "select min(order_date) from orders")[0]
    year = int(str(first)[:4]) + 1
    result = ue.revenue(deps.engine, Period(date(year, 1, 1), date(year, 12, 31), str(year)))
    assert "no whole previous period" in result.benchmark
    assert result.recommendation and "fell" not in result.recommendation and "rise or a fall" in result.recommendation


def test_cost_per_lead_by_channel(deps: ToolDeps) -> None:
    p = deps.period("last quarter", "last quarter")
    frame = ue.cac_by_channel(deps.engine, p).set_index("channel")
    rows = _sql(
        deps,
        "select channel, sum(spend), sum(conversions) from channel_performance where date between ? and ? "
        "group by channel",
        p.start,
        p.end,
    )
    for channel, spend, conversions in rows:
        assert frame.loc[channel, "leads"] == conversions
        assert frame.loc[channel, "cpl"] == pytest.approx(spend / conversions)
    from app.analytics.channels import channel_report

    report = channel_report(deps.engine, p)
    total_spend, total_leads = sum(r[1] for r in rows), sum(r[2] for r in rows)
    assert report.total.current["cpl"] == pytest.approx(total_spend / total_leads)
    assert any(note.startswith("Cost per lead") for note in report.notes)


@pytest.mark.parametrize(
    ("agent", "request_text", "tool", "args"),
    [
        ("insights", "What is the churn probability for customer C00409?", "churn_risk", {"customer_id": "C00409"}),
        ("insights", "Which Enterprise customers are at risk of churning?", "churn_risk", {"plan": "enterprise"}),
        ("insights", "Score leads from the partners channel only", "score_leads", {"channel": "partners"}),
        ("insights", "Show me the top 5 customers by CLV", "customer_clv", {"top_n": 5}),
        ("insights", "How many customers churned in October", "customer_counts", {"period": "in October"}),
        ("insights", "How many new customers did we acquire in October?", "customer_counts", {"period": "in October"}),
        ("finance", "What is our ARR?", "compute_metric", {"metric": "arr"}),
        (
            "finance",
            "What's the LTV for customer C99999?",
            "compute_metric",
            {"metric": "ltv", "customer_id": "C99999"},
        ),
    ],
)
def test_the_offline_planner_fills_ids_filters_and_picks_the_tool(
    deps: ToolDeps, agent: str, request_text: str, tool: str, args: dict[str, object]
) -> None:
    from graph.llm.offline import _tool_spec
    from graph.llm.planner import plan_tool_calls

    tools = build_insights_tools(deps) if agent == "insights" else build_finance_tools(deps)
    specs = [_tool_spec(t) for t in tools if not t.metadata.get("internal")]
    (call,) = plan_tool_calls(request_text, specs)
    assert call["name"] == tool
    assert {k: call["args"].get(k) for k in args} == args
