"""Tool-choice bugs found by exploratory testing through `gtm ask` (Marketing, Support, Insights).

- "How did email perform in Q3?" got a campaign brief: it is the email channel's performance report.
- "How many tickets were opened last week by category?" got the 10 newest tickets: it is a count by category.
- "Plan a campaign for Q1 with a $50k budget on paid social": the brief takes the budget, the channel and the
  coming Q1 (not the Q1 that is over).
- "How many leads did we get last month?" got the lead-scoring model: it is a count of new leads by channel.
- "ROAS and CPL by channel": the channel table has a CPL column.

Numbers are checked against the seeded business database with plain SQL.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage

from app.data.db import get_engine
from app.runtime import Copilot
from app.settings import Settings
from app.tickets import TicketStore
from graph.llm.offline import OfflineChatModel
from graph.tools.base import InvalidToolInput
from graph.tools.deps import ToolDeps
from graph.tools.insights import build_insights_tools, lead_volume, leads
from graph.tools.marketing import build_marketing_tools, campaign, campaign_window, channels
from graph.tools.support import build_support_tools, list_tickets, ticket_stats
from tests.graph.conftest import offline_settings


@pytest.fixture
def deps(tmp_path: Path, seeded_db: Path) -> ToolDeps:
    settings: Settings = offline_settings(tmp_path, seeded_db, tmp_path)
    return ToolDeps(engine=get_engine(settings.business_db_url), settings=settings)


def _sql(deps: ToolDeps, query: str, *args: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(str(deps.engine.url.database)) as conn:
        return conn.execute(query, args).fetchall()


def _plan(tools: list[Any], agent: str, request: str) -> list[tuple[str, dict[str, Any]]]:
    model = OfflineChatModel(agent=agent).bind_tools([t for t in tools if not (t.metadata or {}).get("internal")])
    return [(c["name"], c["args"]) for c in model.invoke([HumanMessage(request)]).tool_calls]


@pytest.fixture(scope="module")
def schema_deps(tmp_path_factory: pytest.TempPathFactory) -> ToolDeps:
    """Deps for planning only: the model sees the tools' schemas, nothing runs."""
    return ToolDeps(engine=None, settings=Settings(home=tmp_path_factory.mktemp("plan")))


# -- which tool, with which arguments -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        ("How did email perform in Q3?", ("channel_performance", {"period": "Q3", "channel": "email"})),
        ("Show email channel performance in Q3", ("channel_performance", {"period": "Q3", "channel": "email"})),
        ("ROAS and CPL by channel in March", ("channel_performance", {"period": "in March"})),
        (
            "Plan a campaign for Q1 with a $50k budget on paid social",
            ("generate_campaign", {"campaign_type": "paid social", "budget": 50_000.0, "launch_period": "Q1"}),
        ),
        (
            "Write a campaign brief for a back-to-office campaign targeting at-risk customers",
            ("generate_campaign", {"target_segment": "At Risk"}),
        ),
        ("Draft a personalised email for customer C00355", ("draft_email", {"customer_id": "C00355"})),
    ],
)
def test_marketing_requests_get_the_fitting_tool(
    schema_deps: ToolDeps, request_text: str, expected: tuple[str, dict[str, Any]]
) -> None:
    [(name, args)] = _plan(build_marketing_tools(schema_deps), "marketing", request_text)
    assert (name, {k: args.get(k) for k in expected[1]}) == expected, (request_text, name, args)


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        (
            "How many tickets were opened last week by category?",
            ("ticket_stats", {"period": "last week", "group_by": "category"}),
        ),
        ("Ticket volume by priority last month", ("ticket_stats", {"period": "last month", "group_by": "priority"})),
        ("How many tickets were escalated last week?", ("ticket_stats", {"period": "last week", "group_by": None})),
        ("How many open tickets do we have?", ("list_tickets", {"status": "open"})),  # the backlog now: a list
        ("List open urgent tickets", ("list_tickets", {"status": "open", "priority": "urgent"})),
        ("What's the status of ticket 12?", ("lookup_ticket", {"ticket_id": 12})),
    ],
)
def test_support_requests_get_the_fitting_ticket_tool(
    schema_deps: ToolDeps, request_text: str, expected: tuple[str, dict[str, Any]]
) -> None:
    [(name, args)] = _plan(build_support_tools(schema_deps), "support", request_text)
    assert (name, {k: args.get(k) for k in expected[1]}) == expected, (request_text, name, args)


@pytest.mark.parametrize(
    ("request_text", "expected"),
    [
        ("How many leads did we get last month?", ("lead_counts", {"period": "last month"})),
        ("number of leads we generated in Q2", ("lead_counts", {"period": "Q2"})),
        (
            "How many leads came from paid search last quarter?",
            ("lead_counts", {"period": "last quarter", "channel": "paid_search"}),
        ),
        ("Which leads are hot?", ("score_leads", {})),
        ("score our open leads", ("score_leads", {})),
        ("Rate the new leads from the webinar", ("score_leads", {"channel": "events"})),
        ("How many new customers did we acquire last month?", ("customer_counts", {"period": "last month"})),
    ],
)
def test_lead_counts_and_lead_scoring_are_told_apart(
    schema_deps: ToolDeps, request_text: str, expected: tuple[str, dict[str, Any]]
) -> None:
    [(name, args)] = _plan(build_insights_tools(schema_deps), "insights", request_text)
    assert (name, {k: args.get(k) for k in expected[1]}) == expected, (request_text, name, args)


# -- what the tools answer ------------------------------------------------------------------------------------


def _last_week(today: dt.date) -> tuple[dt.date, dt.date]:
    monday = today - dt.timedelta(days=today.weekday())
    return monday - dt.timedelta(days=7), monday - dt.timedelta(days=1)


def test_ticket_stats_counts_the_periods_tickets_by_category(deps: ToolDeps) -> None:
    start, end = _last_week(deps.today())
    expected = _sql(
        deps,
        "select category, count(*) from tickets where date(created_at) between ? and ? group by 1 order by 2 desc, 1",
        start.isoformat(),
        end.isoformat(),
    )
    total = sum(n for _, n in expected)
    assert total > 0
    result = ticket_stats(deps, period="last week", group_by="category")
    assert result["headline"].startswith(f"{total:,} support tickets created") and "by category" in result["headline"]
    assert result["table"] is not None and result["table"]["columns"] == ["category", "tickets", "share"]
    assert [(r[0], r[1]) for r in result["table"]["rows"]] == expected
    assert result["table"]["rows"][0][2] == f"{expected[0][1] / total:.1%}"
    assert f"{start} and {end}" in str(result["method"])
    with pytest.raises(InvalidToolInput, match="unknown breakdown"):
        ticket_stats(deps, period="last week", group_by="colour")


def test_list_tickets_takes_a_period(deps: ToolDeps) -> None:
    start, end = _last_week(deps.today())
    ids = [
        i
        for (i,) in _sql(
            deps,
            "select id from tickets where date(created_at) between ? and ? order by created_at desc, id desc",
            start.isoformat(),
            end.isoformat(),
        )
    ]
    result = list_tickets(deps, period="last week", limit=5)
    assert result["data"]["total"] == len(ids) and [t["id"] for t in result["data"]["tickets"]] == ids[:5]
    assert result["headline"].startswith(f"{len(ids):,} tickets created")
    store = TicketStore(deps.engine)
    assert store.count(created_from=start, created_to=end) == len(ids)
    assert store.count(created_from=end + dt.timedelta(days=1), created_to=end) == 0


def test_lead_counts_count_the_periods_leads_by_channel(deps: ToolDeps) -> None:
    today = deps.today()
    first_this_month = today.replace(day=1)
    end = first_this_month - dt.timedelta(days=1)
    start = end.replace(day=1)
    before_end = start - dt.timedelta(days=1)
    expected = _sql(
        deps,
        "select source_channel, count(*), sum(converted) from leads where created_date between ? and ? "
        "group by 1 order by 2 desc, 1",
        start.isoformat(),
        end.isoformat(),
    )
    [(previous,)] = _sql(
        deps,
        "select count(*) from leads where created_date between ? and ?",
        before_end.replace(day=1).isoformat(),
        before_end.isoformat(),
    )
    total = sum(n for _, n, _ in expected)
    assert total > 0
    result = lead_volume(deps, period="last month")
    assert result["headline"] == f"{start:%B %Y}: {total:,} new leads"
    assert [(r[0], r[1], r[3]) for r in result["table"]["rows"]] == expected
    assert result["data"]["previous_total"] == previous and f"{previous:,} in" in result["facts"][1]
    one = lead_volume(deps, period="last month", channel=expected[0][0])
    assert one["headline"] == f"{start:%B %Y}: {expected[0][1]:,} new leads from {expected[0][0]}"
    assert leads(deps)["headline"].startswith("Top")  # scoring is unchanged


def test_the_channel_table_has_cost_per_lead(deps: ToolDeps) -> None:
    today = deps.today()
    year = today.year if today.month > 3 else today.year - 1
    expected = dict(
        _sql(
            deps,
            "select channel, sum(spend) * 1.0 / sum(conversions) from channel_performance "
            "where date between ? and ? group by 1",
            f"{year}-03-01",
            f"{year}-03-31",
        )
    )
    result = channels(deps, period="in March")
    columns = result["table"]["columns"]
    assert "CPL $" in columns
    cpl = {row[0]: row[columns.index("CPL $")] for row in result["table"]["rows"]}
    assert cpl == {channel: round(value) for channel, value in expected.items()}
    email = channels(deps, period="in March", channel="email")
    assert f"CPL ${expected['email']:,.0f}" in email["headline"]


def test_a_campaign_for_a_quarter_runs_in_the_next_one_with_the_budget_and_channel(deps: ToolDeps) -> None:
    today = deps.today()
    year = today.year + 1 if today > dt.date(today.year, 3, 31) else today.year
    result = campaign(deps, campaign_type="paid social", budget=50_000.0, launch_period="Q1")
    assert result["headline"].startswith(f"Paid Social campaign for At Risk, Q1 {year}: ")
    assert "$50,000 budget" in result["headline"]
    assert result["data"]["launch_period"]["start"] == f"{year}-01-01"
    assert result["data"]["launch_period"]["end"] == f"{year}-03-31"
    assert result["data"]["channel"] == "paid social" and result["data"]["budget"] == 50_000.0
    assert result["prompt_vars"]["budget"] == f"50,000 for Q1 {year} ({year}-01-01 to {year}-03-31)"
    assert result["prompt_vars"]["campaign_type"] == "paid social"
    undated = campaign(deps, campaign_type="paid social", budget=50_000.0)
    assert undated["data"]["launch_period"] is None and undated["prompt_vars"]["budget"] == "50,000"


@pytest.mark.parametrize(
    ("phrase", "label", "note"),
    [
        ("Q1", "Q1 2027", None),  # the Q1 to come, not the one that is over
        ("in March", "March 2027", None),
        ("Q4", "Q4 2026", None),  # under way: the whole quarter
        ("December", "December 2026", None),
        ("H2 2027", "H2 2027", None),
        ("last quarter", None, None),  # "customers who bought last quarter": not when the campaign runs
        ("Q1 2025", None, "Q1 2025 is over"),
    ],
)
def test_campaign_window(phrase: str, label: str | None, note: str | None) -> None:
    window, said = campaign_window(phrase, dt.date(2026, 11, 26))
    assert (window.label if window else None) == label
    assert (said or "").startswith(note or "") and (said is None) == (note is None)
    if window is not None:
        assert window.end > dt.date(2026, 11, 26)


def test_an_impossible_launch_period_is_invalid_input() -> None:
    with pytest.raises(InvalidToolInput):
        campaign_window("Q7", dt.date(2026, 11, 26))


# -- through the graph ----------------------------------------------------------------------------------------


async def _tools_of(copilot: Copilot, thread_id: str) -> list[tuple[str, dict[str, Any]]]:
    state = (await copilot.graph.aget_state({"configurable": {"thread_id": thread_id}})).values
    return [(r["name"], r["args"]) for r in state["tool_calls"]]


async def test_asked_through_the_graph(copilot: Copilot) -> None:
    email = await copilot.ask("How did email perform in Q3?")
    assert email.route == "marketing"
    assert await _tools_of(copilot, email.thread_id) == [("channel_performance", {"period": "Q3", "channel": "email"})]
    assert "email, Q3 " in email.answer and "campaign" not in email.answer.lower()

    tickets = await copilot.ask("How many tickets were opened last week by category?")
    assert tickets.route == "support"
    assert await _tools_of(copilot, tickets.thread_id) == [
        ("ticket_stats", {"period": "last week", "group_by": "category"})
    ]
    assert "by category" in tickets.answer and "newest" not in tickets.answer

    leads_asked = await copilot.ask("How many leads did we get last month?")
    assert leads_asked.route == "insights"
    assert await _tools_of(copilot, leads_asked.thread_id) == [("lead_counts", {"period": "last month"})]
    assert "new leads" in leads_asked.answer and "conversion score" not in leads_asked.answer
