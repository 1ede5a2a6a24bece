"""Secrets never reach the logs: API key, SMTP password, account passwords, session secret and tokens.

The app runs with recognisable secret values, every logger at DEBUG and the process's own stdout and
stderr captured; then we sign in (right and wrong password), ask through the OpenAI-compatible path
(a local fake server, so the key is really sent), hit error paths, and search everything captured.
"""

from __future__ import annotations

import asyncio
import logging
import re

import pytest
from pydantic import SecretStr

from app.settings import Settings, get_settings
from tests.fake_openai import FakeOpenAI
from tests.web.conftest import form_token, login, make_settings

OPENAI_KEY = "sk-h4SECRETopenai0123456789abcdef"
SMTP_PASSWORD = "smtp-h4SECRET-pass-7788"
CHAINLIT_SECRET = "chainlit-h4SECRET-jwt-key-5566778899aabbcc"
ALICE_PASSWORD = "alice-h4SECRET-Pw-4321"
SECRETS = (OPENAI_KEY, SMTP_PASSWORD, CHAINLIT_SECRET, ALICE_PASSWORD)
DEMO_BLOCK = re.compile(r"Demo accounts created \(shown once.*?\n\n", re.DOTALL)
"""The one-time print of generated demo passwords at first start (by design, see the README)."""


def leaked(text: str, secrets: tuple[str, ...]) -> list[str]:
    """The secrets (or their first 12 characters) found in `text`."""
    return [s for s in secrets if s in text or s[:12] in text]


def test_settings_repr_hides_secrets(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("GTM_SMTP_USER", "mailer")
    monkeypatch.setenv("GTM_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("CHAINLIT_AUTH_SECRET", CHAINLIT_SECRET)
    get_settings.cache_clear()
    settings = get_settings()
    assert settings.openai_api_key is not None and settings.openai_api_key.get_secret_value() == OPENAI_KEY
    assert settings.smtp_password is not None and settings.smtp_password.get_secret_value() == SMTP_PASSWORD
    for text in (repr(settings), str(settings), settings.model_dump_json(), str(settings.model_dump())):
        assert leaked(text, SECRETS) == []


async def test_nothing_secret_is_logged(
    start_web,
    web_seeded_db,
    shared_kb,
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
):
    from app.web.copilot_holder import get_user_store

    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("GTM_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("CHAINLIT_AUTH_SECRET", CHAINLIT_SECRET)
    caplog.set_level(logging.DEBUG)
    fake = FakeOpenAI().start()
    try:
        base = make_settings(tmp_path, web_seeded_db, *shared_kb)
        settings: Settings = base.model_copy(
            update={
                "llm_provider": "openai",
                "openai_api_key": SecretStr(OPENAI_KEY),
                "openai_base_url": fake.base_url,
                "smtp_user": "mailer",
                "smtp_password": SecretStr(SMTP_PASSWORD),
            }
        )
        async with start_web(settings) as web:
            store = await get_user_store()
            await asyncio.to_thread(store.add, "alice", "reviewer", ALICE_PASSWORD)
            demo = tuple(web.accounts.values())
            wrong = web.client()
            assert (await login(wrong, "alice", ALICE_PASSWORD + "x")).status_code == 401
            alice = web.client()
            assert (await login(alice, "alice", ALICE_PASSWORD)).status_code == 303
            session = alice.cookies.get("access_token")
            assert session
            fake.route_json = {"route": "finance", "reason": "a unit-economics metric"}
            fake.tool_calls = {"compute_metric": {"metric": "cac", "period": "last quarter"}}
            api_token = await asyncio.to_thread(store.create_token, "alice")
            asked = await web.client().post(
                "/api/ask",
                json={"message": "What was our CAC last quarter?"},
                headers={"Authorization": f"Bearer {api_token}"},
            )
            assert asked.status_code == 200 and asked.json()["answer"], asked.text[:300]
            assert fake.requests  # the key really went over HTTP
            copilot = await web.copilot()
            token = form_token((await alice.get("/review")).text)
            missing = await alice.post("/review/R-99999/decide", data={"csrf_token": token, "action": "approve"})
            assert missing.status_code == 404
            fake.stop()  # the model server goes away: the error path logs, and must not log the key
            try:
                await copilot.ask("What is our runway?", user_id="alice")
            except Exception:  # noqa: BLE001 - an exception is a valid outcome; its logging is what we check
                logging.getLogger("test").exception("ask failed")
            await alice.get("/admin")
    finally:
        fake.stop()
    records = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.stack_info or ''}" for r in caplog.records)
    logging_text = caplog.text + records
    assert len(caplog.records) > 20  # DEBUG capture really worked
    assert "failed sign-in" in logging_text
    secrets = (*SECRETS, session, api_token, *demo)
    assert leaked(logging_text, secrets) == []
    out, err = capfd.readouterr()
    assert leaked(DEMO_BLOCK.sub("", out) + err, secrets) == []


async def test_a_password_typed_as_the_username_is_not_logged(web, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    client = web.client()
    assert (await login(client, ALICE_PASSWORD, ALICE_PASSWORD)).status_code == 401
    assert any("failed sign-in" in r.getMessage() for r in caplog.records)
    assert leaked(caplog.text, (ALICE_PASSWORD,)) == []
