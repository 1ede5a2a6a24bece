"""`ResilientChatOpenAI` on its own against the fake server: sync calls, tools, structured output,
and interrupts raised during a call pass straight through."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.callbacks import AsyncCallbackHandler
from langchain_core.tools import tool
from langgraph.errors import GraphInterrupt
from langgraph.types import Interrupt
from pydantic import BaseModel

from app.settings import Settings
from graph.llm.factory import MonitoringObserver
from graph.llm.resilience import LLMCallFailed
from graph.llm.resilient_openai import ResilientChatOpenAI
from tests.fake_openai import FakeOpenAI, Fault
from tests.faults.conftest import MetricDelta


def model(server: FakeOpenAI, **extra: Any) -> ResilientChatOpenAI:
    return ResilientChatOpenAI(
        model="gpt-4o-mini",
        api_key="sk-test",
        base_url=server.base_url,
        timeout=1.0,
        max_retries=0,
        agent="finance",
        retry_attempts=3,
        retry_wait_min_s=0.01,
        retry_wait_max_s=0.05,
        **extra,
    ).with_observer(MonitoringObserver(Settings()))


class Route(BaseModel):
    route: str
    reason: str


@tool
def compute_metric(metric: str, period: str = "last quarter") -> str:
    """Compute a finance metric."""
    return f"{metric} {period}"


def test_sync_calls_retry_too(server: FakeOpenAI, metrics: MetricDelta):
    server.faults += [Fault("500"), Fault("malformed_json")]
    reply = model(server).invoke("hello")
    assert reply.content.startswith("According to the tool:")
    assert len(server.requests) == 3
    assert metrics("gtm_llm_calls_total", agent="finance", outcome="retried_ok", error_kind="transient") == 1
    assert metrics("gtm_llm_retries_total", agent="finance", error_kind="transient") == 2


async def test_bound_tools_and_structured_output_go_through_the_retries(server: FakeOpenAI):
    server.faults += [Fault("429", when="plan", retry_after=0), Fault("500", when="route")]
    reply = await model(server).bind_tools([compute_metric]).ainvoke("what was CAC?")
    assert reply.tool_calls[0]["name"] == "compute_metric" and reply.tool_calls[0]["args"]["metric"] == "cac"
    choice = await model(server).with_structured_output(Route).ainvoke("route this")
    assert choice == Route(route="finance", reason="a unit-economics metric")
    assert len(server.requests) == 4 and server.served == [("429", "plan"), ("500", "route")]


async def test_exhausted_retries_raise_llm_call_failed_with_a_clear_message(server: FakeOpenAI):
    server.faults += [Fault("500") for _ in range(3)]
    with pytest.raises(LLMCallFailed) as failed:
        await model(server).ainvoke("hello")
    assert failed.value.kind == "transient" and failed.value.attempts == 3
    assert "after 3 attempt(s)" in failed.value.user_message
    assert len(server.requests) == 3


class InterruptOnFirstToken(AsyncCallbackHandler):
    """Raises `GraphInterrupt` from inside the model call, as `interrupt()` would from a callback."""

    raise_error = True

    async def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
        raise GraphInterrupt((Interrupt(value={"type": "support_review"}, id="i-1"),))


async def test_an_interrupt_inside_a_streamed_call_is_neither_retried_nor_wrapped(
    server: FakeOpenAI, metrics: MetricDelta
):
    with pytest.raises(GraphInterrupt):
        async for _ in model(server).astream("hello", config={"callbacks": [InterruptOnFirstToken()]}):
            pass
    assert len(server.requests) == 1
    assert metrics.grown("gtm_llm_") == {}  # not counted as a failure, a retry or a cut
