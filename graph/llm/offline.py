"""The offline model: a deterministic LangChain chat model that needs no key and no network.

It is a real, documented mode, not a stand-in for tests: it plans tool calls (choosing tools by
embedding similarity and filling arguments from the request) and writes answers from tool results
and retrieved passages with one data-to-text writer per prompt template (`writers.py`). It streams
its answers token by token and supports `bind_tools`. Every answer starts with `[offline model]`.

Nodes tell it which template a message was rendered from through the message's
`additional_kwargs` (`gtm_task`, `gtm_vars`); `ChatOpenAI` never sends those fields.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, ToolMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel

from graph.llm.planner import continues_thread, plan_follow_up, plan_tool_calls
from graph.llm.writers import OFFLINE_TAG, WRITERS, write_analysis
from graph.routing.decide import is_follow_up
from graph.routing.small_talk import small_talk
from graph.routing.text import normalize_request

_TOKEN = re.compile(r"\S+\s*|\s+")


def _approx_tokens(text: str) -> int:
    return max(1, len(text) // 4)


def _tool_spec(tool: dict[str, Any] | type | Callable[..., Any] | BaseTool) -> dict[str, Any]:
    """The OpenAI tool spec of `tool`, its parameters keeping the schema's own `x-` keys.

    `convert_to_openai_tool` rebuilds a tool's parameters from standard JSON-schema keys only, which drops
    the hints the offline model fills arguments with (`x-aliases` of an enum, `x-fanout`, `x-find`). A
    tool with a pydantic argument schema therefore gets that schema's own JSON schema as parameters.
    """
    spec = convert_to_openai_tool(tool)
    schema = getattr(tool, "args_schema", None)
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        spec["function"]["parameters"] = schema.model_json_schema()
    return spec


class OfflineChatModel(BaseChatModel):
    """Deterministic chat model for demos, tests and first runs (no API key, no network)."""

    agent: str = "assistant"
    """Which agent this instance serves (used in answers and metadata)."""
    bound_tools: list[dict[str, Any]] = []
    """OpenAI-format schemas of the tools bound with `bind_tools`."""
    latency_s: float = 0.0
    """Seconds waited before each answer (async calls only): simulates a hosted model's round trip in
    demos, durability tests and benchmarks (`GTM_OFFLINE_LATENCY_S`). Zero by default."""
    token_delay_s: float = 0.0
    """Seconds between two streamed chunks (async streaming only): a hosted model's pace, for demos and the
    browser tests (`GTM_OFFLINE_TOKEN_DELAY_S`). Zero by default: the whole answer at once."""

    @property
    def _llm_type(self) -> str:
        return "gtm-offline"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"agent": self.agent, "model_name": "gtm-offline"}

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Return a copy of the model that may call `tools`."""
        return self.model_copy(update={"bound_tools": [_tool_spec(t) for t in tools]})

    # -- the model's decision -------------------------------------------------------------------
    def _respond(self, messages: list[BaseMessage]) -> AIMessage:
        last_human = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=-1)
        human = messages[last_human] if last_human >= 0 else None
        after = messages[last_human + 1 :]
        task = human.additional_kwargs.get("gtm_task") if human is not None else None
        if task in WRITERS:
            values = dict(human.additional_kwargs.get("gtm_vars", {})) if human is not None else {}
            return self._text(WRITERS[task](values), task)
        tool_results = [m for m in after if isinstance(m, ToolMessage)]
        if self.bound_tools and human is not None and not tool_results:
            request = str(human.content)
            earlier = _thread_of(request, messages[:last_human])
            if earlier:  # "and the quarter before?": planned with the requests it follows
                follow_up = plan_follow_up(request, earlier, self.bound_tools)
                if follow_up.reply is not None:  # only a period, for a tool that takes none
                    return self._text(follow_up.reply, "follow_up")
                calls = follow_up.calls
            else:
                calls = plan_tool_calls(request, self.bound_tools)
            if calls:
                return AIMessage(
                    content="",
                    tool_calls=calls,
                    response_metadata={"model_name": "gtm-offline"},
                    usage_metadata=self._usage(messages, json.dumps([c["args"] for c in calls])),
                )
        if tool_results:
            payload = [self._parse(m.content) for m in tool_results]
            return self._text(write_analysis({"results_json": json.dumps(payload, default=str)}), "tool_results")
        return self._text(
            "I can help with marketing (campaigns, emails, channel analytics), finance (CAC, LTV, ROAS, "
            "forecasts, sheets), customer insights (RFM, churn, cohorts, lead scoring) and support questions "
            "about Lumio. What would you like to know?",
            "chat",
        )

    @staticmethod
    def _parse(content: Any) -> Any:
        if isinstance(content, str):
            try:
                return json.loads(content)
            except json.JSONDecodeError:
                return {"headline": content}
        return content

    def _usage(self, messages: list[BaseMessage], output: str) -> UsageMetadata:
        prompt = sum(_approx_tokens(str(m.content)) for m in messages)
        completion = _approx_tokens(output)
        return {"input_tokens": prompt, "output_tokens": completion, "total_tokens": prompt + completion}

    def _text(self, text: str, task: str) -> AIMessage:
        content = f"{OFFLINE_TAG} {text}"
        return AIMessage(
            content=content,
            response_metadata={"model_name": "gtm-offline", "task": task},
            usage_metadata={"input_tokens": 0, "output_tokens": _approx_tokens(content), "total_tokens": 0},
        )

    # -- LangChain plumbing ---------------------------------------------------------------------
    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._respond(messages))])

    def _chunks(self, message: AIMessage) -> Iterator[ChatGenerationChunk]:
        if message.tool_calls:
            chunk = AIMessageChunk(
                content="",
                tool_call_chunks=[
                    {
                        "name": c["name"],
                        "args": json.dumps(c["args"]),
                        "id": c["id"],
                        "index": i,
                        "type": "tool_call_chunk",
                    }
                    for i, c in enumerate(message.tool_calls)
                ],
                response_metadata=message.response_metadata,
                usage_metadata=message.usage_metadata,
            )
            yield ChatGenerationChunk(message=chunk)
            return
        tokens = _TOKEN.findall(str(message.content))
        for i, token in enumerate(tokens):
            last = i == len(tokens) - 1
            yield ChatGenerationChunk(
                message=AIMessageChunk(
                    content=token,
                    response_metadata=message.response_metadata if last else {},
                    usage_metadata=message.usage_metadata if last else None,
                )
            )

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for chunk in self._chunks(self._respond(messages)):
            if run_manager and isinstance(chunk.message.content, str) and chunk.message.content:
                run_manager.on_llm_new_token(chunk.message.content, chunk=chunk)
            yield chunk

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)
        message = await asyncio.to_thread(self._respond, messages)  # embeddings run off the event loop
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)
        message = await asyncio.to_thread(self._respond, messages)  # embeddings run off the event loop
        for index, chunk in enumerate(self._chunks(message)):
            if index and self.token_delay_s > 0:
                await asyncio.sleep(self.token_delay_s)
            if run_manager and isinstance(chunk.message.content, str) and chunk.message.content:
                await run_manager.on_llm_new_token(chunk.message.content, chunk=chunk)
            yield chunk


def _thread_of(request: str, before: Sequence[BaseMessage]) -> list[str]:
    """The earlier requests a follow-up fragment continues, oldest first: back to the last whole request.

    Empty when `request` is a whole request itself ("What was our CAC last quarter?"). Small talk in
    between ("thanks!", answered by the supervisor without an agent) is no part of the thread: "and in
    October?" after it still continues the request before it.
    """
    if not _continues(request):
        return []
    earlier: list[str] = []
    for i in range(len(before) - 1, -1, -1):
        message = before[i]
        if not isinstance(message, HumanMessage) or _small_talk_turn(message, before[i + 1 : i + 2]):
            continue
        text = str(message.content)
        earlier.insert(0, text)
        if not _continues(text):
            break
    return earlier


def _continues(text: str) -> bool:
    """Whether `text` continues the request before it.

    A follow-up fragment does, and so do only periods ("Q2 vs Q3") and a request that points back at the period
    just discussed ("... in the same period?").
    """
    return is_follow_up(normalize_request(text)) or continues_thread(text)


def _small_talk_turn(message: HumanMessage, reply: Sequence[BaseMessage]) -> bool:
    """Whether `message` was small talk: answered by the supervisor itself, or a greeting, thanks, help..."""
    answered_by_supervisor = bool(reply) and isinstance(reply[0], AIMessage) and reply[0].name == "supervisor"
    return answered_by_supervisor or small_talk(str(message.content)) is not None
