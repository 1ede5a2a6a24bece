"""Which chat model each agent uses: `ChatOpenAI` with its own settings, or the offline model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, get_args
from urllib.parse import urlsplit

from langchain_core.language_models import BaseChatModel

from app.settings import Settings
from graph.llm.offline import OfflineChatModel

if TYPE_CHECKING:
    from app.monitoring import Monitor
    from graph.llm.resilience import CallOutcome

ModelRole = Literal["marketing", "finance", "insights", "support", "supervisor"]

LLM_AUTH_ALERT = "llm_auth"
"""Kind of the admin alert raised when a model refuses our credentials."""


class MonitoringObserver:
    """Sends model-call outcomes to the process's Prometheus metrics and auth failures to the alert store."""

    def __init__(self, settings: Settings) -> None:
        """Alerts go to the business database of `settings` (opened on the first alert)."""
        self.settings = settings
        self._monitor: Monitor | None = None

    def llm_call(self, agent: str, outcome: CallOutcome, error_kind: str) -> None:
        """Count one finished model call (`gtm_llm_calls_total`)."""
        from app.monitoring import process_metrics

        process_metrics().llm_calls.labels(agent=agent, outcome=outcome, error_kind=error_kind).inc()

    def llm_retry(self, agent: str, error_kind: str, wait_s: float) -> None:
        """Count one retry (`gtm_llm_retries_total`) and its wait (`gtm_llm_retry_wait_seconds_total`)."""
        from app.monitoring import process_metrics

        metrics = process_metrics()
        metrics.llm_retries.labels(agent=agent, error_kind=error_kind).inc()
        metrics.llm_retry_wait.labels(agent=agent).inc(max(0.0, wait_s))

    def auth_failure(self, agent: str, message: str) -> None:
        """Record the `llm_auth` admin alert (blocking; once per hour)."""
        from app.monitoring import Monitor

        if self._monitor is None:
            self._monitor = Monitor(self.settings)
        self._monitor.record_alert(LLM_AUTH_ALERT, message)


def make_chat_model(role: ModelRole, settings: Settings) -> BaseChatModel:
    """The chat model for one agent.

    With an OpenAI key (or `GTM_LLM_PROVIDER=openai`), a `ChatOpenAI` with the agent's model,
    temperature and max tokens, talking to `OPENAI_BASE_URL` when set (vLLM, Ollama, llama.cpp...),
    whose calls retry and degrade as the seed says (`graph.llm.resilience`) and whose deterministic
    (temperature 0) answers are cached in `app.cache` (L1/L2/L3). Otherwise the
    deterministic offline model.
    """
    if not settings.use_openai:
        return OfflineChatModel(
            agent=role, latency_s=settings.offline_latency_s, token_delay_s=settings.offline_token_delay_s
        )
    from app.cache.llm import llm_cache_for
    from graph.llm.resilient_openai import ResilientChatOpenAI

    choice = settings.model_for(role)
    model = ResilientChatOpenAI(
        model=choice.model,
        temperature=choice.temperature,
        max_completion_tokens=choice.max_tokens,
        api_key=settings.openai_api_key,
        base_url=settings.openai_base_url,
        timeout=settings.llm_timeout_s,
        max_retries=0,  # retries are ours (graph.llm.resilience + the graph's tool retry path), not the client's
        stream_usage=True,
        # Calls offering tools (planning, structured output by function calling) show no tokens to anyone, and
        # some servers stream tool calls wrongly (llama-cpp-python repeats the name in every chunk): not streamed.
        disable_streaming="tool_calling",
        cache=llm_cache_for(settings),  # temperature-0 calls only, by default (GTM_LLM_CACHE)
        agent=role,
        retry_attempts=settings.max_tool_attempts,
        retry_wait_min_s=settings.retry_wait_min_s,
        retry_wait_max_s=settings.retry_wait_max_s,
        structured_output_method=settings.structured_output,
    )
    return model.with_observer(MonitoringObserver(settings))


def describe_models(settings: Settings) -> str:
    """Which models answer, for people: each model with its agents, and the server's host (never credentials).

    For example ``gpt-4-turbo (marketing, insights), gpt-3.5-turbo (finance, support, supervisor) at
    api.openai.com``; ``offline model`` without an OpenAI-compatible server.
    """
    if not settings.use_openai:
        return "offline model"
    agents: dict[str, list[str]] = {}
    for role in get_args(ModelRole):
        agents.setdefault(settings.model_for(role).model, []).append(role)
    parts = urlsplit(settings.openai_base_url or "https://api.openai.com/v1")
    host = f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
    return ", ".join(f"{model} ({', '.join(roles)})" for model, roles in agents.items()) + f" at {host}"
