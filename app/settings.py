"""Application settings, read from the environment (and an optional `.env`) by pydantic-settings.

Environment variables only fill defaults: code that builds a graph, a store or a model takes a
`Settings` object explicitly, so tests and scripts can pass their own.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]
"""The project checkout (the editable install points here)."""

AgentName = Literal["marketing", "finance", "insights", "support"]


class ModelSettings(BaseModel):
    """One agent's model choice when an OpenAI-compatible server is configured."""

    model: str
    """Model name sent to the server (e.g. `gpt-4-turbo`, or a local model served by vLLM/Ollama)."""
    temperature: float = Field(ge=0.0, le=2.0)
    """Sampling temperature."""
    max_tokens: int = Field(gt=0)
    """Upper bound on the tokens of one answer."""


class Settings(BaseSettings):
    """Every setting of GTM Copilot. Environment names are `GTM_<FIELD>` unless noted.

    Values come from the environment, then from a `.env` file in the current directory (the environment
    wins), then from the defaults below.
    """

    model_config = SettingsConfigDict(
        env_prefix="GTM_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
        extra="ignore",
    )

    home: Path = REPO_ROOT / ".gtm"
    """All state: SQLite files, Chroma, uploads, the outbox (`GTM_HOME`); default `.gtm` in the checkout,
    whatever directory `gtm` runs from."""
    kb_dir: Path = REPO_ROOT / "knowledge_base"
    """Folder of markdown documents served by the Support agent (`GTM_KB_DIR`); default the checkout's
    `knowledge_base`."""
    reviewed_dir: Path | None = None
    """Reviewed answers added to the knowledge base, indexed with `kb_dir` as `reviewed-answers/<name>.md`
    (`GTM_REVIEWED_DIR`); default `$GTM_HOME/reviewed-answers`: state, like the rest of the home."""
    database_url: str | None = None
    """SQLAlchemy URL of the business database; default `sqlite:///$GTM_HOME/business.db`."""
    checkpoint_url: str | None = None
    """LangGraph checkpointer: a SQLite path or a `postgresql://` URL; default `$GTM_HOME/checkpoints.db`."""
    history_url: str | None = None
    """Async SQLAlchemy URL of the chat history (Chainlit threads); default `sqlite+aiosqlite:///$GTM_HOME/chainlit.db`."""
    redis_url: str | None = Field(default=None, validation_alias=AliasChoices("GTM_REDIS_URL", "REDIS_URL"))
    """Redis for the L2 cache; unset means in-process cache only."""
    chroma_url: str | None = None
    """A Chroma server (`http://host:port`); unset means embedded Chroma under `GTM_HOME`."""

    cache_enabled: bool = True
    """Cache analytics tool results (L1 in-process, L2 Redis when `REDIS_URL` is set, L3 the business database)."""
    cache_l1_ttl_s: float = Field(default=3600.0, gt=0)
    """Lifetime of an entry in the in-process L1 cache (TTL LRU)."""
    cache_l1_maxsize: int = Field(default=1024, ge=1)
    """Entries kept in the L1 cache; the least recently used go first."""
    cache_l2_ttl_s: float = Field(default=86400.0, gt=0)
    """Lifetime of an entry in Redis (L2) and in the database table `cache_entries` (L3)."""
    cache_l2_backoff_s: float = Field(default=5.0, ge=0)
    """After a Redis error, L2 is skipped for this long (circuit breaker) before a reconnect is tried."""
    llm_cache: Literal["off", "deterministic", "all"] = "deterministic"
    """LLM response cache: `deterministic` caches temperature-0 calls only (the supervisor's routing)."""

    llm_provider: Literal["auto", "offline", "openai"] = "auto"
    """`offline` = the built-in deterministic model; `openai` = ChatOpenAI; `auto` = openai iff a key is set."""
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_API_KEY", "GTM_OPENAI_API_KEY")
    )
    """Key for the OpenAI-compatible server (`OPENAI_API_KEY`)."""
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("OPENAI_BASE_URL", "GTM_OPENAI_BASE_URL")
    )
    """Base URL of any OpenAI-compatible server: vLLM, Ollama, llama.cpp (`OPENAI_BASE_URL`)."""
    offline_latency_s: float = Field(default=0.0, ge=0.0, le=60.0)
    """Seconds the offline model waits before each answer, to simulate a hosted model (demos, benchmarks)."""
    offline_token_delay_s: float = Field(default=0.0, ge=0.0, le=1.0)
    """Seconds between two streamed tokens of the offline model: a hosted model's reading pace for demos and
    the browser tests (the offline model otherwise writes a whole answer at once)."""
    llm_timeout_s: float = 60.0
    """Per-request timeout for the OpenAI-compatible client."""
    structured_output: Literal["json_schema", "function_calling", "json_mode"] = "json_schema"
    """How routing and the grounding check ask the OpenAI-compatible server for JSON: a `json_schema` response
    format (OpenAI, vLLM, Ollama, llama.cpp's `llama-server`) or a forced tool call, `function_calling`
    (servers without `json_schema`, such as llama-cpp-python's)."""

    supervisor: ModelSettings = ModelSettings(model="gpt-3.5-turbo", temperature=0.0, max_tokens=200)
    """Model for the supervisor's intent classification (structured output)."""
    marketing: ModelSettings = ModelSettings(model="gpt-4-turbo", temperature=0.7, max_tokens=2000)
    """Marketing agent model (seed matrix)."""
    finance: ModelSettings = ModelSettings(model="gpt-3.5-turbo", temperature=0.1, max_tokens=500)
    """Finance agent model (seed matrix)."""
    insights: ModelSettings = ModelSettings(model="gpt-4-turbo", temperature=0.3, max_tokens=1500)
    """Insights agent model (seed matrix)."""
    support: ModelSettings = ModelSettings(model="gpt-3.5-turbo", temperature=0.2, max_tokens=800)
    """Support agent model (seed matrix)."""

    confidence_threshold: float = Field(default=0.7, ge=0.0, le=1.0)
    """Support answers below this confidence escalate to a human reviewer."""
    grounding_weight: float = Field(default=0.6, ge=0.0, le=1.0)
    """With an OpenAI-compatible model, the weight of its grounding verdict in the support confidence
    (`graph.llm.grounding`); 0 turns the check off. Offline runs never use it."""
    max_tool_attempts: int = Field(default=3, ge=1, le=10)
    """Tool execution attempts before the error handler takes over."""
    tool_timeout_s: float = Field(default=30.0, gt=0)
    """Timeout of one tool call."""
    retry_wait_min_s: float = Field(default=2.0, ge=0)
    """Exponential backoff between tool attempts starts here (seed: min 2 s)..."""
    retry_wait_max_s: float = Field(default=10.0, ge=0)
    """...and is capped here (seed: max 10 s)."""
    branch_timeout_s: float = Field(default=60.0, gt=0)
    """Timeout for one agent's branch of a parallel report."""
    max_request_chars: int = Field(default=20_000, gt=0)
    """Longer requests are refused with a clear error."""
    demo_mode: bool = True
    """Seed demo data and create demo accounts on first start."""
    torch_threads: int = Field(default=1, ge=1)
    """CPU threads of the embedding model (`GTM_TORCH_THREADS`): one keeps a query's latency steady under load."""

    host: str = "127.0.0.1"
    """Address `gtm serve` listens on (`GTM_HOST`; `--host` wins)."""
    port: int = Field(default=8000, ge=1, le=65535)
    """Port `gtm serve` listens on (`GTM_PORT`; `--port` wins)."""
    debug: bool = False
    """Let the `gtm` CLI show the traceback of an unexpected failure instead of one line (`GTM_DEBUG`: any
    value but empty, `0`, `false`, `no` or `off`)."""
    daily_budget_usd: float = Field(default=100.0, gt=0)
    """Daily LLM budget in USD (seed: $100/day); an alert is raised past 80 % of it."""

    smtp_host: str = "127.0.0.1"
    """SMTP server that sends approved outbox emails (`GTM_SMTP_HOST`)."""
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    """Port of the SMTP server (1025: a local relay or development server; 587 with STARTTLS)."""
    smtp_from: str = "Lumio <hello@lumio.io>"
    """`From:` header of outgoing emails; its domain also names the deterministic Message-IDs."""
    smtp_starttls: bool = False
    """Upgrade the connection with STARTTLS before authenticating and sending."""
    smtp_user: str | None = None
    """SMTP login; unset means no authentication."""
    smtp_password: SecretStr | None = None
    """SMTP password (used with `smtp_user`)."""
    smtp_timeout_s: float = Field(default=10.0, gt=0)
    """Timeout of one SMTP connection or command."""

    @field_validator("debug", mode="before")
    @classmethod
    def _debug_flag(cls, value: Any) -> Any:
        """`GTM_DEBUG` is on for any value but empty, `0`, `false`, `no` or `off` (as when it was a bare flag)."""
        if isinstance(value, str):
            return value.strip().lower() not in ("", "0", "false", "no", "off")
        return value

    @field_validator("supervisor", "marketing", "finance", "insights", "support", mode="before")
    @classmethod
    def _keep_unset_model_fields(cls, value: Any, info: ValidationInfo) -> Any:
        """`GTM_SUPPORT__MODEL=x` alone changes the model and keeps the agent's temperature and max tokens."""
        if isinstance(value, dict) and info.field_name is not None:
            default = cls.model_fields[info.field_name].default
            return {**default.model_dump(), **value}
        return value

    @property
    def business_db_url(self) -> str:
        """The business database URL, defaulting to SQLite in `home`."""
        return self.database_url or f"sqlite:///{self.home / 'business.db'}"

    @property
    def history_db_url(self) -> str:
        """The chat history database URL, defaulting to SQLite (aiosqlite) in `home`."""
        return self.history_url or f"sqlite+aiosqlite:///{self.home / 'chainlit.db'}"

    @property
    def reviewed_path(self) -> Path:
        """Where reviewed answers are written: `reviewed_dir`, defaulting to `home/reviewed-answers`."""
        return Path(self.reviewed_dir or self.home / "reviewed-answers")

    def uploads_path(self, thread_id: str | None = None) -> Path:
        """Where sheets are kept: `home/uploads`, or one chat thread's folder under it.

        Sheets put in `home/uploads` by hand are read by every thread; a thread's attachments only by it.
        """
        base = self.home / "uploads"
        return base / f"thread-{hashlib.sha256(thread_id.encode()).hexdigest()[:16]}" if thread_id else base

    @property
    def checkpoint_path(self) -> str:
        """The checkpointer location: a SQLite file path or a Postgres URL."""
        return self.checkpoint_url or str(self.home / "checkpoints.db")

    @property
    def use_openai(self) -> bool:
        """Whether agents talk to an OpenAI-compatible server rather than the offline model."""
        if self.llm_provider == "openai":
            return True
        if self.llm_provider == "offline":
            return False
        return self.openai_api_key is not None

    def model_for(self, agent: AgentName | Literal["supervisor"]) -> ModelSettings:
        """The model settings of one agent."""
        value: ModelSettings = getattr(self, agent)
        return value

    def ensure_home(self) -> Path:
        """Create `home` (and its subfolders) if needed and return it."""
        for sub in ("", "uploads", "chroma", "outbox"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)
        return self.home


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings from the environment (cached; tests call `cache_clear()`)."""
    return Settings()
