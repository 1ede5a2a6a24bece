"""Sign-in, roles, sessions and CSRF on the reviewer console; the chat's password login uses the same accounts."""

from __future__ import annotations

import io
import os
import stat

import pytest

from app.cli.main import main as gtm

from .conftest import Web, form_token, login


async def test_demo_accounts_are_generated_once_and_private(web: Web):
    assert set(web.accounts) == {"staff", "reviewer", "admin"}
    assert len(set(web.accounts.values())) == 3 and all(len(p) >= 16 for p in web.accounts.values())
    for name in ("demo-accounts.txt", "secret.key"):
        assert stat.S_IMODE(os.stat(web.settings.home / name).st_mode) == 0o600
    from app.web.server import prepare_accounts

    assert await prepare_accounts(web.settings) is None  # accounts exist: nothing new, nothing printed


async def test_anonymous_is_sent_to_login(web: Web):
    client = web.client()
    response = await client.get("/review")
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/review"
    page = await client.get("/login?next=/review")
    assert page.status_code == 200 and "Sign in" in page.text and form_token(page.text)
    assert (await client.get("/review/audit")).status_code == 303


async def test_wrong_password_and_unknown_user_are_refused_alike(web: Web):
    client = web.client()
    for username, password in (("reviewer", "not-the-password"), ("nobody", "whatever-password")):
        response = await login(client, username, password)
        assert response.status_code == 401 and "Wrong username or password." in response.text
    assert "access_token" not in client.cookies


async def test_login_without_csrf_token_is_rejected(web: Web):
    client = web.client()
    await client.get("/login")
    response = await client.post("/login", data={"username": "reviewer", "password": web.accounts["reviewer"]})
    assert response.status_code == 403 and "expired" in response.text
    assert "access_token" not in client.cookies


async def test_staff_gets_a_clear_403(web: Web):
    client = await web.login("staff")
    response = await client.get("/review")
    assert response.status_code == 403
    assert "Reviewers only" in response.text and "staff role" in response.text
    assert (await client.get("/review/audit")).status_code == 403


async def test_reviewer_and_admin_get_in_and_logout_needs_csrf(web: Web):
    for name in ("reviewer", "admin"):
        client = await web.login(name)
        page = await client.get("/review")
        assert page.status_code == 200 and f"{name} <span" in page.text
    assert (await client.post("/logout", data={})).status_code == 403
    assert (await client.get("/review")).status_code == 200
    response = await client.post("/logout", data={"csrf_token": form_token(page.text)})
    assert response.status_code == 303 and "access_token" not in client.cookies
    assert (await client.get("/review")).status_code == 303


async def test_next_only_goes_to_local_paths(web: Web):
    client = web.client()
    response = await login(client, "reviewer", web.accounts["reviewer"], next_path="//evil.example/x")
    assert response.headers["location"] == "/review"
    staff = web.client()
    assert (await login(staff, "staff", web.accounts["staff"])).headers["location"] == "/chat"


async def test_tampered_or_foreign_session_cookie_is_anonymous(web: Web):
    client = await web.login("reviewer")
    token = client.cookies["access_token"]
    client.cookies.set("access_token", token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"))
    assert (await client.get("/review")).status_code == 303


async def test_disabled_account_loses_access_at_once(web: Web):
    client = await web.login("reviewer")
    assert (await client.get("/review")).status_code == 200
    from app.web.copilot_holder import get_user_store

    store = await get_user_store()
    store.set_disabled("reviewer", True)
    assert (await client.get("/review")).status_code == 303
    assert (await login(web.client(), "reviewer", web.accounts["reviewer"])).status_code == 401
    store.set_disabled("reviewer", False)
    assert (await client.get("/review")).status_code == 303  # enabling again does not revive old sessions
    assert (await login(web.client(), "reviewer", web.accounts["reviewer"])).status_code == 303


async def test_chat_login_uses_the_same_accounts_and_cookie(web: Web):
    from chainlit.config import config

    callback = config.code.password_auth_callback
    assert callback is not None
    user = await callback("reviewer", web.accounts["reviewer"])
    assert user is not None and user.identifier == "reviewer" and user.metadata["role"] == "reviewer"
    assert await callback("reviewer", "wrong-password") is None

    client = web.client()  # Chainlit's own login endpoint: its cookie opens the console too
    response = await client.post("/chat/login", data={"username": "admin", "password": web.accounts["admin"]})
    assert response.status_code == 200, response.text
    assert (await client.get("/review")).status_code == 200


async def test_gtm_users_add_then_login(web: Web, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setenv("GTM_HOME", str(web.settings.home))
    monkeypatch.setenv("GTM_DATABASE_URL", str(web.settings.database_url))
    from app.settings import get_settings

    get_settings.cache_clear()
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    assert gtm(["users", "add", "Rita@Lumio.io", "--role", "reviewer", "--password-stdin", "--json"]) == 0
    assert '"username": "rita@lumio.io"' in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("another password\n"))
    assert gtm(["users", "add", "rita@lumio.io", "--role", "staff", "--password-stdin"]) == 2
    assert "already exists" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert gtm(["users", "add", "sam", "--role", "staff", "--password-stdin"]) == 2
    assert "too short" in capsys.readouterr().err
    assert gtm(["users", "list", "--json"]) == 0
    listed = capsys.readouterr().out
    assert '"rita@lumio.io"' in listed and "password" not in listed and "$2b$" not in listed

    client = await web.login("rita@lumio.io", "correct horse battery")
    assert (await client.get("/review")).status_code == 200


def test_users_add_without_a_terminal_asks_for_password_stdin(monkeypatch: pytest.MonkeyPatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert gtm(["users", "add", "sam", "--role", "staff"]) == 2
    assert "--password-stdin" in capsys.readouterr().err


async def test_signing_out_or_a_new_password_ends_every_session_of_the_account(web: Web):
    browser = await web.login("reviewer")
    copied = web.client()  # the same cookie in another browser (copied, or a session left open elsewhere)
    copied.cookies.set("access_token", browser.cookies["access_token"])
    assert (await copied.get("/review")).status_code == 200
    assert (await copied.get("/chat/user")).json()["identifier"] == "reviewer"  # Chainlit's own endpoints
    page = await browser.get("/review")
    assert (await browser.post("/logout", data={"csrf_token": form_token(page.text)})).status_code == 303
    assert (await copied.get("/review")).status_code == 303  # sent to sign in: the session is over
    assert (await copied.get("/api/session")).status_code == 401
    assert (await copied.get("/chat/user")).status_code == 401  # the chat's history and socket too
    threads = await copied.post("/chat/project/threads", json={"pagination": {"first": 20}, "filter": {}})
    assert threads.status_code == 401
    again = await web.login("reviewer")  # at once, even within the same second
    assert (await again.get("/review")).status_code == 200

    from app.web.copilot_holder import get_user_store

    store = await get_user_store()
    store.set_password("reviewer", "a-new-password-123")
    assert (await again.get("/review")).status_code == 303
    assert (await (await web.login("reviewer", "a-new-password-123")).get("/review")).status_code == 200
    assert (await login(web.client(), "reviewer", web.accounts["reviewer"])).status_code == 401


async def test_a_users_table_of_an_earlier_version_gains_the_sessions_column(tmp_path):
    import sqlalchemy as sa

    from app.auth.users import UserStore

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'business.db'}")
    UserStore(engine).add("ana", "staff", "a-long-password-1")
    with engine.begin() as conn:  # as an earlier version made it
        conn.execute(sa.text("ALTER TABLE users DROP COLUMN sessions_after"))
    store = UserStore(engine)
    assert store.get("ana") is not None and store.end_sessions("ana").sessions_after is not None
