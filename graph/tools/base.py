"""What every tool shares: the error hierarchy and the structured output.

The error classes follow the seed's "Error Handling & Retry Strategy". Tools return `ToolResult`
dicts: a headline, facts, an optional table, the method, a recommendation, `data` with the raw
numbers, an optional plotly `chart`, and the prompt template (`template`, `prompt_vars`) the agent
should answer with.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict


class ToolFailure(Exception):
    """Base of tool errors; `kind` decides what the graph does next."""

    kind: Literal["transient", "invalid_input", "auth", "fatal"] = "fatal"


class TransientToolError(ToolFailure):
    """Rate limit, timeout, 5xx, connection reset: retry with exponential backoff."""

    kind = "transient"


class InvalidToolInput(ToolFailure):
    """Malformed or missing arguments: correct once (schema-guided) and retry."""

    kind = "invalid_input"


class ToolAuthError(ToolFailure):
    """Expired key, permission denied: skip the tool, log it, alert an admin."""

    kind = "auth"


class FatalToolError(ToolFailure):
    """The data or service is not there: no retry helps; answer with a clear fallback."""

    kind = "fatal"


class MissingDataError(FatalToolError):
    """The business data the tool needs is not there at all (an empty or misconfigured database).

    No retry helps, as for any fatal error, but it is the service's failure, not the request's: monitoring counts
    it towards the error rate, where an unknown id or a period with no data is only `declined`.
    """


class Table(TypedDict):
    """A small table for the answer."""

    columns: list[str]
    rows: list[list[Any]]


class ToolResult(TypedDict):
    """The structured output of a tool."""

    headline: str
    facts: list[str]
    table: NotRequired[Table | None]
    method: NotRequired[str | None]
    recommendation: NotRequired[str | None]
    data: NotRequired[dict[str, Any]]
    chart: NotRequired[dict[str, Any] | None]
    template: NotRequired[str]
    prompt_vars: NotRequired[dict[str, Any]]


def classify_exception(exc: BaseException) -> Literal["transient", "invalid_input", "auth", "fatal"]:
    """Map any exception to the seed's four error classes."""
    if isinstance(exc, ToolFailure):
        return exc.kind
    name = type(exc).__name__
    if isinstance(exc, TimeoutError | ConnectionError) or name in (
        "RateLimitError",
        "APITimeoutError",
        "APIConnectionError",
        "InternalServerError",
        "ServiceUnavailableError",
        "OperationalError",
    ):
        return "transient"
    if name in ("ValidationError", "ValueError", "TypeError", "KeyError") or isinstance(exc, ValueError):
        return "invalid_input"
    if name in ("AuthenticationError", "PermissionDeniedError", "PermissionError"):
        return "auth"
    return "fatal"


def to_jsonable(value: Any) -> Any:
    """Plain JSON types only (numpy scalars and arrays, dates, tuples converted), so results checkpoint."""
    import datetime as dt

    import numpy as np

    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def without_chart(result: Any) -> Any:
    """A tool result as the LLM should see it: no chart JSON, no prompt plumbing."""
    if isinstance(result, dict):
        return {k: v for k, v in result.items() if k not in ("chart", "prompt_vars", "template")}
    return result
