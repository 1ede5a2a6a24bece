"""Finance follow-ups on one thread (exploratory `gtm ask --thread` testing).

- After "How many customers churned in <month>?" and "and in <the month before>?" (Insights), "what was the CAC then?"
  answered last quarter: "then" points back at the period just discussed, so it is the CAC of that month.
- After "CAC last quarter" and "and by channel?", "what about paid search only?" answered LTV: a fragment that only
  names a channel goes back to the last tool that takes one, CAC, for the same period.

Every expected figure is recomputed here from the seeded business database with SQL.
"""

from __future__ import annotations

import calendar
import sqlite3
from datetime import date, timedelta
from typing import Any

from app.runtime import AskResult, Copilot


async def _ask(copilot: Copilot, text: str, thread_id: str | None = None) -> tuple[AskResult, list[dict[str, Any]]]:
    """The answer and the turn's tool calls (name, arguments, whether it worked)."""
    result = await copilot.ask(text, thread_id=thread_id) if thread_id else await copilot.ask(text)
    state = (await copilot.graph.aget_state({"configurable": {"thread_id": result.thread_id}})).values
    calls = [{"name": r["name"], "args": r["args"], "ok": r["ok"]} for r in state.get("tool_calls", [])]
    return result, calls


def _query(copilot: Copilot, sql: str, *args: object) -> Any:
    database = copilot.settings.business_db_url.removeprefix("sqlite:///")
    with sqlite3.connect(database) as conn:
        return conn.execute(sql, args).fetchone()[0]


def _last_day(copilot: Copilot) -> date:
    return date.fromisoformat(str(_query(copilot, "select max(date) from channel_performance"))[:10])


def _cac(copilot: Copilot, start: date, end: date, channel: str | None = None) -> tuple[float, int, float]:
    """(spend, new customers, CAC) over [start, end], of one acquisition channel if given."""
    where = " and channel = ?" if channel else ""
    spend = float(
        _query(
            copilot,
            f"select coalesce(sum(spend), 0) from channel_performance where date between ? and ?{where}",
            start.isoformat(),
            end.isoformat(),
            *([channel] if channel else []),
        )
    )
    where = " and acquisition_channel = ?" if channel else ""
    new = int(
        _query(
            copilot,
            f"select count(*) from customers where signup_date between ? and ?{where}",
            start.isoformat(),
            end.isoformat(),
            *([channel] if channel else []),
        )
    )
    return spend, new, spend / new


async def test_what_was_the_cac_then_is_the_month_just_discussed(copilot: Copilot):
    last = _last_day(copilot)
    month = (last.replace(day=1) - timedelta(days=1)).replace(day=1)  # the last whole month
    before = (month - timedelta(days=1)).replace(day=1)
    first, calls = await _ask(
        copilot, f"How many customers churned in {calendar.month_name[month.month]} {month.year}?"
    )
    assert first.route == "insights" and calls and all(c["ok"] for c in calls), calls
    second, calls = await _ask(copilot, f"and in {calendar.month_name[before.month]}?", first.thread_id)
    assert second.route == "insights" and calls and all(c["ok"] for c in calls), calls
    then, calls = await _ask(copilot, "what was the CAC then?", first.thread_id)
    assert then.route == "finance"
    assert [(c["name"], c["args"].get("metric"), c["ok"]) for c in calls] == [("compute_metric", "cac", True)], calls
    end = before.replace(day=calendar.monthrange(before.year, before.month)[1])
    spend, new, expected = _cac(copilot, before, end)
    label = f"{calendar.month_name[before.month]} {before.year}"
    assert f"CAC — {label}" in then.answer, then.answer
    assert f"${expected:,.2f}" in then.answer and f"= {new:,}" in then.answer, then.answer


async def test_paid_search_only_after_cac_by_channel_is_paid_search_cac_for_the_same_quarter(copilot: Copilot):
    last = _last_day(copilot)
    this_quarter = date(last.year, 3 * ((last.month - 1) // 3) + 1, 1)
    end = this_quarter - timedelta(days=1)
    start = date(end.year, end.month - 2, 1)
    first, calls = await _ask(copilot, "CAC last quarter")
    assert [(c["name"], c["args"].get("metric")) for c in calls] == [("compute_metric", "cac")], calls
    by_channel, calls = await _ask(copilot, "and by channel?", first.thread_id)
    assert [(c["name"], c["args"].get("period")) for c in calls] == [("cac_by_channel", "last quarter")], calls
    paid, calls = await _ask(copilot, "what about paid search only?", first.thread_id)
    assert [(c["name"], c["args"], c["ok"]) for c in calls] == [
        ("compute_metric", {"metric": "cac", "period": "last quarter", "channel": "paid_search"}, True)
    ], calls
    spend, new, expected = _cac(copilot, start, end, "paid_search")
    assert "channel paid_search" in paid.answer and f"${expected:,.2f}" in paid.answer, paid.answer
    assert f"${spend:,.2f}" in paid.answer and "LTV" not in paid.answer.split("\n")[0], paid.answer
