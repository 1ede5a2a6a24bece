"""Helpers the nodes share: reading the request, rendering prompts for the agents, writing answers."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.tools import BaseTool

from graph.context import Services
from graph.prompts import PromptFileName, render
from graph.tools.base import without_chart

HISTORY_TURNS = 6
"""How many earlier messages an agent sees for context."""


def last_human_text(messages: list[AnyMessage]) -> str:
    """Text of the last human message (empty if there is none)."""
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            return message.text if hasattr(message, "text") else str(message.content)
    return ""


def history(messages: list[AnyMessage]) -> list[BaseMessage]:
    """Earlier human/AI text turns (no tool plumbing), the newest few."""
    turns: list[BaseMessage] = [m for m in messages[:-1] if isinstance(m, HumanMessage | AIMessage) and m.content]
    return turns[-HISTORY_TURNS:]


def tools_listing(tools: list[BaseTool]) -> str:
    """The `{tools}` placeholder: one line per tool."""
    return "\n".join(f"- {t.name}: {t.description.splitlines()[0]}" for t in tools) or "- (none)"


@lru_cache(maxsize=8)
def _brand_voice(kb_dir: str) -> str:
    path = Path(kb_dir) / "brand-voice.md"
    if not path.exists():
        return "clear, warm, practical, data-backed, no hype"
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    body = [ln for ln in lines if not ln.startswith("#")]
    return " ".join(body[:6])[:600]


def system_message(
    file: PromptFileName, services: Services, agent_tools: list[BaseTool], **extra: Any
) -> SystemMessage:
    """The agent's rendered system prompt."""
    values: dict[str, Any] = {"tools": tools_listing(agent_tools)}
    if file == "marketing":
        values.setdefault("brand_voice", _brand_voice(str(services.settings.kb_dir)))
        values.setdefault("customer_segment", "the customer segments in the tool results")
    values.update(extra)
    return SystemMessage(render(file, "system_prompt", **values))


def task_message(task: str, values: dict[str, Any], data: dict[str, Any] | None = None) -> HumanMessage:
    """A rendered task prompt (`<file>.<prompt>`) that also tells the offline model which writer to use."""
    file, prompt = task.split(".", 1)
    text = render(file, prompt, **values)  # type: ignore[arg-type]
    return HumanMessage(text, additional_kwargs={"gtm_task": task, "gtm_vars": {**values, **(data or {})}})


def results_json(results: list[Any]) -> str:
    """Tool results as the LLM sees them (charts and prompt plumbing removed)."""
    return json.dumps([without_chart(r) for r in results], default=str, indent=1)


def text_of(message: BaseMessage) -> str:
    """The text content of a model message."""
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
