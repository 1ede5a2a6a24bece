"""`gtm review edit --add-to-kb`: the command line adds a reviewed answer to the knowledge base, as the console does."""

from __future__ import annotations

import json

import pytest

from app.cli.main import main
from app.runtime import Copilot
from app.services import build_services
from app.settings import get_settings

from .conftest import UNANSWERABLE, make_settings


async def test_edit_with_add_to_kb_from_the_command_line_stops_the_question_escalating(
    tmp_path, web_seeded_db, fresh_kb, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    settings = make_settings(tmp_path, web_seeded_db, *fresh_kb)
    async with Copilot.open(settings, services=build_services(settings)) as copilot:
        asked = await copilot.ask(UNANSWERABLE, user_id="sam")
        twin = await copilot.ask(UNANSWERABLE, user_id="lee")  # the same question, waiting too
    assert asked.escalated and asked.review_id and twin.escalated
    for name, value in {
        "GTM_HOME": settings.home,
        "GTM_KB_DIR": settings.kb_dir,
        "GTM_DATABASE_URL": settings.database_url,
        "GTM_CHECKPOINT_URL": settings.checkpoint_url,
        "GTM_LLM_PROVIDER": "offline",
    }.items():
        monkeypatch.setenv(name, str(value))
    get_settings.cache_clear()
    edited = "No white-label edition today; resellers can join our partner programme."
    review_id = str(asked.review_id)
    assert await _run(["review", "edit", review_id, "--text", edited, "--add-to-kb", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["kb_document"].startswith("reviewed-answers/")
    written = settings.home / out["kb_document"]  # under the home, not in the source folder
    assert edited in written.read_text(encoding="utf-8") and not (fresh_kb[1] / "reviewed-answers").exists()
    assert out["also_answered"] == [twin.review_id]
    async with Copilot.open(settings, services=build_services(settings)) as copilot:
        audit = await copilot.reviews.audit(review_id)
    assert audit[-1]["kb_document"] == out["kb_document"]  # the audit log says it was added

    async with Copilot.open(settings, services=build_services(settings)) as copilot:
        again = await copilot.ask(UNANSWERABLE, user_id="kim")
        assert (await copilot.thread(twin.thread_id))["last_answer"] == edited
    assert not again.escalated and "partner programme" in again.answer, again.answer
    assert out["kb_document"] in again.citations
    get_settings.cache_clear()


async def _run(argv: list[str]) -> int:
    """`main` runs its own event loop: call it from a worker thread."""
    import asyncio

    return await asyncio.to_thread(main, argv)
