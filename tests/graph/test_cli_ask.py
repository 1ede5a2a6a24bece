"""`gtm ask` in-process: streamed text, whole answers for support, JSON objects, follow-ups."""

from __future__ import annotations

import json

import pytest

from app.cli.main import main
from app.settings import Settings, get_settings


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("GTM_HOME", str(settings.home))
    monkeypatch.setenv("GTM_DATABASE_URL", str(settings.database_url))
    monkeypatch.setenv("GTM_CHECKPOINT_URL", str(settings.checkpoint_url))
    monkeypatch.setenv("GTM_KB_DIR", str(settings.kb_dir))
    get_settings.cache_clear()
    return settings


def test_ask_prints_support_answers_that_are_not_token_streamed(cli_env, capsys):
    assert main(["ask", "What is the API rate limit on the Starter plan?"]) == 0
    out = capsys.readouterr().out
    assert "1,000" in out and "Was this helpful?" in out and "route: support" in out


def test_ask_json_then_follow_up_on_the_same_thread(cli_env, capsys):
    assert main(["ask", "What was our CAC last quarter?", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["route"] == "finance" and first["agents"] == ["finance"] and "CAC" in first["answer"]
    assert set(first) >= {"answer", "route", "agents", "citations", "confidence", "escalated", "review_id", "thread_id"}
    assert main(["ask", "and LTV?", "--thread", first["thread_id"], "--json"]) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["thread_id"] == first["thread_id"] and "LTV" in second["answer"]
    assert main(["thread", "show", first["thread_id"], "--json"]) == 0
    thread = json.loads(capsys.readouterr().out)
    assert len(thread["messages"]) == 4 and thread["status"] == "complete"


def test_ask_on_an_unknown_thread_is_an_error_not_a_new_conversation(cli_env, capsys):
    assert main(["ask", "and LTV?", "--thread", "nope456", "--json"]) == 2
    err = capsys.readouterr().err
    assert "no thread with id 'nope456'" in err and "leave out --thread" in err
    assert main(["thread", "show", "nope456"]) == 2  # and none was created


def test_ask_prints_a_compound_reply_whole_with_both_answers(cli_env, capsys):
    assert main(["ask", "what's the refund policy, and what was our CAC last quarter?"]) == 0
    out = capsys.readouterr().out
    assert out.count("[offline model]") == 1  # printed once, as the whole reply, not the first part's stream
    assert out.index("**What's the refund policy**") < out.index("**What was our CAC last quarter?**")  # order asked
    assert "Formula" in out and "[refund-policy.md]" in out


def test_ask_loads_the_models_before_its_first_request_is_timed(cli_env, monkeypatch):
    """The models load once, before the request's monitoring record starts (not inside its latency)."""
    from app.runtime import Copilot

    order: list[str] = []
    load = Copilot._load_models

    async def counted_load(self):
        order.append("load")
        await load(self)

    monkeypatch.setattr(Copilot, "_load_models", counted_load)
    import app.monitoring as monitoring

    original_start = monitoring.Monitor.start

    def counted_start(self, *args, **kwargs):
        order.append("request")
        return original_start(self, *args, **kwargs)

    monkeypatch.setattr(monitoring.Monitor, "start", counted_start)
    assert main(["ask", "What was our CAC last quarter?", "--json"]) == 0
    assert order == ["load", "request"], order
