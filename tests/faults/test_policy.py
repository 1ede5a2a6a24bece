"""The LLM retry policy and error classes, without a server: computed waits are read, never slept."""

from __future__ import annotations

import json

import httpx2
import openai
import pytest
from langgraph.errors import GraphInterrupt
from langgraph.types import Interrupt

from app.settings import Settings
from graph.llm.resilience import (
    FALLBACK_MESSAGES,
    LLMCallFailed,
    RetryPolicy,
    classify_llm_error,
    fallback_text,
    retry_after_seconds,
)

URL = "http://127.0.0.1:9/v1/chat/completions"


def _response(status: int, headers: dict[str, str] | None = None) -> httpx2.Response:
    return httpx2.Response(status, headers=headers or {}, request=httpx2.Request("POST", URL))


def _status_error(cls: type[openai.APIStatusError], status: int, **headers: str) -> openai.APIStatusError:
    return cls("boom", response=_response(status, headers), body=None)


async def _waits(policy: RetryPolicy, error: Exception) -> tuple[list[float], int]:
    """Run a call that always fails with `error`; return the waits tenacity asked for and the calls made."""
    waits: list[float] = []
    calls = 0

    async def record(seconds: float) -> None:
        waits.append(seconds)

    async def fail() -> None:
        nonlocal calls
        calls += 1
        raise error

    with pytest.raises(type(error)):
        await policy.aretrying(sleep=record)(fail)
    return waits, calls


def test_default_policy_is_the_seeds():
    policy = RetryPolicy.from_settings(Settings())
    assert (policy.attempts, policy.wait_min_s, policy.wait_max_s) == (3, 2.0, 10.0)


async def test_default_backoff_waits_2_then_4_seconds_over_3_attempts():
    error = _status_error(openai.InternalServerError, 500)
    waits, calls = await _waits(RetryPolicy.from_settings(Settings()), error)
    assert calls == 3
    assert waits == [2.0, 4.0]


async def test_retry_after_of_7_seconds_waits_7_seconds():
    error = _status_error(openai.RateLimitError, 429, **{"retry-after": "7"})
    waits, calls = await _waits(RetryPolicy.from_settings(Settings()), error)
    assert calls == 3
    assert waits == [7.0, 7.0]


async def test_retry_after_is_capped_at_the_maximum():
    error = _status_error(openai.RateLimitError, 429, **{"retry-after": "30"})
    waits, _ = await _waits(RetryPolicy(attempts=5), error)
    assert waits == [10.0, 10.0, 10.0, 10.0]


async def test_longer_backoff_wins_over_a_short_retry_after():
    error = _status_error(openai.RateLimitError, 429, **{"retry-after-ms": "500"})
    waits, _ = await _waits(RetryPolicy(attempts=4), error)
    assert waits == [2.0, 4.0, 8.0]


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (_status_error(openai.RateLimitError, 429), "transient"),
        (_status_error(openai.InternalServerError, 503), "transient"),
        (openai.APITimeoutError(request=httpx2.Request("POST", URL)), "transient"),
        (openai.APIConnectionError(request=httpx2.Request("POST", URL)), "transient"),
        (httpx2.RemoteProtocolError("peer closed connection without sending complete message body"), "transient"),
        (json.JSONDecodeError("Expecting value", "{not json", 1), "transient"),
        (_status_error(openai.AuthenticationError, 401), "auth"),
        (_status_error(openai.PermissionDeniedError, 403), "auth"),
        (_status_error(openai.BadRequestError, 400), "fatal"),
        (_status_error(openai.NotFoundError, 404), "fatal"),
        (RuntimeError("a bug"), "fatal"),
    ],
)
def test_error_classes(error: Exception, kind: str):
    assert classify_llm_error(error) == kind


async def test_only_transient_errors_are_retried():
    for error in (_status_error(openai.AuthenticationError, 401), _status_error(openai.BadRequestError, 400)):
        waits, calls = await _waits(RetryPolicy(), error)
        assert (waits, calls) == ([], 1)


async def test_an_interrupt_passes_straight_through_the_policy():
    interrupt = GraphInterrupt((Interrupt(value={"type": "support_review"}, id="i-1"),))
    waits, calls = await _waits(RetryPolicy(), interrupt)
    assert (waits, calls) == ([], 1)


def test_retry_after_header_forms():
    assert retry_after_seconds(_status_error(openai.RateLimitError, 429, **{"retry-after": "3"})) == 3.0
    assert retry_after_seconds(_status_error(openai.RateLimitError, 429, **{"retry-after-ms": "250"})) == 0.25
    assert retry_after_seconds(_status_error(openai.RateLimitError, 429)) is None
    assert retry_after_seconds(RuntimeError("no response")) is None


def test_fallback_text_is_clear_and_keeps_tool_results():
    failure = LLMCallFailed("finance", "transient", 3, "InternalServerError (HTTP 500)")
    text = fallback_text(failure, ["CAC for last quarter: $412.50 per customer"])
    assert text.startswith(FALLBACK_MESSAGES["transient"].format(attempts=3))
    assert "after 3 attempt(s)" in text and "- CAC for last quarter: $412.50 per customer" in text
    assert "Traceback" not in text and "InternalServerError" not in text
