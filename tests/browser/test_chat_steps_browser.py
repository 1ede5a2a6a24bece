"""The chat's steps, charts in history, decisions in history and the outbox buttons, in a real browser.

Shares the session's server (see `conftest.py`), whose win-back emails go to a loopback SMTP server.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import Server
from tests.browser.test_chat_browser import ASSISTANT, send, shot, sign_in, wait_for_answer, wait_ready

pytestmark = pytest.mark.slow

CAC = "What was our CAC by channel in the last quarter?"
AWAY = "Do you offer a white-label version of Lumio for resellers?"
WINBACK = "Launch a win-back campaign for churned customers"


def open_step(page: Any, name: str, timeout_ms: int = 30_000) -> None:
    """Expand the step called `name` once it is finished (Chainlit then shows it as "Used <name>")."""
    header = page.get_by_text(f"Used {name}", exact=True).first
    header.wait_for(timeout=timeout_ms)
    header.click()


def open_thread(page: Any, title: str) -> None:
    """Open a thread from the sidebar and wait until it is loaded."""
    page.locator("#thread-history").get_by_text(title).first.click()
    page.wait_for_url(re.compile(r".*/thread/.*"), timeout=15_000)


def test_a_finance_answer_shows_agent_and_tool_steps_and_its_chart_survives_a_reload(browser: Any, server: Server):
    page = sign_in(browser, server, "staff")
    send(page, CAC)
    wait_for_answer(page, "[offline model]")
    page.wait_for_selector(".js-plotly-plot", timeout=30_000)
    open_step(page, "Finance agent")
    open_step(page, "cac_by_channel")
    step_text = page.inner_text("body")
    assert '"period"' in step_text and "quarter" in step_text, step_text[-1500:]
    assert "CAC" in step_text
    shot(page, "10a-finance-agent-and-tool-steps")

    page.goto(f"{server.url}/chat")
    wait_ready(page)
    open_thread(page, CAC)
    page.locator(ASSISTANT).get_by_text("[offline model]").first.wait_for(timeout=15_000)
    page.wait_for_selector(".js-plotly-plot", timeout=20_000)  # the chart came back from the history
    page.wait_for_timeout(500)
    shot(page, "10b-chart-after-reloading-the-thread")
    page.context.close()


def test_the_weekly_report_shows_its_four_branches(browser: Any, server: Server):
    page = sign_in(browser, server, "staff")
    send(page, "Give me the weekly report")
    wait_for_answer(page, "[offline model]", timeout_ms=60_000)
    open_step(page, "Weekly report", timeout_ms=120_000)  # a long answer: its step ends when it is written
    for agent in ("Marketing", "Finance", "Insights", "Support"):
        page.get_by_text(f"Used {agent} branch", exact=True).first.wait_for(timeout=10_000)
    shot(page, "11-weekly-report-branches")
    page.context.close()


def test_a_decision_made_while_the_requester_is_away_is_in_the_thread_when_they_return(browser: Any, server: Server):
    requester = sign_in(browser, server, "staff")
    send(requester, AWAY)
    body = wait_for_answer(requester, "is open for it", timeout_ms=90_000)
    review = re.search(r"\b(R-\d+)\b", body)
    assert review, body[-600:]
    review_id = review.group(1)
    requester.context.close()  # away: no chat is watching this thread any more

    reviewer = sign_in(browser, server, "reviewer", next_path="/review")
    item = reviewer.locator(f"section#{review_id}")
    item.wait_for(timeout=15_000)
    item.locator("button.approve").click()
    reviewer.wait_for_load_state()
    reviewer.context.close()

    requester = sign_in(browser, server, "staff")
    open_thread(requester, AWAY)
    requester.locator(ASSISTANT).get_by_text(f"{review_id} · reviewed by reviewer").first.wait_for(timeout=20_000)
    requester.wait_for_timeout(500)
    texts = requester.locator(ASSISTANT).all_inner_texts()
    assert sum(f"{review_id} · reviewed" in t for t in texts) == 1, texts
    shot(requester, "12-decision-in-history-after-returning")
    requester.context.close()


def test_the_outbox_buttons_approve_and_the_reply_reports_the_sends(browser: Any, server: Server):
    staff = sign_in(browser, server, "staff")
    send(staff, WINBACK)
    wait_for_answer(staff, "Nothing has been sent", timeout_ms=60_000)
    assert staff.get_by_role("button", name="Approve all and send").count() == 0
    staff.context.close()

    before = len(server.inbox.messages)
    page = sign_in(browser, server, "admin")
    send(page, WINBACK)
    wait_for_answer(page, "Nothing has been sent", timeout_ms=60_000)
    assert "reviewer console" in page.inner_text("body")
    shot(page, "13a-outbox-buttons")
    page.get_by_role("button", name="Approve all and send").click()
    body = wait_for_answer(page, "Win-back emails: sent", timeout_ms=60_000)
    sent = int(re.search(r"Win-back emails: sent (\d+)", body).group(1))  # type: ignore[union-attr]
    assert sent > 0 and len(server.inbox.messages) - before == sent
    page.wait_for_timeout(500)
    shot(page, "13b-outbox-approved-and-sent")
    page.context.close()
