"""Insights and Marketing answers that said one thing and showed or computed another.

Every expected figure is recomputed here from the seeded business database (plain SQL and date arithmetic),
never taken from a tool's output:

1. A win-back offer's deadline is never after the date the account's data is kept until (brand-voice.md:
   win-backs go out "while their data is still kept"), and the campaign says how many accounts were eligible
   and how many it selected.
2. The win-back's chart is about the accounts the campaign selected (or there is none).
3. The RFM recommendation is the action of the segment its headline names.
4. The cohort chart says what it plots (hardware repeat purchases) and labels every cohort.
5. "How many customers do we have?" is answered as of today (the data's last day), not the end of last month.
6. A customer's subscription revenue to date is pro-rated like every other revenue figure (by the days active
   in each calendar month).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from langgraph.checkpoint.memory import InMemorySaver

import graph.nodes.winback as winback
from app.analytics.rfm import rfm_segments
from app.data.db import get_engine
from app.data.queries import data_bounds, transactions_frame
from app.runtime import Copilot
from app.services import build_services
from app.settings import Settings
from graph.llm.writers import write_email
from graph.tools.deps import ToolDeps
from graph.tools.insights import clv, cohorts, counts, rfm
from graph.tools.marketing import OFFER_VALID_DAYS, contexts, email_values, offer_deadline

from .conftest import offline_settings

WINBACK = "Launch a win-back campaign for churned customers"
RULE = "Starter or Growth, cancelled in the last 90 days, no win-back in the last 12 months"


@pytest.fixture
def fix_settings(tmp_path: Path, seeded_db: Path) -> Settings:
    """Its own copy of the seeded database; no knowledge-base index (none of these questions searches it)."""
    return offline_settings(tmp_path, seeded_db, tmp_path / "home")


@pytest.fixture
def deps(fix_settings: Settings) -> ToolDeps:
    return ToolDeps(engine=get_engine(fix_settings.database_url), settings=fix_settings)


@pytest.fixture
async def copilot(fix_settings: Settings) -> AsyncIterator[Copilot]:
    async with Copilot.open(fix_settings, services=build_services(fix_settings), checkpointer=InMemorySaver()) as c:
        yield c


def _rows(engine: Any, query: str, **params: Any) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(query), params))


def _date(value: Any) -> dt.date:
    return dt.date.fromisoformat(str(value)[:10])


def _brand(day: dt.date) -> str:
    return f"{day:%B} {day.day}"


def _last_day(engine: Any) -> dt.date:
    return data_bounds(engine)[1]


def _eligible(engine: Any, as_of: dt.date) -> dict[str, dict[str, Any]]:
    """Starter and Growth accounts cancelled in the 90 days to `as_of` (the outbox of a fresh copy is empty)."""
    rows = _rows(
        engine,
        "select id, plan, churned_date from customers where status = 'churned' and plan in ('starter', 'growth')",
    )
    return {
        str(r.id): {"plan": r.plan, "churned": _date(r.churned_date)}
        for r in rows
        if as_of - dt.timedelta(days=90) < _date(r.churned_date) <= as_of
    }


def _latest_mrr(engine: Any) -> dict[str, float]:
    """Each customer's MRR on its latest subscription (what a win-back's former MRR is)."""
    rows = _rows(engine, "select customer_id, mrr from subscriptions order by start_date, id")
    return {str(r.customer_id): float(r.mrr) for r in rows}  # the latest one wins


# 1. The offer deadline and the campaign's selection -------------------------------------------------------------


def test_the_offer_deadline_is_never_after_the_data_is_deleted(deps: ToolDeps) -> None:
    as_of = _last_day(deps.engine)
    eligible = _eligible(deps.engine, as_of)
    # One account whose data is deleted 5 days from now: its offer cannot run the full 14 days.
    short = min(eligible)
    churned = as_of - dt.timedelta(days=85)
    with deps.engine.begin() as conn:
        conn.execute(sa.text("update customers set churned_date = :d where id = :id"), {"d": churned, "id": short})
    eligible[short]["churned"] = churned

    offers = [c for c in contexts(deps, sorted(eligible))["data"]["customers"] if c["winback"] == "offer"]
    assert short in {c["customer_id"] for c in offers}
    for ctx in offers:
        kept = eligible[ctx["customer_id"]]["churned"] + dt.timedelta(days=90)
        expected = min(as_of + dt.timedelta(days=OFFER_VALID_DAYS), kept)
        assert ctx["data_kept_until"] == kept.isoformat()
        assert ctx["offer_deadline"] == expected.isoformat(), ctx["customer_id"]
        values = email_values(ctx)
        assert f"choose a plan by {_brand(expected)}" in values["incentive"]  # the hosted model's prompt
        body = write_email(values)  # the offline writer
        assert f"choose a plan by {_brand(expected)}" in body
        assert f"Your Lumio data is kept until {_brand(kept)}" in body
    short_ctx = next(c for c in offers if c["customer_id"] == short)
    assert short_ctx["offer_deadline"] == (as_of + dt.timedelta(days=5)).isoformat()


def test_offer_deadline_is_14_days_or_the_last_day_the_data_is_kept() -> None:
    sent = dt.date(2026, 11, 26)
    assert offer_deadline(sent, dt.date(2027, 2, 1)) == dt.date(2026, 12, 10)
    assert offer_deadline(sent, dt.date(2026, 12, 1)) == dt.date(2026, 12, 1)  # the testers' "December 1"
    assert offer_deadline(sent, None) == dt.date(2026, 12, 10)


async def test_the_campaign_says_how_many_were_eligible_and_selected(
    copilot: Copilot, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = copilot.services.extras["engine"]
    eligible = _eligible(engine, _last_day(engine))
    assert len(eligible) > 3
    monkeypatch.setattr(winback, "MAX_DRAFTS", 3)  # fewer drafts than eligible accounts
    result = await copilot.ask(WINBACK)
    assert result.pending_approval
    state = (await copilot.graph.aget_state({"configurable": {"thread_id": result.thread_id}})).values
    assert len(state["customer_ids"]) == 3 and set(state["customer_ids"]) <= set(eligible)
    assert f"{len(eligible)} accounts eligible under the win-back policy ({RULE}), the 3 most valuable selected" in (
        result.answer
    )


async def test_a_campaign_that_selects_every_eligible_account_says_so(copilot: Copilot) -> None:
    engine = copilot.services.extras["engine"]
    eligible = _eligible(engine, _last_day(engine))
    assert 0 < len(eligible) <= winback.MAX_DRAFTS  # the small seed: all of them fit
    result = await copilot.ask(WINBACK)
    assert f"{len(eligible)} accounts eligible under the win-back policy ({RULE}), all selected" in result.answer


# 2. The win-back's chart -----------------------------------------------------------------------------------------


def _bars(chart: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Each trace of a horizontal bar chart as {account: value}."""
    return {str(t["name"]): dict(zip(t["y"], t["x"], strict=True)) for t in chart["data"]}


async def test_the_win_back_chart_shows_the_selected_accounts(copilot: Copilot) -> None:
    engine = copilot.services.extras["engine"]
    result = await copilot.ask(WINBACK)
    state = (await copilot.graph.aget_state({"configurable": {"thread_id": result.thread_id}})).values
    selected = state["customer_ids"]
    assert selected and len(result.charts) == 1
    [chart] = result.charts
    assert (
        "selected" in chart["layout"]["title"]["text"]
        and f"{len(selected)} selected" in (chart["layout"]["title"]["text"])
    )
    bars = _bars(chart)
    mrr = _latest_mrr(engine)
    subscription = bars["former MRR × 12"]
    assert set(subscription) == set(selected)  # the campaign's accounts, no one else
    for cid in selected:
        assert subscription[cid] == pytest.approx(12 * mrr[cid], abs=0.01)
    assert set(bars["12-month hardware CLV"]) == set(selected)
    # Every account is labelled on the axis.
    assert list(chart["layout"]["yaxis"]["tickvals"]) == list(chart["data"][0]["y"])


async def test_a_named_win_back_charts_only_that_customer_or_nothing(copilot: Copilot) -> None:
    engine = copilot.services.extras["engine"]
    as_of = _last_day(engine)
    named = min(_eligible(engine, as_of))
    result = await copilot.ask(f"Draft a win-back email for {named}")
    assert [set(_bars(c)["former MRR × 12"]) for c in result.charts] == [{named}]

    active = _rows(engine, "select id from customers where status = 'active' order by id limit 1")[0].id
    left_out = await copilot.ask(f"Draft a win-back email for {active}")
    assert "leaves it out" in left_out.answer and left_out.charts == []


# 3. The RFM recommendation -----------------------------------------------------------------------------------------


def test_the_rfm_recommendation_is_for_the_segment_the_headline_names(deps: ToolDeps) -> None:
    tx = transactions_frame(deps.engine)
    segments = rfm_segments(tx, order_col="order_id")
    # Revenue per segment, from the orders table and each customer's segment.
    revenue = {str(r.customer_id): float(r.total) for r in _rows(deps.engine, _REVENUE)}
    by_segment: dict[str, float] = {}
    for cid, segment in zip(segments.customers["customer_id"], segments.customers["segment"], strict=True):
        by_segment[str(segment)] = by_segment.get(str(segment), 0.0) + revenue.get(str(cid), 0.0)
    largest = max(by_segment, key=lambda s: by_segment[s])
    actions = {s.segment: s.action for s in segments.segments}
    assert largest != "Champions"  # the seed shows the defect: the Champions action was recommended

    result = rfm(deps)
    assert f"largest revenue share: {largest}" in result["headline"]
    assert result["recommendation"].startswith(largest) and actions[largest] in result["recommendation"]
    assert actions["Champions"] not in result["recommendation"]

    asked = rfm(deps, segment="At Risk")  # a segment asked about gets its own action, named
    assert f"At Risk: {actions['At Risk']}" in asked["recommendation"]
    assert f"{largest} (the largest revenue share): {actions[largest]}" in asked["recommendation"]


_REVENUE = "select customer_id, sum(amount) as total from orders group by customer_id"


# 4. The cohort chart -------------------------------------------------------------------------------------------------


def test_the_cohort_chart_says_what_it_plots_and_labels_every_cohort(deps: ToolDeps) -> None:
    firsts = _rows(deps.engine, "select customer_id, min(order_date) as first from orders group by customer_id")
    sizes: dict[str, int] = {}
    for r in firsts:
        month = str(r.first)[:7]
        sizes[month] = sizes.get(month, 0) + 1
    labels = [f"{m} (n={n:,})" for m, n in sorted(sizes.items())]
    chart = cohorts(deps)["chart"]
    title = chart["layout"]["title"]["text"]
    assert "Hardware repeat purchases" in title and "not subscription retention" in title
    assert "retention" not in title.replace("not subscription retention", "").lower()
    heat = chart["data"][0]
    scale = heat["colorbar"]["title"]["text"]
    assert "active" not in scale and "hardware" in scale
    assert "active" not in heat["hovertemplate"]
    assert list(heat["y"]) == labels  # one row per first-purchase month, sized from the orders table
    yaxis = chart["layout"]["yaxis"]
    assert yaxis["tickmode"] == "array" and list(yaxis["tickvals"]) == labels and list(yaxis["ticktext"]) == labels


# 5. Customers today ------------------------------------------------------------------------------------------------


def _customers_on(engine: Any, day: dt.date) -> int:
    query = (
        "select count(*) as n from customers where signup_date <= :d and (churned_date is null or churned_date > :d)"
    )
    return int(_rows(engine, query, d=day.isoformat())[0].n)


def test_customers_without_a_period_are_counted_as_of_today(deps: ToolDeps) -> None:
    today = _last_day(deps.engine)
    now = _customers_on(deps.engine, today)
    month_end = today.replace(day=1) - dt.timedelta(days=1)
    then = _customers_on(deps.engine, month_end)
    assert now != then  # the seed shows the defect: last month's end is not today

    result = counts(deps)
    assert result["headline"].startswith(f"{now:,} customers today ({today})")
    assert result["data"]["customers_today"] == now and result["data"]["customers_end"] == then
    # A period asked about keeps its own headline, with today's count beside it.
    october = counts(deps, period="last month")
    assert october["headline"].startswith(f"{month_end:%B %Y}:")
    assert any(f.endswith(f": {now:,}") and "today" in f for f in october["facts"])


async def test_how_many_customers_do_we_have_is_answered_as_of_today(copilot: Copilot) -> None:
    engine = copilot.services.extras["engine"]
    today = _last_day(engine)
    now = _customers_on(engine, today)
    result = await copilot.ask("How many active customers do we have?")
    assert result.agents == ["insights"]
    headline = re.search(r"\*\*(.+?)\*\*", result.answer)
    assert headline and headline.group(1).startswith(f"{now:,} customers today ({today})")


# 6. Subscription revenue to date -------------------------------------------------------------------------------------


def _prorated(start: dt.date, end: dt.date | None, mrr: float, last: dt.date) -> float:
    """MRR pro-rated day by day: each active day earns MRR / the days of its calendar month."""
    stop = min(end or last + dt.timedelta(days=1), last + dt.timedelta(days=1))
    total, day = 0.0, start
    while day < stop:
        total += mrr / calendar.monthrange(day.year, day.month)[1]
        day += dt.timedelta(days=1)
    return total


def _full_month_customer(engine: Any) -> tuple[str, int, float]:
    """A customer with one cancelled subscription of whole months between two months of the same length."""
    rows = _rows(
        engine,
        "select customer_id, min(start_date) as s, min(end_date) as e, min(mrr) as mrr from subscriptions "
        "group by customer_id having count(*) = 1 and min(end_date) is not null order by customer_id",
    )
    for r in rows:
        start, end = _date(r.s), _date(r.e)
        if start.day != end.day or start.day > 28:
            continue
        if calendar.monthrange(start.year, start.month)[1] != calendar.monthrange(end.year, end.month)[1]:
            continue
        months = (end.year - start.year) * 12 + end.month - start.month
        return str(r.customer_id), months, float(r.mrr)
    raise AssertionError("no whole-month subscription in the seed")


def test_subscription_revenue_to_date_is_whole_months_of_mrr(deps: ToolDeps) -> None:
    cid, months, mrr = _full_month_customer(deps.engine)
    value = clv(deps, customer_id=cid)
    expected = round(months * mrr, 2)  # e.g. the testers' 7 × $263 = $1,841.00
    assert value["data"]["subscription_revenue_to_date"] == pytest.approx(expected, abs=0.005)
    assert f"subscriptions ${expected:,.2f}" in " ".join(value["facts"])


def test_subscription_revenue_to_date_matches_calendar_pro_rating(deps: ToolDeps) -> None:
    last = _last_day(deps.engine)
    subs = pd.DataFrame(
        _rows(deps.engine, "select customer_id, start_date, end_date, mrr from subscriptions"),
        columns=["customer_id", "start_date", "end_date", "mrr"],
    )
    several = subs.groupby("customer_id").size()
    live = set(subs.loc[subs["end_date"].isna(), "customer_id"])
    picks = [
        next(c for c in sorted(several.index) if several[c] > 1),  # a plan change
        next(c for c in sorted(live)),  # a live subscription: counted to today
    ]
    for cid in picks:
        rows = subs[subs["customer_id"] == cid]
        expected = sum(
            _prorated(_date(r.start_date), None if pd.isna(r.end_date) else _date(r.end_date), float(r.mrr), last)
            for r in rows.itertuples()
        )
        got = clv(deps, customer_id=cid)["data"]["subscription_revenue_to_date"]
        assert got == pytest.approx(expected, abs=0.01), cid
