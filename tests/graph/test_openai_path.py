"""With an API key, every agent talks to an OpenAI-compatible server through `ChatOpenAI`, with its
own model, temperature and max tokens; routing uses structured output; answers stream."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from app.runtime import Copilot
from app.services import build_services
from app.settings import Settings
from tests.fake_openai import FakeOpenAI


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI().start()
    yield fake
    fake.stop()


def _openai_settings(settings: Settings, server: FakeOpenAI) -> Settings:
    return settings.model_copy(
        update={"llm_provider": "openai", "openai_api_key": "sk-test", "openai_base_url": server.base_url}
    )


async def test_finance_request_through_chatopenai(settings: Settings, server: FakeOpenAI):
    server.route_json = {"route": "finance", "reason": "a unit-economics metric"}
    server.tool_calls = {"compute_metric": {"metric": "cac", "period": "last quarter"}}
    s = _openai_settings(settings, server)
    tokens: list[str] = []
    async with Copilot.open(s, services=build_services(s), checkpointer=InMemorySaver()) as copilot:
        result = await copilot.ask("How much did each new customer cost us last quarter?", on_token=tokens.append)
        state = (await copilot.graph.aget_state({"configurable": {"thread_id": result.thread_id}})).values
    assert result.route == "finance"
    assert "unit-economics" in state["route_reason"]  # the supervisor model's structured choice, not the fallback
    assert result.answer.startswith("According to the tool: $") and "per customer" in result.answer
    assert "[offline model]" not in result.answer
    assert len(tokens) > 3 and "".join(tokens) == result.answer
    structured = [r for r in server.requests if r.get("response_format") or isinstance(r.get("tool_choice"), dict)]
    planning = [r for r in server.requests if r.get("tools") and r not in structured]
    answering = [r for r in server.requests if not r.get("tools") and not r.get("response_format")]
    assert len(structured) == 1 and structured[0]["model"] == s.supervisor.model
    assert planning and planning[0]["model"] == "gpt-3.5-turbo" and planning[0]["temperature"] == 0.1
    assert planning[0]["max_completion_tokens"] == 500
    assert planning[0]["max_tokens"] == 500  # also the legacy name, which some local servers read instead
    assert "compute_metric" in {t["function"]["name"] for t in planning[0]["tools"]}
    assert answering and answering[-1]["stream"] is True
    assert "Calculate CAC" in answering[-1]["messages"][-1]["content"]  # the seed's metric_calculation prompt


async def test_marketing_agent_uses_its_own_model_settings(settings: Settings, server: FakeOpenAI):
    server.route_json = {"route": "marketing", "reason": "channel analytics"}
    server.tool_calls = {"channel_performance": {"period": "last 30 days"}}
    s = _openai_settings(settings, server)
    async with Copilot.open(s, services=build_services(s), checkpointer=InMemorySaver()) as copilot:
        result = await copilot.ask("how are the channels doing")
    assert result.route == "marketing" and "last 30 days" in result.answer
    planning = [r for r in server.requests if r.get("tools") and not isinstance(r.get("tool_choice"), dict)]
    assert planning[0]["model"] == "gpt-4-turbo" and planning[0]["temperature"] == 0.7
    assert planning[0]["max_completion_tokens"] == 2000


async def test_invalid_structured_route_falls_back_to_the_classifier(settings: Settings, server: FakeOpenAI):
    server.route_json = {"route": "astrology", "reason": "?"}
    server.tool_calls = {"rfm_segments": {}}
    s = _openai_settings(settings, server)
    async with Copilot.open(s, services=build_services(s), checkpointer=InMemorySaver()) as copilot:
        result = await copilot.ask("Segment our customers with RFM")
    assert result.route == "insights"
    assert "Champions" in result.answer or "segments" in result.answer


def test_one_model_variable_keeps_the_agents_other_settings(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GTM_SUPPORT__MODEL", "llama-3.1-8b-instruct")
    monkeypatch.setenv("GTM_FINANCE__TEMPERATURE", "0.5")
    s = Settings()
    assert (s.support.model, s.support.temperature, s.support.max_tokens) == ("llama-3.1-8b-instruct", 0.2, 800)
    assert (s.finance.model, s.finance.temperature, s.finance.max_tokens) == ("gpt-3.5-turbo", 0.5, 500)
    monkeypatch.setenv("GTM_SUPPORT__TEMPERATURE", "9")
    with pytest.raises(ValueError, match="support.temperature"):
        Settings()


def test_openais_own_api_gets_only_max_completion_tokens():
    from langchain_core.messages import HumanMessage

    from graph.llm.resilient_openai import ResilientChatOpenAI

    def payload(base_url: str | None) -> dict:
        model = ResilientChatOpenAI(model="gpt-4o-mini", api_key="sk-test", base_url=base_url, max_completion_tokens=5)
        return model._get_request_payload([HumanMessage("hi")])

    for base_url in (None, "https://api.openai.com/v1"):
        assert payload(base_url)["max_completion_tokens"] == 5 and "max_tokens" not in payload(base_url)
    assert payload("http://127.0.0.1:8080/v1")["max_tokens"] == 5  # llama.cpp, vLLM, Ollama...


def test_the_chat_says_which_models_answer_and_where_without_credentials(monkeypatch: pytest.MonkeyPatch):
    from graph.llm.factory import describe_models

    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "GTM_LLM_PROVIDER"):
        monkeypatch.delenv(name, raising=False)
    assert describe_models(Settings()) == "offline model"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    assert describe_models(Settings()) == (
        "gpt-4-turbo (marketing, insights), gpt-3.5-turbo (finance, support, supervisor) at api.openai.com"
    )
    monkeypatch.setenv("OPENAI_BASE_URL", "http://user:pw@127.0.0.1:8765/v1")
    monkeypatch.setenv("GTM_SUPPORT__MODEL", "llama-3.1-8b-instruct")
    described = describe_models(Settings())
    assert described.endswith("llama-3.1-8b-instruct (support) at 127.0.0.1:8765")
    assert "pw" not in described and "sk-secret" not in described
