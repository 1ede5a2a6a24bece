"""The outbox in a real browser: a staff member's win-back approved in the console (one drop, one edit),
sent once, the outcome live in the staff chat; the starters on a new chat; buttons gone once decided.

Shares the session's server (see `conftest.py`), whose win-back emails go to a loopback SMTP server.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import Server
from tests.browser.test_chat_browser import ASSISTANT, send, shot, sign_in, wait_for_answer

pytestmark = pytest.mark.slow

WINBACK = "Launch a win-back campaign for churned customers"
EDITED_SUBJECT = "Your dashboards are still here"
EDITED_BODY = "Hi,\n\nyour floor plans and sensors are still set up.\nCome back for a month on us.\n\nThe Lumio team"


def test_a_new_chat_shows_the_starters_and_the_first_answer_names_the_model(browser: Any, server: Server):
    page = sign_in(browser, server, "staff")
    starters = page.locator("#starters")
    assert starters.get_by_text("Weekly report").count() == 1 and starters.get_by_text("Win-back campaign").count() == 1
    assert page.locator(ASSISTANT).count() == 0
    shot(page, "20a-starters-on-a-new-chat")
    send(page, "What was our CAC by channel last quarter?")
    wait_for_answer(page, "[offline model]")
    page.locator(ASSISTANT).get_by_text("Offline model").first.wait_for(timeout=10_000)
    page.context.close()


def test_a_staff_campaign_is_approved_in_the_console_with_a_drop_and_an_edit(browser: Any, server: Server):
    staff = sign_in(browser, server, "staff")
    send(staff, WINBACK)
    body = wait_for_answer(staff, "Nothing has been sent", timeout_ms=60_000)
    assert "/review/outbox" in body and "gtm outbox" not in body, body[-1500:]
    assert staff.get_by_role("button", name="Approve all and send").count() == 0

    reviewer = sign_in(browser, server, "reviewer", next_path="/review/outbox")
    reviewer.get_by_role("link", name="Outbox").wait_for(timeout=10_000)
    # the newest campaign of staff is the last card
    card = reviewer.locator("section.campaign").last
    card.wait_for(timeout=15_000)
    assert "asked by staff" in card.inner_text()
    recipients = card.locator(".recipient")
    count = recipients.count()
    assert count >= 3
    recipients.nth(0).locator("input[name=drop]").check()
    second = recipients.nth(1)
    second.get_by_text("Edit this email").click()
    second.locator("input[type=text]").fill(EDITED_SUBJECT)
    second.locator("textarea").fill(EDITED_BODY)
    shot(reviewer, "20b-outbox-page-with-a-drop-and-an-edit")
    before = len(server.inbox.messages)
    card.get_by_role("button", name=re.compile("Approve and send")).click()
    notice = reviewer.get_by_text(re.compile("Win-back campaign of staff approved by reviewer"))
    notice.wait_for(timeout=60_000)
    text = notice.inner_text()
    sent = int(re.search(r"(\d+) sent", text).group(1))  # type: ignore[union-attr]
    assert sent == count - 1  # every recipient but the dropped one (the demo accounts all have addresses)
    assert len(server.inbox.messages) - before == sent
    assert [m["Subject"] for m in server.inbox.messages[before:]].count(EDITED_SUBJECT) == 1
    shot(reviewer, "20c-outbox-approved")

    # the staff chat, still open, learns the outcome live, once
    wait_for_answer(staff, "Win-back campaign · approved by reviewer", timeout_ms=30_000)
    staff.wait_for_timeout(1500)
    texts = staff.locator(ASSISTANT).all_inner_texts()
    assert sum("Win-back campaign · approved by reviewer" in t for t in texts) == 1, texts
    shot(staff, "20d-staff-chat-gets-the-outcome")
    assert len(server.inbox.messages) - before == sent  # nothing sent twice
    reviewer.context.close()
    staff.context.close()


def test_approving_in_the_chat_removes_both_buttons(browser: Any, server: Server):
    page = sign_in(browser, server, "admin")
    send(page, WINBACK)
    wait_for_answer(page, "Nothing has been sent", timeout_ms=60_000)
    assert "/review/outbox" in page.inner_text("body")
    page.get_by_role("button", name="Approve all and send").click()
    wait_for_answer(page, "Win-back emails: sent", timeout_ms=60_000)
    page.wait_for_timeout(1000)
    assert page.get_by_role("button", name="Approve all and send").count() == 0
    assert page.get_by_role("button", name="Reject").count() == 0
    shot(page, "20e-buttons-gone-after-approval")
    page.context.close()
