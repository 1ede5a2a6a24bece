"""Fuzzing the HTTP inputs of the real app: the login form, review decisions and the JSON API.

Hypothesis draws form fields, path parameters and JSON bodies (random text, unicode, control and
invisible characters, huge strings, wrong types, extra keys). Whatever comes in, the app answers
with a 2xx/3xx/4xx status — never a 500 or a traceback — and the JSON API answers `{"error": ...}`.

The app runs once for the module in Starlette's `TestClient` (its lifespan included), so the
synchronous Hypothesis tests can drive it.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from tests.web.conftest import make_settings, read_accounts

FUZZ = settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

texts = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=10),
    st.text(alphabet=st.characters(min_codepoint=0x80), min_size=1, max_size=30),
    st.sampled_from(["\u202a", "\u200b\u200d", "../../etc/passwd", "<script>alert(1)</script>", "%00", "R-00001"]),
    st.integers(min_value=20_001, max_value=60_000).map(lambda n: "y" * n),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | texts,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)


@dataclass
class Running:
    """The app in a TestClient, with a reviewer session, its CSRF token and an API token."""

    client: TestClient
    csrf: str
    api_token: str
    review_id: str


def _form_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]*)"', html)
    assert match
    return match.group(1)


@pytest.fixture(scope="module")
def running(
    tmp_path_factory: pytest.TempPathFactory, web_seeded_db: Path, shared_kb: tuple[Path, Path]
) -> Iterator[Running]:
    from app.web.copilot_holder import get_copilot, get_user_store
    from app.web.server import create_app

    saved_secret = os.environ.pop("CHAINLIT_AUTH_SECRET", None)
    patch = pytest.MonkeyPatch()
    patch.setattr("app.auth.users.BCRYPT_ROUNDS", 4)
    settings_ = make_settings(tmp_path_factory.mktemp("fuzz-http"), web_seeded_db, *shared_kb)
    try:
        app = create_app(settings_)
        with TestClient(app, base_url="http://testserver", follow_redirects=False) as client:
            accounts = read_accounts(settings_.home)
            page = client.get("/login")
            signed_in = client.post(
                "/login",
                data={"username": "reviewer", "password": accounts["reviewer"], "csrf_token": _form_token(page.text)},
            )
            assert signed_in.status_code == 303
            csrf = _form_token(client.get("/review").text)

            async def prepare() -> tuple[str, str]:
                store = await get_user_store()
                token = await asyncio.to_thread(store.create_token, "reviewer")
                copilot = await get_copilot()
                result = await copilot.ask("Do you offer a white-label version of Lumio that resellers can rebrand?")
                assert result.review_id
                return token, result.review_id

            token, review_id = client.portal.call(prepare)  # type: ignore[union-attr]
            yield Running(client=client, csrf=csrf, api_token=token, review_id=review_id)
    finally:
        patch.undo()
        os.environ.pop("CHAINLIT_AUTH_SECRET", None)
        if saved_secret is not None:
            os.environ["CHAINLIT_AUTH_SECRET"] = saved_secret


@contextmanager
def anonymous(client: TestClient) -> Iterator[TestClient]:
    """The module's client without its cookies (same app, same event loop), restored afterwards."""
    saved = client.cookies
    client.cookies = {}  # type: ignore[assignment]
    try:
        yield client
    finally:
        client.cookies = saved


def visible(text: str) -> bool:
    """Whether `text` has a character that is neither whitespace nor a control/format character."""
    return any(not c.isspace() and unicodedata.category(c)[0] != "C" for c in text)


def no_crash(response: Any, what: str) -> None:
    """The contract for any input: no server error, no traceback."""
    assert response.status_code < 500, (what[:200], response.status_code, response.text[:500])
    assert "Traceback" not in response.text, what[:200]


def api_error(response: Any, what: str) -> None:
    """JSON API errors are JSON with a message: `{"error": ...}` (FastAPI's own `{"detail": ...}` for
    unparseable bodies and unmatched paths)."""
    no_crash(response, what)
    if response.status_code >= 400:
        body = response.json()
        message = body.get("error") or body.get("detail") if isinstance(body, dict) else None
        assert isinstance(message, str) and message, (what[:200], body)


@FUZZ
@given(username=texts, password=texts, next_path=texts, csrf=st.one_of(st.none(), texts))
def test_login_form(running: Running, username, password, next_path, csrf):
    data = {"username": username, "password": password, "next": next_path}
    if csrf is not None:
        data["csrf_token"] = csrf
    with anonymous(running.client) as client:
        response = client.post("/login", data=data)
        no_crash(response, repr(data))
        assert response.status_code in (401, 403, 422), response.status_code  # never signed in by garbage
        no_crash(client.get("/login", params={"next": next_path}), next_path)


@FUZZ
@given(review_id=texts, action=texts, text=texts, note=texts, add_to_kb=st.sampled_from(["", "on", "true", "2", "x"]))
def test_review_decisions(running: Running, review_id, action, text, note, add_to_kb):
    data = {"csrf_token": running.csrf, "action": action, "text": text, "note": note, "add_to_kb": add_to_kb}
    path = f"/review/{quote(review_id, safe='')}/decide"
    response = running.client.post(path, data=data)
    no_crash(response, f"{path} {data}")
    assert response.status_code != 303 or action in ("approve", "edit", "reject")
    queue = running.client.get("/review", params={"done": review_id, "kb": text[:50]})
    no_crash(queue, review_id)


@settings(FUZZ, max_examples=20)
@given(
    body=st.one_of(
        st.fixed_dictionaries({"message": texts}, optional={"thread_id": st.one_of(st.none(), texts)}),
        st.dictionaries(st.sampled_from(["message", "thread_id", "extra"]), json_values, max_size=3),
        json_values,
    ),
    stream=st.booleans(),
)
def test_api_ask(running: Running, body, stream):
    # Valid questions run the whole graph: keep those few; invalid bodies are cheap.
    message = body.get("message") if isinstance(body, dict) else None
    # Known bug, pinned by test_api_ask_invisible_or_control_only_messages: nothing visible -> 500.
    assume(not (isinstance(message, str) and message.strip() and not visible(message)))
    if isinstance(message, str) and message.strip() and len(message) < 20_000:
        body = {**body, "message": message[:40]}
    headers = {"Authorization": f"Bearer {running.api_token}"}
    response = running.client.post("/api/ask", params={"stream": str(stream).lower()}, json=body, headers=headers)
    api_error(response, json.dumps(body)[:300])
    if response.status_code == 200 and stream:
        assert "event: done" in response.text or "event: error" in response.text
        assert '"status": 500' not in response.text, response.text[-500:]


@FUZZ
@given(
    raw=st.binary(max_size=300),
    content_type=st.sampled_from(["application/json", "text/plain", "", "multipart/form-data"]),
)
def test_api_ask_raw_bodies(running: Running, raw, content_type):
    headers = {"Authorization": f"Bearer {running.api_token}", "Content-Type": content_type}
    response = running.client.post("/api/ask", content=raw, headers=headers)
    api_error(response, repr(raw))
    assert response.status_code in (400, 413, 415, 422), response.status_code


@FUZZ
@given(thread_id=texts, review_id=texts, body=json_values, auth=st.one_of(st.none(), texts))
def test_api_reads_and_decisions(running: Running, thread_id, review_id, body, auth):
    headers = {"Authorization": f"Bearer {running.api_token}"}
    api_error(running.client.get(f"/api/threads/{quote(thread_id, safe='')}", headers=headers), thread_id)
    decided = running.client.post(f"/api/reviews/{quote(review_id, safe='')}/decide", json=body, headers=headers)
    api_error(decided, f"{review_id} {body!r}"[:300])
    if auth is not None:  # a garbage Authorization header is a 401, never a 500 (or a session)
        with anonymous(running.client) as client:
            try:
                response = client.get("/api/reviews", headers={"Authorization": auth})
            except UnicodeEncodeError:
                return  # not sendable as an HTTP header
        api_error(response, auth)
        assert response.status_code == 401


@pytest.mark.parametrize(
    "message",
    [
        "\u202a",
        "\u200b\u200d",
        "\x00",
        " \t\n ",
        "",
    ],
)
def test_api_ask_invisible_or_control_only_messages(running: Running, message: str):
    headers = {"Authorization": f"Bearer {running.api_token}"}
    response = running.client.post("/api/ask", json={"message": message}, headers=headers)
    api_error(response, repr(message))
    assert 400 <= response.status_code < 500, (message, response.status_code, response.text[:300])
