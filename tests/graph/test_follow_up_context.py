"""Follow-ups on one thread keep the channel, the period and the tool of the turn before (exploratory test).

"Q2 vs Q3" after a paid-search question ran the all-channel report; "... paid social in the same period?"
fell back to the last 30 days; "and last quarter?" after an email draft and "and in October?" after
"thanks!" failed with "customer_id: not given"; "and the quarter before?" after March gave Q1 (which
holds March) instead of the quarter before it.
"""

from __future__ import annotations

import re
from typing import Any

from app.runtime import AskResult, Copilot


async def _ask(copilot: Copilot, text: str, thread_id: str | None = None) -> tuple[AskResult, list[dict[str, Any]]]:
    """The answer and the turn's tool calls (name, arguments, whether it worked)."""
    result = await copilot.ask(text, thread_id=thread_id) if thread_id else await copilot.ask(text)
    state = (await copilot.graph.aget_state({"configurable": {"thread_id": result.thread_id}})).values
    calls = [{"name": r["name"], "args": r["args"], "ok": r["ok"]} for r in state.get("tool_calls", [])]
    return result, calls


async def test_periods_and_a_channel_carry_over_to_the_follow_ups(copilot: Copilot):
    first, calls = await _ask(copilot, "How did paid search perform in Q3?")
    assert [(c["name"], c["args"].get("channel")) for c in calls] == [("channel_performance", "paid_search")]
    both, calls = await _ask(copilot, "Q2 vs Q3", first.thread_id)
    assert [c["args"] for c in calls] == [
        {"period": "Q2", "channel": "paid_search"},
        {"period": "Q3", "channel": "paid_search"},
    ], calls  # the channel kept: not the all-channel report
    assert both.answer.split("\n")[0].startswith("[offline model] **paid_search, Q2"), both.answer
    social, calls = await _ask(copilot, "and what about paid social in the same period?", first.thread_id)
    assert [c["args"] for c in calls] == [
        {"period": "Q2", "channel": "paid_social"},
        {"period": "Q3", "channel": "paid_social"},
    ], calls  # the period of the turn before, both quarters
    assert "last 30 days" not in social.answer and "paid_social, Q2" in social.answer, social.answer


async def test_a_period_for_an_email_draft_is_a_clear_reply_and_thanks_keeps_the_thread(copilot: Copilot):
    first, calls = await _ask(copilot, "Draft an email for customer C00042")
    assert [(c["name"], c["args"]["customer_id"], c["ok"]) for c in calls] == [("draft_email", "C00042", True)]
    for text in ("and last quarter?", "thanks!", "and in October?"):
        result, calls = await _ask(copilot, text, first.thread_id)
        assert calls == [] and not result.errors, (text, calls, result.errors)  # never a failed call
        if text != "thanks!":
            assert "does not depend on a period" in result.answer and "channel performance" in result.answer
            assert "customer_id" not in result.answer


async def test_thanks_between_a_metric_and_its_follow_up_does_not_break_the_thread(copilot: Copilot):
    first, _ = await _ask(copilot, "What was our CAC last quarter?")
    await _ask(copilot, "thanks!", first.thread_id)
    october, calls = await _ask(copilot, "and in October?", first.thread_id)
    assert [(c["name"], c["args"].get("metric"), c["ok"]) for c in calls] == [("compute_metric", "cac", True)]
    assert re.search(r"CAC — October \d{4}", october.answer), october.answer


async def test_the_quarter_before_a_month_is_the_quarter_before_that_months_quarter(copilot: Copilot):
    first, calls = await _ask(copilot, "CAC by channel for March")
    year = re.search(r"CAC by channel for March (\d{4})", first.answer)
    assert year and [c["name"] for c in calls] == ["cac_by_channel"], first.answer
    before, calls = await _ask(copilot, "and the quarter before?", first.thread_id)
    assert [c["name"] for c in calls] == ["cac_by_channel"], calls  # the same tool, not LTV
    assert f"CAC by channel for Q4 {int(year.group(1)) - 1}" in before.answer, before.answer
