"""The chat in a real browser: sign-in, streaming with steps, charts, sheet upload, escalation, history.

The tests share one server (see `conftest.py`); the thread-resume test restarts it and runs last.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ARTIFACTS, Server

pytestmark = pytest.mark.slow

UNANSWERABLE = "Do you offer a white-label version of Lumio that resellers can rebrand?"
ASSISTANT = '[data-step-type="assistant_message"]'
ANSWER_TIMEOUT_MS = 45_000


def shot(page: Any, name: str) -> Path:
    """Save a full-page screenshot to `test-artifacts/`."""
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True, timeout=60_000)
    return path


def _watch(ws: Any, events: list[str], only: str = "") -> None:
    """Collect the websocket frames the page receives (those containing `only`)."""

    def on_frame(frame: str | bytes) -> None:
        if isinstance(frame, str) and only in frame:
            events.append(frame)

    ws.on("framereceived", on_frame)


def _watch_tokens(ws: Any, tokens: list[str]) -> None:
    """Collect Chainlit's `stream_token` websocket events (one per streamed chunk)."""
    _watch(ws, tokens, '"stream_token"')


def sign_in(
    browser: Any, server: Server, username: str, next_path: str = "/chat", on_page: Callable[[Any], None] | None = None
) -> Any:
    """Sign in as `username` in a new browser context; returns its page, ready to type."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    connected: list[bool] = _CONNECTED.setdefault(id(page), [])
    page.on("websocket", lambda ws: connected.append(True))  # socket.io upgrades once its session exists
    if on_page is not None:
        on_page(page)
    page.goto(f"{server.url}/login?next={next_path}")
    page.fill("#username", username)
    page.fill("#password", server.accounts()[username])
    page.click("button[type=submit]")
    if next_path == "/chat":
        wait_ready(page)
    return page


_CONNECTED: dict[int, list[bool]] = {}
"""Pages (by id) whose chat websocket has opened, as `sign_in` watches them."""


def wait_ready(page: Any) -> None:
    """Wait until a new chat is ready: the input, the starters and its session's websocket.

    The starters render before the chat session connects; a file attached before it exists is refused (404 on
    Chainlit's upload route), which the banner message used to hide (it came over the socket).
    """
    page.wait_for_selector("#chat-input", timeout=30_000)
    page.wait_for_selector("#starters", timeout=30_000)
    connected = _CONNECTED.get(id(page))
    for _ in range(300):
        if connected is None or connected:
            return
        page.wait_for_timeout(100)
    raise AssertionError("the chat's websocket did not open within 30 s")


def send(page: Any, text: str) -> int:
    """Type `text` and send it; returns the number of assistant messages before sending."""
    before: int = page.locator(ASSISTANT).count()
    page.click("#chat-input")
    page.keyboard.type(text)
    page.click("#chat-submit")
    return before


def wait_for_answer(page: Any, expect: str, timeout_ms: int = ANSWER_TIMEOUT_MS) -> str:
    """Wait until an assistant message contains `expect`; returns the page text."""
    page.wait_for_function(
        """(expect) => [...document.querySelectorAll('[data-step-type="assistant_message"]')]
            .some((m) => m.innerText.includes(expect))""",
        arg=expect,
        timeout=timeout_ms,
    )
    text: str = page.inner_text("body")
    return text


def test_sign_in_see_the_answer_stream_with_a_step_and_a_chart(browser: Any, server: Server) -> None:
    tokens: list[str] = []
    page = sign_in(browser, server, "staff", on_page=lambda p: p.on("websocket", lambda ws: _watch_tokens(ws, tokens)))
    send(page, "What was our CAC by channel last quarter?")
    wait_for_answer(page, "[offline model]")
    page.get_by_text("Used Supervisor").first.wait_for(timeout=10_000)
    page.wait_for_selector(".js-plotly-plot", timeout=30_000)
    # The server streams at the model's pace (GTM_OFFLINE_TOKEN_DELAY_S here), batched per 50 ms for the page.
    assert len(tokens) >= 3, f"the answer did not stream ({len(tokens)} stream_token events)"
    page.wait_for_timeout(500)
    shot(page, "01-cac-answer-streamed-with-chart")
    page.get_by_text("Used Supervisor").first.click()
    page.get_by_text("route: finance").first.wait_for(timeout=10_000)
    shot(page, "02-supervisor-step-open")
    page.context.close()


def test_a_two_part_question_shows_both_answers_and_a_greeting_gets_the_guide(browser: Any, server: Server) -> None:
    page = sign_in(browser, server, "staff")
    send(page, "what's the refund policy, and what was our CAC last quarter?")
    wait_for_answer(page, "[refund-policy.md]")  # the second half, after the streamed first half
    reply = page.locator(ASSISTANT).last.inner_text()
    assert "What was our CAC last quarter?" in reply and "What's the refund policy" in reply, reply
    assert reply.count("[offline model]") == 1, reply
    shot(page, "03-two-part-question")
    send(page, "thanks!")
    wait_for_answer(page, "You're welcome!")
    page.context.close()


def test_an_uploaded_sheet_is_answered_with_its_totals(browser: Any, server: Server) -> None:
    page = sign_in(browser, server, "staff")
    csv = b"vendor,amount,month\nAcme,1200.50,Jan\nGlobex,800,Feb\nAcme,99.5,Feb\n"
    page.set_input_files("#upload-button-input", files=[{"name": "spend.csv", "mimeType": "text/csv", "buffer": csv}])
    page.get_by_text("spend.csv").first.wait_for(timeout=15_000)
    send(page, "Total this sheet")
    body = wait_for_answer(page, "2,100.00")
    assert re.search(r"spend-[0-9a-f]{8}\.csv", body)
    shot(page, "03b-sheet-upload")
    page.context.close()


def test_an_escalation_is_approved_by_a_reviewer_and_shown_to_the_requester(browser: Any, server: Server) -> None:
    requester = sign_in(browser, server, "staff")
    send(requester, UNANSWERABLE)
    body = wait_for_answer(requester, "is open for it")
    ticket = re.search(r"Ticket #(\d+)", body)
    assert ticket, body[-500:]
    shot(requester, "04a-escalated")

    reviewer = sign_in(browser, server, "reviewer", next_path="/review")
    reviewer.wait_for_selector("button.approve", timeout=15_000)
    assert "white-label" in reviewer.inner_text("body")
    shot(reviewer, "04b-review-console")
    reviewer.locator("button.approve").first.click()
    reviewer.wait_for_load_state()

    body = wait_for_answer(requester, "reviewed by reviewer", timeout_ms=30_000)
    shot(requester, "04c-reviewed-answer-in-chat")
    reviewer.context.close()
    requester.context.close()


def test_staff_is_refused_the_review_console(browser: Any, server: Server) -> None:
    page = sign_in(browser, server, "staff")
    response = page.goto(f"{server.url}/review")
    assert response is not None and response.status == 403
    shot(page, "05-staff-review-403")
    page.context.close()


def test_a_thread_is_resumed_after_a_restart(browser: Any, server: Server) -> None:
    question = "What are your support hours?"
    page = sign_in(browser, server, "admin")
    send(page, question)
    wait_for_answer(page, "[offline model]")
    page.wait_for_timeout(1_000)  # let the last step reach the history database
    page.context.close()

    server.restart()

    events: list[str] = []
    page = sign_in(browser, server, "admin", on_page=lambda p: p.on("websocket", lambda ws: _watch(ws, events)))
    page.locator("#thread-history").get_by_text(question).first.click()
    page.wait_for_url(re.compile(r".*/thread/.*"), timeout=15_000)
    for _ in range(150):  # the websocket resumes the thread (on_chat_resume) before we type
        if any('"resume_thread"' in event for event in events):
            break
        page.wait_for_timeout(100)
    else:
        pytest.fail("the chat did not resume the thread over the websocket")
    page.get_by_text(question).last.wait_for(timeout=15_000)
    page.locator(ASSISTANT).get_by_text("[offline model]").first.wait_for(timeout=15_000)
    thread_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    shot(page, "06a-resumed-thread")

    before = send(page, "And what is the refund policy?")
    page.wait_for_function(
        "(n) => document.querySelectorAll('[data-step-type=\"assistant_message\"]').length > n",
        arg=before,
        timeout=ANSWER_TIMEOUT_MS,
    )
    wait_for_answer(page, "refund-policy.md")
    users = page.locator('[data-step-type="user_message"]')
    assert users.count() == 2, (
        f"the earlier messages disappeared after the follow-up: {users.all_inner_texts()} {[e[:80] for e in events]}"
    )
    shot(page, "06b-follow-up-after-resume")
    users.first.scroll_into_view_if_needed()
    shot(page, "06c-earlier-messages-above")
    page.context.close()

    shown = subprocess.run(
        [sys.executable, "-m", "app.cli.main", "thread", "show", thread_id],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr[-1000:]
    assert shown.stdout.count("[user]") == 2, "the follow-up did not continue the same LangGraph thread"
