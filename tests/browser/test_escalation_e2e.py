"""Issue 7's "done when", against the real server on loopback, in a real browser.

A question the knowledge base cannot answer escalates; the server restarts while the review is
pending; a reviewer signs in to `/review`, edits the answer and adds it to the knowledge base; the
requester, who had closed the chat, finds the edited answer in that thread's history; asking again no
longer escalates, because the edit is now part of the knowledge base.
"""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest

from tests.browser.conftest import Server
from tests.browser.test_chat_browser import ASSISTANT, send, shot, sign_in, wait_for_answer, wait_ready

pytestmark = pytest.mark.slow

QUESTION = "Does Lumio have a partner program for agencies?"
EDITED = (
    "Yes: the Lumio Partner Programme gives agencies a 20% margin on every plan they resell, "
    "with a dedicated partner manager. Apply at partners@lumio.io."
)


def _pending_reviews(server: Server) -> list[str]:
    shown = subprocess.run(
        [sys.executable, "-m", "app.cli.main", "review", "list", "--json"],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr[-1000:]
    return re.findall(r'"review_id":\s*"(R-\d+)"', shown.stdout)


def test_escalate_restart_edit_into_kb_then_no_escalation(browser: Any, server: Server) -> None:
    requester = sign_in(browser, server, "staff")
    send(requester, QUESTION)
    body = wait_for_answer(requester, "is open for it")
    review = re.search(r"review \*{0,2}(R-\d+)", body) or re.search(r"(R-\d{5})", body)
    assert review, body[-600:]
    review_id = review.group(1)
    shot(requester, "07a-escalated-before-restart")
    requester.context.close()  # the requester leaves; the answer must wait in the thread's history

    server.restart()  # the pending review, its ticket and the paused thread survive the restart
    assert review_id in _pending_reviews(server)

    reviewer = sign_in(browser, server, "reviewer", next_path="/review")
    item = reviewer.locator(f"section#{review_id}")
    item.wait_for(timeout=15_000)
    assert "partner program" in item.inner_text().lower()
    item.locator("textarea[name=text]").fill(EDITED)
    item.locator("input[name=add_to_kb]").check()
    shot(reviewer, "07b-reviewer-edits-after-restart")
    item.locator("button[value=edit]").click()
    reviewer.wait_for_load_state()
    notice = reviewer.inner_text("body")
    assert f"{review_id} edited by reviewer" in notice and "Added to the knowledge base" in notice, notice[:600]
    shot(reviewer, "07c-decided-and-added-to-kb")
    reviewer.context.close()
    assert review_id not in _pending_reviews(server)

    requester = sign_in(browser, server, "staff")
    requester.locator("#thread-history").get_by_text(QUESTION).first.click()
    requester.wait_for_url(re.compile(r".*/thread/.*"), timeout=15_000)
    requester.locator(ASSISTANT).get_by_text("20% margin").first.wait_for(timeout=20_000)
    shot(requester, "07d-edited-answer-in-history")

    requester.goto(f"{server.url}/chat")
    wait_ready(requester)  # a new chat, connected
    send(requester, QUESTION)
    body = wait_for_answer(requester, "20% margin")
    assert "is open for it" not in body and "passed it to a specialist" not in body
    assert "reviewed-answers/" in body  # cited from the document the reviewer's edit became
    shot(requester, "07e-asked-again-answered-from-kb")
    requester.context.close()
