"""What happens when a model call fails: the seed's error hierarchy for LLM calls, with tenacity.

Every LLM call of the graph (the supervisor's structured routing, the agents' tool-choosing calls, the
answer-writing calls) goes through `ResilientChatOpenAI`, a `ChatOpenAI` whose `_agenerate`/`_astream`
retry. Because it *is* a `ChatOpenAI`, `bind_tools` and `with_structured_output` work unchanged.

* **transient** (rate limit, timeout, 5xx, connection reset, a stream cut before its first token, a
  body that is not JSON) → exponential backoff, min `retry_wait_min_s`, max `retry_wait_max_s`, at
  most `max_tool_attempts` attempts; a 429's `Retry-After` is honoured (wait = max(backoff,
  retry-after), capped at the maximum).
* **auth** (401, 403) → no retry; logged without secrets and an admin alert recorded.
* **fatal** (400, 404, anything else) → no retry.
* A stream cut *after* tokens arrived is not retried (the user already saw them): the answer keeps what
  arrived and ends with `CUT_NOTICE`.

When a call still fails, the model raises `LLMCallFailed`, whose `user_message` is the clear text the
nodes answer with (the supervisor falls back to the offline router instead). `interrupt()` and every
other `GraphBubbleUp` pass straight through: never retried, never wrapped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal, Protocol, TypeVar

from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langgraph.errors import GraphBubbleUp
from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential
from tenacity.wait import wait_base

log = logging.getLogger(__name__)

LLMErrorKind = Literal["transient", "auth", "fatal"]
"""The seed's classes as they apply to a model call (invalid tool input is handled by the tools path)."""

CallOutcome = Literal["ok", "retried_ok", "cut", "failed"]
"""How one model call ended: first try; after retries; stream cut after tokens (kept); gave up."""

CUT_NOTICE = "\n\n[The model's answer was cut off: the connection dropped. What arrived is shown above.]"
"""Appended to an answer whose stream broke after tokens had been shown."""

FALLBACK_MESSAGES: dict[LLMErrorKind, str] = {
    "transient": (
        "The language model did not respond (rate limit, timeout or server error) after {attempts} attempt(s), "
        "so I couldn't write a full answer. Please try again in a minute."
    ),
    "auth": "The language model refused our credentials, so I couldn't write an answer. An admin has been alerted.",
    "fatal": "The language model could not process this request, so I couldn't write an answer. Try rephrasing it.",
}
"""What the user reads when a model call fails for good, by error class."""

_TRANSIENT_NAMES = frozenset(
    {
        "RateLimitError",
        "APITimeoutError",
        "APIConnectionError",
        "InternalServerError",
        "ServiceUnavailableError",
        "APIResponseValidationError",
        "JSONDecodeError",
        "RemoteProtocolError",
        "ReadError",
        "ReadTimeout",
        "ConnectError",
        "ConnectTimeout",
        "WriteError",
        "PoolTimeout",
        "EmptyReply",
    }
)
_AUTH_NAMES = frozenset({"AuthenticationError", "PermissionDeniedError"})
_T = TypeVar("_T")


class EmptyReply(Exception):  # noqa: N818 - reads as what happened
    """The model finished without any text or tool call (transient: the next attempt usually has one)."""


def _names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _status(exc: BaseException) -> int | None:
    code = getattr(exc, "status_code", None)
    return code if isinstance(code, int) else None


def classify_llm_error(exc: BaseException) -> LLMErrorKind:
    """Map a model-call exception to the seed's classes.

    Transient: `openai.RateLimitError`, `APITimeoutError`, `APIConnectionError`, `InternalServerError`
    (any 5xx), transport errors of httpx (a reset or cut connection), a body that is not valid JSON,
    an empty reply (`EmptyReply`), `TimeoutError`/`ConnectionError`. Auth: `AuthenticationError`, `PermissionDeniedError` (401/403).
    Everything else (400 `BadRequestError`, 404, programming errors) is fatal.

    Args:
        exc: What the call raised.

    Returns:
        `"transient"`, `"auth"` or `"fatal"`.
    """
    names = _names(exc)
    if names & _AUTH_NAMES or _status(exc) in (401, 403):
        return "auth"
    if names & _TRANSIENT_NAMES or "TransportError" in names:
        return "transient"
    if isinstance(exc, TimeoutError | ConnectionError | json.JSONDecodeError):
        return "transient"
    status = _status(exc)
    if status is not None and (status >= 500 or status in (408, 409, 429)):
        return "transient"
    return "fatal"


def retry_after_seconds(exc: BaseException | None) -> float | None:
    """The server's `Retry-After` (or `retry-after-ms`) on a failed response, in seconds.

    Args:
        exc: The exception of a failed call (an `openai.APIStatusError` carries the response).

    Returns:
        The delay the server asked for, or `None` when it named none.
    """
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class wait_backoff_or_retry_after(wait_base):  # noqa: N801 - tenacity's naming for wait strategies
    """Exponential backoff, or the server's `Retry-After` when that is longer; never above `maximum`.

    The backoff is `minimum` × 2^(n−1) within [minimum, maximum] before attempt n + 1.
    """

    def __init__(self, minimum: float, maximum: float) -> None:
        """Back off from `minimum` to `maximum` seconds."""
        self.maximum = maximum
        self.backoff = wait_exponential(multiplier=minimum, min=minimum, max=maximum)

    def __call__(self, retry_state: RetryCallState) -> float:
        """Seconds to wait before the next attempt."""
        wait = float(self.backoff(retry_state))
        outcome = retry_state.outcome
        if outcome is not None and outcome.failed:
            after = retry_after_seconds(outcome.exception())
            if after is not None:
                wait = max(wait, after)
        return max(0.0, min(wait, self.maximum))


def is_retryable(exc: BaseException) -> bool:
    """Whether another attempt may help: transient failures only; never an interrupt or a cancellation."""
    if isinstance(exc, GraphBubbleUp) or not isinstance(exc, Exception):
        return False
    return classify_llm_error(exc) == "transient"


@dataclass(frozen=True)
class RetryPolicy:
    """The seed's retry policy for model calls (defaults: 3 attempts, waits from 2 s up to 10 s)."""

    attempts: int = 3
    """Attempts in all (the first one included)."""
    wait_min_s: float = 2.0
    """First backoff."""
    wait_max_s: float = 10.0
    """Longest wait, `Retry-After` included."""

    @classmethod
    def from_settings(cls, settings: Any) -> RetryPolicy:
        """The policy of `app.settings.Settings` (`max_tool_attempts`, `retry_wait_min_s`, `retry_wait_max_s`)."""
        return cls(
            attempts=settings.max_tool_attempts,
            wait_min_s=settings.retry_wait_min_s,
            wait_max_s=settings.retry_wait_max_s,
        )

    def _kwargs(self, before_sleep: Callable[[RetryCallState], Any] | None) -> dict[str, Any]:
        return {
            "stop": stop_after_attempt(self.attempts),
            "wait": wait_backoff_or_retry_after(self.wait_min_s, self.wait_max_s),
            "retry": retry_if_exception(is_retryable),
            "before_sleep": before_sleep,
            "reraise": True,
        }

    def aretrying(
        self,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        before_sleep: Callable[[RetryCallState], Any] | None = None,
    ) -> AsyncRetrying:
        """A tenacity `AsyncRetrying` for this policy (the last exception is re-raised when it gives up)."""
        return AsyncRetrying(sleep=sleep, **self._kwargs(before_sleep))

    def retrying(
        self,
        *,
        sleep: Callable[[float], None] = time.sleep,
        before_sleep: Callable[[RetryCallState], Any] | None = None,
    ) -> Retrying:
        """The synchronous twin of `aretrying`."""
        return Retrying(sleep=sleep, **self._kwargs(before_sleep))


class LLMCallFailed(Exception):  # noqa: N818 - reads as what happened
    """A model call failed for good (fatal, auth, or transient after every attempt)."""

    def __init__(self, agent: str, kind: LLMErrorKind, attempts: int, detail: str) -> None:
        """Record which agent's call failed, how, after how many attempts, and a one-line detail."""
        super().__init__(f"{agent} model call failed ({kind}) after {attempts} attempt(s): {detail}")
        self.agent = agent
        self.kind: LLMErrorKind = kind
        self.attempts = attempts
        self.detail = detail

    @property
    def user_message(self) -> str:
        """The clear message a user reads instead of an answer (never a stack trace)."""
        return FALLBACK_MESSAGES[self.kind].format(attempts=self.attempts)


def fallback_text(exc: LLMCallFailed, headlines: list[str] | None = None) -> str:
    """The degraded answer: the fallback message, plus what the tools did find (if anything).

    Args:
        exc: The failure.
        headlines: Headlines of tool results that succeeded.

    Returns:
        Text for the user.
    """
    lines = [exc.user_message]
    if headlines:
        lines += ["", "What the tools found:", *(f"- {h}" for h in headlines)]
    return "\n".join(lines)


class LLMObserver(Protocol):
    """Where model-call outcomes go (Prometheus metrics and the admin alert store in the app)."""

    def llm_call(self, agent: str, outcome: CallOutcome, error_kind: str) -> None:
        """Count one finished model call."""
        ...

    def llm_retry(self, agent: str, error_kind: str, wait_s: float) -> None:
        """Count one retry and the wait before it."""
        ...

    def auth_failure(self, agent: str, message: str) -> None:
        """Record an admin alert for refused credentials (blocking; called off the event loop)."""
        ...


class NullObserver:
    """Observes nothing (models built outside the app)."""

    def llm_call(self, agent: str, outcome: CallOutcome, error_kind: str) -> None:
        """Ignore."""

    def llm_retry(self, agent: str, error_kind: str, wait_s: float) -> None:
        """Ignore."""

    def auth_failure(self, agent: str, message: str) -> None:
        """Ignore."""


def invalid_tool_call_feedback(reply: BaseMessage) -> list[BaseMessage]:
    """Messages asking the model to correct its tool calls whose arguments were not valid JSON (once).

    The reply itself is followed by one tool message per invalid call naming the problem, which is
    what an OpenAI-compatible API expects after an assistant turn with tool calls.

    Args:
        reply: The model's reply holding `invalid_tool_calls`.

    Returns:
        `[reply, ToolMessage, ...]` to append to the conversation, or `[]` when nothing is invalid.
    """
    invalid = list(getattr(reply, "invalid_tool_calls", []) or [])
    if not invalid or not isinstance(reply, AIMessage):
        return []
    out: list[BaseMessage] = [reply]
    for i, call in enumerate(invalid):
        name = call.get("name") or "the tool"
        problem = call.get("error") or "the arguments are not valid JSON"
        out.append(
            ToolMessage(
                f"Error: your arguments for {name} could not be parsed ({problem}). "
                f"Call {name} again with a JSON object that matches its parameters.",
                tool_call_id=str(call.get("id") or f"invalid_{i}"),
                status="error",
            )
        )
    return out


def one_line(exc: BaseException) -> str:
    """A failure in a few words, without the server's message (which may echo a key): class and HTTP status."""
    status = _status(exc)
    name = type(exc).__name__
    return f"{name} (HTTP {status})" if status is not None else name
