"""The chat and the console in a real browser: nothing fetched from other hosts, the product's logo and avatar,
sign-in on `/login` only, and a conflict page that a reload does not send again."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import Server
from tests.browser.test_chat_browser import UNANSWERABLE, send, shot, sign_in, wait_for_answer

pytestmark = pytest.mark.slow

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


def _record(page: Any, requests: list[Any], failures: list[str]) -> None:
    page.on("request", lambda r: requests.append(r))
    page.on("requestfailed", lambda r: failures.append(f"{r.method} {r.url} ({r.failure})"))
    page.on("response", lambda r: failures.append(f"{r.status} {r.url}") if r.status >= 400 else None)


def test_the_chat_fetches_nothing_from_other_hosts_and_shows_the_products_logo(browser: Any, server: Server) -> None:
    requests: list[Any] = []
    failures: list[str] = []
    page = sign_in(browser, server, "staff", on_page=lambda p: _record(p, requests, failures))
    send(page, "What was our CAC last quarter?")
    wait_for_answer(page, "CAC")
    page.wait_for_load_state("networkidle")
    shot(page, "30-polish-offline-chat")

    external = sorted({r.url for r in requests if urlsplit(r.url).hostname not in LOCAL_HOSTS})
    assert not external, external
    assert not failures, failures
    assert not any("/chat/avatars/" in r.url for r in requests)  # every author's avatar is the configured logo

    avatars = page.eval_on_selector_all(
        'img[src$="/chat/public/avatars/gtm_copilot.svg"]', "els => els.map(e => e.complete && e.naturalWidth > 0)"
    )
    assert avatars and all(avatars), avatars
    logos = page.eval_on_selector_all(
        'img[alt="logo"]', "els => els.map(e => [e.getAttribute('src'), e.complete && e.naturalWidth > 0])"
    )
    for src, loaded in logos:
        assert "/chat/logo" in src and loaded, logos
    page.context.close()


def test_the_chat_signs_in_on_our_login_page(browser: Any, server: Server) -> None:
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{server.url}/chat")
    assert urlsplit(page.url).path == "/login" and "next=/chat" in page.url
    page.goto(f"{server.url}/chat/login")
    assert urlsplit(page.url).path == "/login"
    context.close()

    signed_in = sign_in(browser, server, "staff")
    # Chainlit moves to its own sign-in route inside the page (an ended session, its Logout): ours is shown
    signed_in.evaluate("() => window.history.pushState(null, '', '/chat/login')")
    signed_in.wait_for_url(re.compile(r"/login\?next=%2Fchat$"), timeout=10_000)
    signed_in.context.close()


def test_a_reload_after_a_conflict_sends_nothing_again(browser: Any, server: Server) -> None:
    requester = sign_in(browser, server, "staff")
    send(requester, UNANSWERABLE)
    body = wait_for_answer(requester, "is open for it")
    review_id = re.findall(r"R-\d{5,}", body)[-1]
    requester.context.close()

    admin = sign_in(browser, server, "admin", next_path="/review")
    admin.wait_for_selector(f'section[id="{review_id}"] button.reject', timeout=15_000)  # a stale page
    reviewer = sign_in(browser, server, "reviewer", next_path="/review")
    reviewer.locator(f'section[id="{review_id}"] button.approve').click()
    reviewer.wait_for_load_state()
    assert f"{review_id} approved by reviewer" in reviewer.inner_text("body")
    reviewer.context.close()

    admin.fill(f'section[id="{review_id}"] input[name="note"]', "no")
    admin.locator(f'section[id="{review_id}"] button.reject').click()
    admin.wait_for_url(re.compile(rf"/review\?conflict={review_id}$"), timeout=10_000)
    assert f"{review_id} was already decided by reviewer" in admin.inner_text("body")
    shot(admin, "31-polish-conflict")

    methods: list[str] = []
    admin.on(
        "request", lambda r: methods.append(f"{r.method} {urlsplit(r.url).path}") if r.is_navigation_request() else None
    )
    response = admin.reload()
    assert response is not None and response.status == 200
    assert methods == ["GET /review"], methods
    assert f"{review_id} was already decided by reviewer" in admin.inner_text("body")

    response = admin.goto(f"{server.url}/review/{review_id}/decide")
    assert response is not None and response.status == 200 and urlsplit(admin.url).path == "/review"
    admin.context.close()
