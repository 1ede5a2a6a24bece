"""`ResilientChatOpenAI`: a `ChatOpenAI` whose calls follow the retry policy of `graph.llm.resilience`.

Kept apart from `graph.llm.resilience` so that the offline path never imports `langchain_openai`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_openai import ChatOpenAI
from langgraph.errors import GraphBubbleUp
from pydantic import PrivateAttr
from tenacity import RetryCallState

from graph.llm.resilience import (
    CUT_NOTICE,
    EmptyReply,
    LLMCallFailed,
    LLMObserver,
    NullObserver,
    RetryPolicy,
    classify_llm_error,
    one_line,
)

log = logging.getLogger(__name__)
_T = TypeVar("_T")
StructuredOutputMethod = Literal["json_schema", "function_calling", "json_mode"]
"""How a structured-output call asks the server for JSON (LangChain's `method`)."""


def _with_payload(result: ChatResult) -> ChatResult:
    """`result`, unless the model returned neither text nor a tool call (`EmptyReply`, retried)."""
    for generation in result.generations:
        message = generation.message
        if (
            generation.text.strip()
            or getattr(message, "tool_calls", None)
            or getattr(message, "invalid_tool_calls", None)
        ):
            return result
    raise EmptyReply("the model returned neither text nor a tool call")


def _is_openai(base_url: str) -> bool:
    """Whether `base_url` is OpenAI's own API."""
    return urlsplit(base_url).hostname == "api.openai.com"


def _has_payload(chunk: ChatGenerationChunk) -> bool:
    """Whether a streamed chunk carries something the user or the graph uses (text or a tool call)."""
    message = chunk.message
    return bool(chunk.text) or bool(getattr(message, "tool_call_chunks", None))


@dataclass
class _CallState:
    """What happened during one model call's attempts."""

    retries: int = 0
    """Retries so far."""
    last_kind: str = "none"
    """Error class of the last retried failure."""


class ResilientChatOpenAI(ChatOpenAI):
    """`ChatOpenAI` whose calls follow the seed's retry policy and degrade into `LLMCallFailed`.

    The client's own retries stay off (`max_retries=0`): every retry is one of ours, counted and bounded.
    """

    agent: str = "assistant"
    """Which agent's model this is (metrics label, log lines)."""
    retry_attempts: int = 3
    """Attempts per call."""
    retry_wait_min_s: float = 2.0
    """First backoff."""
    retry_wait_max_s: float = 10.0
    """Longest wait (`Retry-After` included)."""

    structured_output_method: StructuredOutputMethod = "json_schema"
    """How `with_structured_output` asks for JSON when the caller does not say (`GTM_STRUCTURED_OUTPUT`)."""

    _observer: LLMObserver = PrivateAttr(default_factory=NullObserver)

    def _get_request_payload(self, input_: Any, *, stop: list[str] | None = None, **kwargs: Any) -> dict[str, Any]:
        """The request body; servers other than OpenAI's also get the answer budget as the legacy `max_tokens`.

        `ChatOpenAI` sends only `max_completion_tokens`, which some OpenAI-compatible servers ignore
        (llama-cpp-python's generated 3,187 tokens against a budget of 150 here), so the budget would not hold.
        """
        payload: dict[str, Any] = super()._get_request_payload(input_, stop=stop, **kwargs)
        budget = payload.get("max_completion_tokens")
        if budget is not None and self.openai_api_base and not _is_openai(self.openai_api_base):
            payload.setdefault("max_tokens", budget)
        return payload

    def with_structured_output(
        self, schema: Any = None, *, method: StructuredOutputMethod | None = None, **kwargs: Any
    ) -> Runnable[LanguageModelInput, Any]:
        """`ChatOpenAI.with_structured_output`, with `method` defaulting to this model's `structured_output_method`.

        Servers differ: OpenAI, vLLM, Ollama and llama.cpp's `llama-server` take a `json_schema` response
        format; llama-cpp-python's server takes forced tool calls (`function_calling`) instead.
        """
        return super().with_structured_output(schema, method=method or self.structured_output_method, **kwargs)

    def with_observer(self, observer: LLMObserver) -> ResilientChatOpenAI:
        """Send this model's call outcomes to `observer`; returns the model itself."""
        self._observer = observer
        return self

    @property
    def policy(self) -> RetryPolicy:
        """This model's retry policy."""
        return RetryPolicy(self.retry_attempts, self.retry_wait_min_s, self.retry_wait_max_s)

    # -- bookkeeping
    def _before_sleep(self, state: _CallState) -> Callable[[RetryCallState], None]:
        def note(retry_state: RetryCallState) -> None:
            outcome = retry_state.outcome
            exc = outcome.exception() if outcome is not None else None
            kind = classify_llm_error(exc) if exc is not None else "transient"
            wait = retry_state.upcoming_sleep
            state.retries += 1
            state.last_kind = kind
            log.warning(
                "%s model call attempt %d failed (%s: %s); retrying in %.2fs",
                self.agent,
                retry_state.attempt_number,
                kind,
                one_line(exc) if exc is not None else "?",
                wait,
            )
            self._observer.llm_retry(self.agent, kind, wait)

        return note

    def _succeeded(self, state: _CallState) -> None:
        self._observer.llm_call(self.agent, "retried_ok" if state.retries else "ok", state.last_kind)

    def _failure(self, exc: Exception, state: _CallState) -> LLMCallFailed:
        kind = classify_llm_error(exc)
        detail = one_line(exc)
        self._observer.llm_call(self.agent, "failed", kind)
        log.error(
            "%s model call failed for good (%s) after %d attempt(s): %s", self.agent, kind, state.retries + 1, detail
        )
        return LLMCallFailed(self.agent, kind, state.retries + 1, detail)

    def _auth_message(self, failure: LLMCallFailed) -> str:
        where = self.openai_api_base or "the OpenAI API"
        return (
            f"LLM credentials refused for the {failure.agent} model ({self.model_name} at {where}): {failure.detail}. "
            "Check the API key and its permissions."
        )

    # -- async
    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        async def once() -> ChatResult:
            return _with_payload(
                await ChatOpenAI._agenerate(self, messages, stop=stop, run_manager=run_manager, **kwargs)
            )

        state = _CallState()
        result = await self._acall(once, state)
        self._succeeded(state)
        return result

    async def _acall(self, once: Callable[[], Awaitable[_T]], state: _CallState) -> _T:
        """Run `once` under the retry policy; a final failure becomes `LLMCallFailed` (and an alert for auth)."""
        try:
            result: _T = await self.policy.aretrying(before_sleep=self._before_sleep(state))(once)
        except GraphBubbleUp:
            raise
        except Exception as exc:
            failure = self._failure(exc, state)
            if failure.kind == "auth":
                await asyncio.to_thread(self._observer.auth_failure, self.agent, self._auth_message(failure))
            raise failure from exc
        return result

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        async def open_stream() -> tuple[AsyncIterator[ChatGenerationChunk], list[ChatGenerationChunk]]:
            """Start a stream and read it up to its first useful chunk (retried as a whole; an empty one too)."""
            stream = ChatOpenAI._astream(self, messages, stop=stop, run_manager=run_manager, **kwargs)
            head: list[ChatGenerationChunk] = []
            try:
                async for chunk in stream:
                    head.append(chunk)
                    if _has_payload(chunk):
                        return stream, head
            except BaseException:
                await stream.aclose()  # type: ignore[attr-defined]
                raise
            await stream.aclose()  # type: ignore[attr-defined]
            raise EmptyReply("the model's stream ended without any text or tool call")

        state = _CallState()
        stream, head = await self._acall(open_stream, state)
        try:
            for chunk in head:
                yield chunk
            async for chunk in stream:
                yield chunk
        except GraphBubbleUp:
            raise
        except Exception as exc:  # tokens were shown already: keep them, say the answer was cut
            kind = classify_llm_error(exc)
            log.warning("%s model stream cut after its first tokens (%s): %s", self.agent, kind, one_line(exc))
            self._observer.llm_call(self.agent, "cut", kind)
            notice = ChatGenerationChunk(
                message=AIMessageChunk(content=CUT_NOTICE, response_metadata={"gtm_cut": True})
            )
            if run_manager is not None:
                await run_manager.on_llm_new_token(CUT_NOTICE, chunk=notice)
            yield notice
        else:
            self._succeeded(state)
        finally:
            await stream.aclose()  # type: ignore[attr-defined]

    # -- sync (the CLI's `route` command and other synchronous callers)
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        state = _CallState()

        def once() -> ChatResult:
            return _with_payload(ChatOpenAI._generate(self, messages, stop=stop, run_manager=run_manager, **kwargs))

        try:
            result = self.policy.retrying(before_sleep=self._before_sleep(state))(once)
        except GraphBubbleUp:
            raise
        except Exception as exc:
            failure = self._failure(exc, state)
            if failure.kind == "auth":
                self._observer.auth_failure(self.agent, self._auth_message(failure))
            raise failure from exc
        self._succeeded(state)
        return result
