"""Which chat model each agent uses: `ChatOpenAI` with its own settings, or the offline model."""

from __future__ import annotations

from typing import Literal

from langchain_core.language_models import BaseChatModel

from app.settings import Settings
from graph.llm.offline import OfflineChatModel

ModelRole = Literal["marketing", "finance", "insights", "support", "supervisor"]


def make_chat_model(role: ModelRole, settings: Settings) -> BaseChatModel:
    """The chat model for one agent.

    With an OpenAI key (or `GTM_LLM_PROVIDER=openai`), a `ChatOpenAI` with the agent's model,
    temperature and max tokens, talking to `OPENAI_BASE_URL` when set (vLLM, Ollama, llama.cpp...).
    Otherwise the deterministic offline model.
    """
    if not settings.use_openai:
        return OfflineChatModel(agent=role)
    from langchain_openai import ChatOpenAI

    choice = settings.model_for(role)
    return ChatOpenAI(
        model=choice.model,
        temperature=choice.temperature,
        max_completion_tokens=choice.max_tokens,
        api_key=settings.openai_api_key,
        base_url=settings.openai_base_url,
        timeout=settings.llm_timeout_s,
        max_retries=0,  # retries are ours (graph retry path + tenacity), not hidden in the client
        stream_usage=True,
    )
