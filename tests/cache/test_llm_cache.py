"""The LLM response cache with `ChatOpenAI` over real HTTP to the local fake OpenAI server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from app.cache.llm import TieredLLMCache, llm_cache_for, llm_temperature
from app.cache.tiered import TieredCache
from app.data.db import get_engine
from tests.cache.conftest import RedisServer, make_settings
from tests.fake_openai import FakeOpenAI


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    try:
        yield server
    finally:
        server.stop()


def chat(server: FakeOpenAI, cache: object, temperature: float) -> ChatOpenAI:
    return ChatOpenAI(
        model="gpt-3.5-turbo",
        temperature=temperature,
        api_key="sk-test",  # type: ignore[arg-type]
        base_url=server.base_url,
        max_retries=0,
        cache=cache,  # type: ignore[arg-type]
    )


MESSAGES = [SystemMessage("You route requests."), HumanMessage('{"headline": "CAC is $412"}')]


class RouteChoice(BaseModel):
    route: str
    reason: str


async def test_a_repeated_deterministic_call_does_not_reach_the_server(
    fake_openai: FakeOpenAI, redis_server: RedisServer, tmp_path: Path
) -> None:
    engine = get_engine(f"sqlite:///{tmp_path / 'llm.db'}")
    cache = TieredLLMCache(TieredCache(engine=engine, redis_url=redis_server.url))
    model = chat(fake_openai, cache, 0.0)
    first = await model.ainvoke(MESSAGES)
    second = await model.ainvoke(MESSAGES)
    assert len(fake_openai.requests) == 1
    assert first.content == second.content == "According to the tool: CAC is $412. Steps were shown above."
    assert cache.cache.stats[("l1", "hit")] == 1

    # another process (empty L1) gets it from Redis; a different prompt still goes to the server
    other = chat(fake_openai, TieredLLMCache(TieredCache(engine=engine, redis_url=redis_server.url)), 0.0)
    assert (await other.ainvoke(MESSAGES)).content == first.content
    assert len(fake_openai.requests) == 1
    await other.ainvoke([HumanMessage("something else")])
    assert len(fake_openai.requests) == 2

    # sync path too
    assert model.invoke(MESSAGES).content == first.content
    assert len(fake_openai.requests) == 2


async def test_structured_output_routing_is_cached(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    cache = TieredLLMCache(TieredCache())
    router = chat(fake_openai, cache, 0.0).with_structured_output(RouteChoice)
    a = await router.ainvoke("what was CAC last quarter?")
    b = await router.ainvoke("what was CAC last quarter?")
    assert a == b == RouteChoice(route="finance", reason="asks for a finance metric")
    assert len(fake_openai.requests) == 1


async def test_sampling_calls_are_not_cached_by_default(fake_openai: FakeOpenAI) -> None:
    cache = TieredLLMCache(TieredCache())
    model = chat(fake_openai, cache, 0.7)
    await model.ainvoke(MESSAGES)
    await model.ainvoke(MESSAGES)
    assert len(fake_openai.requests) == 2
    everything = chat(fake_openai, TieredLLMCache(TieredCache(), policy="all"), 0.7)
    await everything.ainvoke(MESSAGES)
    await everything.ainvoke(MESSAGES)
    assert len(fake_openai.requests) == 3


async def test_clear_drops_llm_entries_only(fake_openai: FakeOpenAI) -> None:
    tiered = TieredCache()
    tiered.set("tool:x@transactions=1.a", {"kept": True})
    cache = TieredLLMCache(tiered)
    model = chat(fake_openai, cache, 0.0)
    await model.ainvoke(MESSAGES)
    await cache.aclear()
    await model.ainvoke(MESSAGES)
    assert len(fake_openai.requests) == 2
    assert tiered.get("tool:x@transactions=1.a") == {"kept": True}


def test_llm_cache_for_follows_the_settings(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'b.db'}"
    assert isinstance(llm_cache_for(make_settings(tmp_path, db)), TieredLLMCache)
    assert llm_cache_for(make_settings(tmp_path, db, llm_cache="off")) is None
    assert llm_cache_for(make_settings(tmp_path, db, cache_enabled=False)) is None
    cache = llm_cache_for(make_settings(tmp_path, db, llm_cache="all"))
    assert isinstance(cache, TieredLLMCache) and cache.policy == "all"


def test_temperature_is_read_from_the_llm_string() -> None:
    assert llm_temperature('{"kwargs": {"temperature": 0.0}}---[]') == 0.0
    assert llm_temperature("[('model', 'x'), ('temperature', 0.7)]") == 0.7
    assert llm_temperature("[('model', 'x')]") is None
