"""Route inventory: every page and API of the app refuses anonymous clients, except an explicit allow-list.

The inventory is read from `create_app().routes` (routers included, Chainlit's mount left to its own
checks below), so a route added later without authentication fails here until it is protected or
allow-listed with a reason.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Iterator
from typing import Any

import httpx
import pytest
from starlette.routing import Mount

from tests.web.conftest import Web, form_token

PUBLIC: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): "liveness probe, no data",
    ("GET", "/readyz"): "readiness probe, no data",
    ("GET", "/login"): "the sign-in form",
    ("POST", "/login"): "signing in (CSRF-bound to the login nonce)",
    ("GET", "/"): "redirect to the chat, which has its own sign-in",
    ("GET", "/logout"): "the sign-out confirmation (no data; signing out itself is a CSRF-protected POST)",
}
"""(method, path) answered without a session, and why."""

CHAINLIT_PROTECTED = [
    ("GET", "/chat/user"),
    ("GET", "/chat/project/settings"),  # calls the project's starters callback
    ("POST", "/chat/project/threads"),
    ("GET", "/chat/project/thread/some-thread"),
    ("DELETE", "/chat/project/thread"),
    ("POST", "/chat/project/file"),  # uploads
]
"""Chainlit endpoints that reach the project's data or callbacks: they need the session too."""

REMOTE_CLIENT = ("203.0.113.9", 40000)
"""A documentation address (TEST-NET-3): not loopback, so `/metrics` must refuse it."""


def walk(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path) of every route, descending into included routers; Chainlit's mount is skipped."""
    for route in routes:
        if isinstance(route, Mount):
            continue
        original = getattr(route, "original_router", None)  # FastAPI's included routers
        if original is not None:
            context = getattr(route, "include_context", None)
            yield from walk(original.routes, prefix + (getattr(context, "prefix", "") or ""))
            continue
        path = getattr(route, "path", None)
        for method in sorted(getattr(route, "methods", None) or []):
            if method != "HEAD" and path is not None:
                yield method, prefix + path


def concrete(path: str) -> str:
    """The path with every `{parameter}` replaced by a plausible value."""
    return re.sub(r"\{[^}]+\}", "R-00001", path)


def refused(response: httpx.Response) -> bool:
    """401/403, or a redirect to the sign-in form."""
    if response.status_code in (401, 403):
        return True
    return response.status_code in (302, 303, 307) and response.headers.get("location", "").startswith("/login")


async def test_every_route_needs_a_session_except_the_allow_list(web: Web):
    inventory = sorted(set(walk(web.app.routes)))
    paths = {path for _, path in inventory}
    # The inventory really sees the routers (a broken walk would pass vacuously).
    assert {"/review", "/review/{review_id}/decide", "/review/audit", "/admin", "/metrics", "/login"} <= paths
    assert not {"/docs", "/redoc", "/openapi.json"} & paths, "interactive API docs must not be public"
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=web.app, client=REMOTE_CLIENT), base_url="http://t")
    web.clients.append(client)
    leaks = []
    for method, path in inventory:
        if (method, path) in PUBLIC:
            continue
        response = await client.request(method, concrete(path))
        if not refused(response):
            leaks.append(f"{method} {path} -> {response.status_code}")
    assert leaks == []
    for method, path in CHAINLIT_PROTECTED:
        response = await client.request(method, path)
        assert response.status_code == 401, f"{method} {path} -> {response.status_code}"


async def test_the_allow_list_is_current(web: Web):
    inventory = set(walk(web.app.routes))
    assert set(PUBLIC) <= inventory, f"allow-listed routes that no longer exist: {set(PUBLIC) - inventory}"


@pytest.mark.parametrize("path", ["/metrics", "/admin"])
async def test_monitoring_refuses_remote_non_admins(web: Web, path: str):
    from tests.web.conftest import login

    for username in (None, "staff", "reviewer"):
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=web.app, client=REMOTE_CLIENT), base_url="http://t"
        )
        web.clients.append(client)
        if username:
            assert (await login(client, username, web.accounts[username])).status_code == 303
        response = await client.get(path)
        assert refused(response), f"{username} got {path}: {response.status_code}"
        assert "gtm_requests_total" not in response.text and "p95" not in response.text


async def test_decisions_need_a_valid_csrf_token_from_this_session(web: Web):
    copilot = await web.copilot()
    escalated = await copilot.ask("Do you offer a white-label version of Lumio that resellers can rebrand?")
    assert escalated.escalated and escalated.review_id
    review_id = escalated.review_id
    reviewer = await web.login("reviewer")
    logout_token = form_token((await reviewer.get("/logout")).text)
    other = await web.login("admin")
    foreign = form_token((await other.get("/review")).text)
    for token in (None, "", "0" * 64, foreign, foreign.upper(), logout_token + "0"):
        data = {"action": "approve"} | ({"csrf_token": token} if token is not None else {})
        response = await reviewer.post(f"/review/{review_id}/decide", data=data)
        assert response.status_code == 403, (token, response.status_code)
    # A token in a header or the query string is not a form token either.
    response = await reviewer.post(
        f"/review/{review_id}/decide?csrf_token={logout_token}",
        data={"action": "approve"},
        headers={"X-CSRF-Token": logout_token},
    )
    assert response.status_code == 403
    assert [r["review_id"] for r in await copilot.pending_reviews()] == [review_id]
    assert await copilot.reviews.audit(review_id) == []


async def test_readyz_turns_ready_after_the_warm_up(web: Web):
    copilot = await web.copilot()
    await copilot.wait_warm()
    client = web.client()
    for _ in range(100):  # the readiness task runs right after the warm-up finishes
        response = await client.get("/readyz")
        if response.status_code == 200:
            break
        await asyncio.sleep(0.05)
    assert response.status_code == 200 and response.json() == {"status": "ready"}
