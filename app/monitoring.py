"""Monitoring: one record per request, Prometheus metrics, aggregates against the seed's targets, alerts.

Every request that runs the graph (`Copilot.ask`, a reviewer's decision, an outbox decision) gets a
`RequestTrace` — a LangChain callback handler passed in the run's config, so it sees every model call
(including the `nostream` planning and drafting calls) and every tool call — and ends as one
`RequestRecord`: route, agents, tools, latency, tokens, cost from `PRICES`, models and outcome.

Records go to the `request_log` table of the business database (SQLAlchemy Core, written in a worker
thread) and to the process's Prometheus metrics (`process_metrics()`: a dedicated `CollectorRegistry`
created on first use, never at import). `Monitor.summary()` computes latency percentiles, the error
rate, today's cost against the daily budget and the success rate per agent, each next to the seed's
target; `Monitor.check_alerts()` raises the seed's alerts (error rate > 5 % over the last hour with at
least `ALERT_MIN_REQUESTS` requests; cost today > 80 % of the budget) into the `alerts` table, at most
once per kind per hour. Monitoring never breaks a request: every failure here is logged and dropped.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal
from uuid import UUID

import sqlalchemy as sa
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import LLMResult
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from app.settings import Settings

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from app.runtime import AskResult

log = logging.getLogger(__name__)

Outcome = Literal["ok", "escalated", "pending_approval", "declined", "degraded", "error"]
"""How a request ended: answered; escalated to a reviewer; waiting for outbox approval; refused by its tools as
asked (an unknown customer, a period with no data: the user was told why); answered by the error handler (or
with a failed report branch); raised."""

OUTCOMES: tuple[Outcome, ...] = ("ok", "escalated", "pending_approval", "declined", "degraded", "error")
"""Every outcome."""

FAILED_OUTCOMES: frozenset[str] = frozenset({"error", "degraded"})
"""Outcomes that count towards the error rate (`declined` does not: a typo in a customer id is not an outage)."""

RequestKind = Literal["ask", "review", "outbox"]
"""What started the run: a question, a reviewer's decision, an outbox decision."""

PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.00015, 0.0006),
    "gpt-4o": (0.0025, 0.01),
    "gpt-4-turbo": (0.01, 0.03),
    "gpt-3.5-turbo": (0.0005, 0.0015),
}
"""USD per 1K tokens, (input, output), by model name prefix (`gpt-4o-2024-08-06` is priced as `gpt-4o`).
Models not listed (the offline model `gtm-offline`, local models) cost 0."""

LATENCY_TARGETS_MS: dict[str, float] = {"p50": 2000.0, "p95": 5000.0, "p99": 10000.0}
"""Seed: p50 < 2 s, p95 < 5 s, p99 < 10 s."""
ERROR_RATE_TARGET = 0.01
"""Seed: error rate < 1 %."""
ERROR_RATE_ALERT = 0.05
"""Seed: alert when the error rate passes 5 %."""
BUDGET_ALERT_FRACTION = 0.8
"""Seed: alert when today's cost passes 80 % of the daily budget ($80 of $100)."""
AGENT_TARGETS: dict[str, float] = {"marketing": 0.98, "finance": 0.99, "insights": 0.95, "support": 0.97}
"""Seed: success rate per agent."""
DEFAULT_AGENT_TARGET = 0.95
"""Seed: success rate of any other agent."""
ALERT_WINDOW = timedelta(hours=1)
"""The error-rate alert looks at this much history..."""
ALERT_MIN_REQUESTS = 20
"""...and only when it holds at least this many requests."""
ALERT_CHECK_INTERVAL_S = 5.0
"""After a record is written, alerts are checked at most this often (per process)."""
OPEN_ALERT_AGE = timedelta(hours=24)
"""Alerts raised within this long are shown as open."""
LATENCY_BUCKETS_S = (0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 20.0, 30.0, 60.0, 120.0)
"""Histogram buckets in seconds (the seed's 2 s, 5 s and 10 s targets are bucket edges)."""

metadata = sa.MetaData()

request_log = sa.Table(
    "request_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False, index=True, comment="Naive UTC start of the request"),
    sa.Column("kind", sa.String(16), nullable=False, comment="ask | review | outbox"),
    sa.Column("thread_id", sa.String(128), nullable=False),
    sa.Column("user_id", sa.String(128), nullable=False),
    sa.Column("route", sa.String(64), nullable=True),
    sa.Column("agents", sa.JSON, nullable=False),
    sa.Column("failed_agents", sa.JSON, nullable=False),
    sa.Column("tools", sa.JSON, nullable=False, comment="[{name, ok}] in call order"),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("input_tokens", sa.Integer, nullable=False),
    sa.Column("output_tokens", sa.Integer, nullable=False),
    sa.Column("cost_usd", sa.Float, nullable=False),
    sa.Column("models", sa.JSON, nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("error", sa.Text, nullable=True),
)
"""One row per request."""

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(32), nullable=False, comment="error_rate | budget"),
    sa.Column("hour", sa.String(13), nullable=False, comment="UTC hour raised, YYYY-MM-DDTHH (dedup key)"),
    sa.Column("at", sa.DateTime, nullable=False, comment="Naive UTC"),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("threshold", sa.Float, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.UniqueConstraint("kind", "hour", name="uq_alerts_kind_hour"),
)
"""Alerts raised, at most one per kind per hour."""


# -- prices and percentiles ----------------------------------------------------------------------
def price_of(model: str) -> tuple[float, float]:
    """USD per 1K (input, output) tokens of `model` (longest matching prefix of `PRICES`; else free)."""
    name = model.lower().split("/")[-1]
    for prefix in sorted(PRICES, key=len, reverse=True):
        if name.startswith(prefix):
            return PRICES[prefix]
    return (0.0, 0.0)


def cost_usd(model: str, input_tokens: int, output_tokens: int) -> float:
    """What `input_tokens` in and `output_tokens` out cost on `model`, in USD."""
    price_in, price_out = price_of(model)
    return input_tokens / 1000 * price_in + output_tokens / 1000 * price_out


def percentile(values: Sequence[float], q: float) -> float | None:
    """The `q`-th percentile (0–100) by linear interpolation between closest ranks (NumPy's default).

    Returns:
        The percentile, or `None` for no values.
    """
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# -- the record ----------------------------------------------------------------------------------
@dataclass
class RequestRecord:
    """What one request did and cost."""

    at: datetime
    """Naive UTC time the request started."""
    kind: RequestKind
    """What started it."""
    thread_id: str
    """Conversation id."""
    user_id: str
    """Who asked (or decided)."""
    route: str | None
    """The supervisor's route."""
    agents: list[str]
    """Agents that worked on it."""
    failed_agents: list[str]
    """Agents whose part failed (error handler, failed report branch)."""
    tools: list[dict[str, Any]]
    """Tool calls in order: `{"name", "ok"}` (each attempt counts)."""
    latency_ms: float
    """Wall time from start to result."""
    input_tokens: int
    """Prompt tokens over every model call."""
    output_tokens: int
    """Completion tokens over every model call."""
    cost_usd: float
    """Cost from `PRICES`."""
    models: list[str]
    """Models called."""
    outcome: Outcome
    """How it ended."""
    error: str | None = None
    """One line, when it raised."""

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = asdict(self)
        data["at"] = self.at.isoformat(timespec="milliseconds")
        return data


@dataclass
class _Usage:
    input_tokens: int = 0
    output_tokens: int = 0


class RequestTrace(BaseCallbackHandler):
    """Collects one request's model usage and tool calls (as a callback) and its graph updates."""

    run_inline = True
    """Called in the event loop's thread, in order (cheap bookkeeping only)."""

    def __init__(self, kind: RequestKind, thread_id: str, user_id: str) -> None:
        """Start timing a request."""
        super().__init__()
        self.kind: RequestKind = kind
        self.thread_id = thread_id
        self.user_id = user_id
        self.at = _utcnow()
        self.started = time.perf_counter()
        self.usage: dict[str, _Usage] = {}
        self.tools: list[dict[str, Any]] = []
        self.failed_agents: set[str] = set()
        self.declined_agents: set[str] = set()
        """Agents whose tools refused the request as asked (not failures: see `Outcome`)."""
        self.error_handler = False
        self._models: dict[UUID, str] = {}
        self._tools: dict[UUID, str] = {}

    # -- callbacks
    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[Any]],
        *,
        run_id: UUID,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Remember which model this run calls."""
        params = kwargs.get("invocation_params") or {}
        name = params.get("model_name") or params.get("model") or (metadata or {}).get("ls_model_name")
        if name:
            self._models[run_id] = str(name)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        """Add the call's token usage (from the message's `usage_metadata`)."""
        fallback = self._models.pop(run_id, None)
        for generations in response.generations:
            for generation in generations:
                message = getattr(generation, "message", None)
                if message is None:
                    continue
                meta = getattr(message, "response_metadata", None) or {}
                model = str(meta.get("model_name") or meta.get("model") or fallback or "unknown")
                usage = getattr(message, "usage_metadata", None) or {}
                total = self.usage.setdefault(model, _Usage())
                total.input_tokens += int(usage.get("input_tokens") or 0)
                total.output_tokens += int(usage.get("output_tokens") or 0)

    def on_tool_start(self, serialized: dict[str, Any], input_str: str, *, run_id: UUID, **kwargs: Any) -> None:
        """Remember the tool's name."""
        self._tools[run_id] = str((serialized or {}).get("name") or kwargs.get("name") or "tool")

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """A tool call succeeded."""
        self.tools.append({"name": self._tools.pop(run_id, "tool"), "ok": True})

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A tool call failed."""
        self.tools.append({"name": self._tools.pop(run_id, "tool"), "ok": False})

    # -- graph updates
    def observe(self, update: Any) -> None:
        """Look at one `updates` chunk of the run: the error handler answering, agents' parts failing."""
        if not isinstance(update, dict):
            return
        for node, values in update.items():
            if node == "handle_error":
                self.error_handler = True
            if not isinstance(values, dict):
                continue
            results = values.get("results")
            if not isinstance(results, dict):
                continue
            for agent, value in results.items():
                if isinstance(value, dict) and value.get("ok") is False:
                    (self.declined_agents if value.get("declined") else self.failed_agents).add(str(agent))
            report = results.get("report")
            if isinstance(report, dict):
                self.failed_agents.update(str(a) for a in report.get("failed") or [])

    # -- the record
    def record(self, result: AskResult | None = None, error: BaseException | None = None) -> RequestRecord:
        """The finished request's record."""
        latency_ms = (time.perf_counter() - self.started) * 1000
        agents = list(result.agents) if result is not None else []
        if error is not None:
            outcome: Outcome = "error"
        elif self.failed_agents or (self.error_handler and not self.declined_agents):
            outcome = "degraded"
        elif self.declined_agents:
            outcome = "declined"
        elif result is not None and result.pending_approval:
            outcome = "pending_approval"
        elif result is not None and result.escalated and self.kind == "ask":
            outcome = "escalated"
        else:
            outcome = "ok"
        return RequestRecord(
            at=self.at,
            kind=self.kind,
            thread_id=self.thread_id,
            user_id=self.user_id,
            route=result.route if result is not None else None,
            agents=agents,
            failed_agents=sorted(self.failed_agents),
            tools=list(self.tools),
            latency_ms=round(latency_ms, 3),
            input_tokens=sum(u.input_tokens for u in self.usage.values()),
            output_tokens=sum(u.output_tokens for u in self.usage.values()),
            cost_usd=sum(cost_usd(m, u.input_tokens, u.output_tokens) for m, u in self.usage.items()),
            models=sorted(self.usage),
            outcome=outcome,
            error=None if error is None else (" ".join(str(error).split())[:300] or type(error).__name__),
        )


# -- Prometheus ----------------------------------------------------------------------------------
class Metrics:
    """The Prometheus metrics of one process, in their own registry."""

    def __init__(self) -> None:
        """Create the registry and the metrics."""
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry: CollectorRegistry = CollectorRegistry(auto_describe=True)
        self.latency = Histogram(
            "gtm_request_latency_seconds",
            "Latency of one request (ask or decision) by route.",
            ["route", "kind"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.requests = Counter(
            "gtm_requests", "Requests by route and outcome.", ["route", "kind", "outcome"], registry=self.registry
        )
        self.tokens = Counter("gtm_llm_tokens", "Model tokens by direction.", ["direction"], registry=self.registry)
        self.cost = Counter("gtm_llm_cost_usd", "Model cost in USD (price table).", registry=self.registry)
        self.agent_runs = Counter(
            "gtm_agent_runs", "Agent participations by result.", ["agent", "result"], registry=self.registry
        )
        self.tool_calls = Counter(
            "gtm_tool_calls", "Tool calls by tool and result.", ["tool", "result"], registry=self.registry
        )
        # -- cache (app.cache) ------------------------------------------------------------------
        self.cache_requests = Counter(
            "gtm_cache_requests",
            "Cache lookups by level (l1, l2, l3; compute = computed after a miss everywhere) and result.",
            ["level", "result"],
            registry=self.registry,
        )
        # -- end cache ---------------------------------------------------------------------------
        # -- model calls (graph.llm.resilience) -------------------------------------------------
        self.llm_calls = Counter(
            "gtm_llm_calls",
            "Model calls by agent, outcome (ok | retried_ok | cut | failed) and error class (none | transient | "
            "auth | fatal).",
            ["agent", "outcome", "error_kind"],
            registry=self.registry,
        )
        self.llm_retries = Counter(
            "gtm_llm_retries",
            "Model call retries by agent and error class.",
            ["agent", "error_kind"],
            registry=self.registry,
        )
        self.llm_retry_wait = Counter(
            "gtm_llm_retry_wait_seconds",
            "Seconds spent waiting before model call retries (backoff or Retry-After).",
            ["agent"],
            registry=self.registry,
        )
        # -- end model calls ---------------------------------------------------------------------

    def observe(self, record: RequestRecord) -> None:
        """Count one finished request."""
        route = record.route or "none"
        self.latency.labels(route=route, kind=record.kind).observe(record.latency_ms / 1000)
        self.requests.labels(route=route, kind=record.kind, outcome=record.outcome).inc()
        self.tokens.labels(direction="input").inc(record.input_tokens)
        self.tokens.labels(direction="output").inc(record.output_tokens)
        self.cost.inc(record.cost_usd)
        for agent in record.agents:
            ok = record.outcome != "error" and agent not in record.failed_agents
            self.agent_runs.labels(agent=agent, result="success" if ok else "failure").inc()
        for tool in record.tools:
            self.tool_calls.labels(tool=tool["name"], result="ok" if tool["ok"] else "failed").inc()

    def exposition(self) -> bytes:
        """The metrics in Prometheus text format."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry)


_metrics: Metrics | None = None
_metrics_lock = threading.Lock()


def process_metrics() -> Metrics:
    """This process's metrics (created on first use)."""
    global _metrics
    with _metrics_lock:
        if _metrics is None:
            _metrics = Metrics()
        return _metrics


# -- the monitor ---------------------------------------------------------------------------------
def _status_below(value: float | None, target: float) -> str:
    if value is None:
        return "no data"
    return "ok" if value < target else "breach"


class Monitor:
    """Writes request records and reads them back as the dashboard's figures and alerts."""

    def __init__(self, settings: Settings, engine: Engine | None = None, metrics: Metrics | None = None) -> None:
        """Use `engine` (default: the business database of `settings`, opened on first use)."""
        self.settings = settings
        self._engine = engine
        self._metrics = metrics
        self._ready = False
        self._lock = threading.Lock()
        self._last_check = 0.0

    @property
    def metrics(self) -> Metrics:
        """The Prometheus metrics these records feed."""
        return self._metrics or process_metrics()

    @property
    def engine(self) -> Engine:
        """The database engine, with the monitoring tables created (blocking on first use)."""
        with self._lock:
            if self._engine is None:
                from app.services import business_engine

                self._engine = business_engine(self.settings)
            if not self._ready:
                metadata.create_all(self._engine)
                self._ready = True
            return self._engine

    # -- recording
    def start(self, kind: RequestKind, thread_id: str, user_id: str) -> RequestTrace:
        """Start timing a request; pass the trace to the run, then `finish` it."""
        return RequestTrace(kind, thread_id, user_id)

    async def finish(
        self, trace: RequestTrace, result: AskResult | None = None, error: BaseException | None = None
    ) -> RequestRecord | None:
        """Record a finished request (metrics now, the row in a worker thread); never raises.

        Returns:
            The record, or `None` when monitoring itself failed (logged).
        """
        try:
            record = trace.record(result, error)
            self.metrics.observe(record)
            await asyncio.to_thread(self.write, record)
            return record
        except Exception:  # noqa: BLE001 - monitoring must never break a request
            log.exception("recording the request on thread %s failed", trace.thread_id)
            return None

    def write(self, record: RequestRecord) -> None:
        """Insert one record (blocking), then check the alerts if they were not checked recently."""
        row = asdict(record)
        with self.engine.begin() as conn:
            conn.execute(request_log.insert().values(**row))
        now = time.monotonic()
        if now - self._last_check >= ALERT_CHECK_INTERVAL_S:
            self._last_check = now
            self.check_alerts()

    # -- reading
    def records(self, since: datetime, until: datetime | None = None) -> list[RequestRecord]:
        """Records that started in [since, until), oldest first (blocking)."""
        query = sa.select(request_log).where(request_log.c.at >= since).order_by(request_log.c.at)
        if until is not None:
            query = query.where(request_log.c.at < until)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        names = {f for f in RequestRecord.__dataclass_fields__}
        return [RequestRecord(**{k: v for k, v in row.items() if k in names}) for row in rows]

    def cost_between(self, since: datetime, until: datetime) -> float:
        """Total cost of the requests started in [since, until) (blocking)."""
        query = sa.select(sa.func.coalesce(sa.func.sum(request_log.c.cost_usd), 0.0)).where(
            request_log.c.at >= since, request_log.c.at < until
        )
        with self.engine.connect() as conn:
            return float(conn.execute(query).scalar_one())

    def check_alerts(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Raise the seed's alerts that hold now and were not raised yet this hour (blocking).

        Returns:
            The alerts raised by this call.
        """
        now = now or _utcnow()
        raised: list[dict[str, Any]] = []
        failed = sa.case((request_log.c.outcome.in_(sorted(FAILED_OUTCOMES)), 1), else_=0)
        query = sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(failed), 0)).where(
            request_log.c.at >= now - ALERT_WINDOW, request_log.c.at < now + timedelta(seconds=1)
        )
        with self.engine.connect() as conn:
            total, failures = conn.execute(query).one()
        if total >= ALERT_MIN_REQUESTS:
            rate = int(failures) / int(total)
            if rate > ERROR_RATE_ALERT:
                message = (
                    f"error rate {rate:.1%} over the last hour ({total} requests) "
                    f"is above the {ERROR_RATE_ALERT:.0%} alert threshold"
                )
                raised += self._raise(now, "error_rate", rate, ERROR_RATE_ALERT, message)
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        spent = self.cost_between(day, day + timedelta(days=1))
        budget = self.settings.daily_budget_usd
        limit = budget * BUDGET_ALERT_FRACTION
        if spent > limit:
            message = (
                f"LLM cost today ${spent:,.2f} is above {BUDGET_ALERT_FRACTION:.0%} of the ${budget:,.2f} daily budget"
            )
            raised += self._raise(now, "budget", spent, limit, message)
        return raised

    def _raise(self, now: datetime, kind: str, value: float, threshold: float, message: str) -> list[dict[str, Any]]:
        row = {
            "kind": kind,
            "hour": now.strftime("%Y-%m-%dT%H"),
            "at": now,
            "value": value,
            "threshold": threshold,
            "message": message,
        }
        try:
            with self.engine.begin() as conn:
                exists = conn.execute(
                    sa.select(alerts.c.id).where(alerts.c.kind == kind, alerts.c.hour == row["hour"])
                ).first()
                if exists is not None:
                    return []
                conn.execute(alerts.insert().values(**row))
        except IntegrityError:  # another process raised it first
            return []
        log.warning("ALERT %s: %s", kind, message)
        return [row]

    def record_alert(self, kind: str, message: str, value: float = 1.0, threshold: float = 0.0) -> list[dict[str, Any]]:
        """Record an admin alert raised outside the seed's checks (e.g. `llm_auth`), once per kind per hour.

        Blocking; never raises (a failure is logged).

        Returns:
            The alert row, or `[]` when it was already raised this hour (or could not be written).
        """
        try:
            return self._raise(_utcnow(), kind, value, threshold, message)
        except Exception:  # noqa: BLE001 - monitoring must never break a request
            log.exception("recording the %s alert failed", kind)
            return []

    def open_alerts(self, now: datetime | None = None) -> list[dict[str, Any]]:
        """Alerts raised in the last `OPEN_ALERT_AGE`, newest first (blocking)."""
        since = (now or _utcnow()) - OPEN_ALERT_AGE
        query = sa.select(alerts).where(alerts.c.at >= since).order_by(alerts.c.at.desc(), alerts.c.id.desc())
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings().all()]

    def summary(self, window: timedelta = timedelta(hours=24), now: datetime | None = None) -> dict[str, Any]:
        """The dashboard's figures over the last `window`, each next to its target (blocking).

        Checks the alerts first, so the open alerts are current.
        """
        now = now or _utcnow()
        self.check_alerts(now)
        records = self.records(now - window, now + timedelta(seconds=1))
        latencies = [r.latency_ms for r in records]
        latency = {}
        for name, target in LATENCY_TARGETS_MS.items():
            value = percentile(latencies, float(name[1:]))
            latency[name] = {"ms": value, "target_ms": target, "status": _status_below(value, target)}
        failed = sum(r.outcome in FAILED_OUTCOMES for r in records)
        error_rate = failed / len(records) if records else None
        day = now.replace(hour=0, minute=0, second=0, microsecond=0)
        spent = self.cost_between(day, day + timedelta(days=1))
        budget = self.settings.daily_budget_usd
        cost_status = "alert" if spent > budget * BUDGET_ALERT_FRACTION else "ok"
        if spent > budget:
            cost_status = "over budget"
        return {
            "window_hours": window.total_seconds() / 3600,
            "generated_at": now.isoformat(timespec="seconds"),
            "requests": len(records),
            "outcomes": {o: sum(r.outcome == o for r in records) for o in OUTCOMES},
            "latency": latency,
            "error_rate": {
                "value": error_rate,
                "failed": failed,
                "target": ERROR_RATE_TARGET,
                "alert_threshold": ERROR_RATE_ALERT,
                "status": "no data"
                if error_rate is None
                else "alert"
                if error_rate > ERROR_RATE_ALERT
                else _status_below(error_rate, ERROR_RATE_TARGET),
            },
            "cost": {
                "today_usd": spent,
                "budget_usd": budget,
                "alert_usd": budget * BUDGET_ALERT_FRACTION,
                "fraction": spent / budget if budget else None,
                "status": cost_status,
                "tokens": {
                    "input": sum(r.input_tokens for r in records),
                    "output": sum(r.output_tokens for r in records),
                },
                "window_usd": float(sum(r.cost_usd for r in records)),
                "per_day": self._cost_per_day(day),
            },
            "agents": self._agent_success(records),
            "routes": self._routes(records),
            "alerts": [{**a, "at": a["at"].isoformat(timespec="seconds")} for a in self.open_alerts(now)],
        }

    def _cost_per_day(self, today: datetime, days: int = 7) -> list[dict[str, Any]]:
        start = today - timedelta(days=days - 1)
        totals = {(start + timedelta(days=i)).date().isoformat(): 0.0 for i in range(days)}
        counts = dict.fromkeys(totals, 0)
        for record in self.records(start, today + timedelta(days=1)):
            key = record.at.date().isoformat()
            totals[key] += record.cost_usd
            counts[key] += 1
        return [{"day": d, "cost_usd": totals[d], "requests": counts[d]} for d in totals]

    @staticmethod
    def _agent_success(records: list[RequestRecord]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        names = list(AGENT_TARGETS) + sorted({a for r in records for a in r.agents} - set(AGENT_TARGETS))
        for agent in names:
            runs = [r for r in records if agent in r.agents]
            ok = sum(r.outcome != "error" and agent not in r.failed_agents for r in runs)
            rate = ok / len(runs) if runs else None
            target = AGENT_TARGETS.get(agent, DEFAULT_AGENT_TARGET)
            status = "no data" if rate is None else "ok" if rate >= target else "breach"
            out[agent] = {"runs": len(runs), "succeeded": ok, "rate": rate, "target": target, "status": status}
        return out

    @staticmethod
    def _routes(records: list[RequestRecord]) -> list[dict[str, Any]]:
        by_route: dict[str, list[RequestRecord]] = {}
        for record in records:
            by_route.setdefault(record.route or "none", []).append(record)
        rows = []
        for route, items in sorted(by_route.items()):
            latencies = [r.latency_ms for r in items]
            rows.append(
                {
                    "route": route,
                    "requests": len(items),
                    "p50_ms": percentile(latencies, 50),
                    "p95_ms": percentile(latencies, 95),
                    "p99_ms": percentile(latencies, 99),
                    "failed": sum(r.outcome in FAILED_OUTCOMES for r in items),
                }
            )
        return rows

    async def asummary(self, window: timedelta = timedelta(hours=24)) -> dict[str, Any]:
        """`summary` in a worker thread."""
        return await asyncio.to_thread(self.summary, window)
