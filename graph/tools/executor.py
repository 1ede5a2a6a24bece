"""Running and checking tool calls.

Shared by the graph's ToolExecution/ResultValidation nodes, the parallel report's branches and the
win-back pipeline.

Retries: a failed call is tried again (at most `max_tool_attempts` times in all) only when its failure is
worth another attempt (`RETRYABLE`), after an exponential backoff (`backoff_seconds`, bounded by
`retry_wait_min_s` and `retry_wait_max_s`): the graph's Retry node waits it, and `call_with_retries` waits
the same schedule outside the graph.

Timeouts of tools that write: a timed-out call is abandoned, not stopped (`asyncio.wait_for` cannot stop the
worker thread the tool runs in), so the write may still happen after the timeout. Retrying it would write
twice (three identical tickets from one slow insert), so a tool marked `writes` (`make_tool(...,
writes=...)`: `create_ticket`, `update_ticket`) fails at once on a timeout, with a `fatal` error that says
what to check, instead of being retried. Other failures of such a tool are raised by the tool itself, after
its transaction rolled back, and are retried as usual.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from langchain_core.tools import BaseTool
from pydantic import BaseModel, ValidationError

from app.settings import get_settings
from graph.state import AgentName, ToolCallRecord
from graph.tools.base import FatalToolError, InvalidToolInput, MissingDataError, classify_exception, to_jsonable

RETRYABLE = frozenset({"transient", "invalid_input", "invalid_result"})
"""Failure kinds worth another attempt."""
NOT_GIVEN_ERRORS = frozenset({"missing", "extra_forbidden", "missing_argument", "unexpected_keyword_argument"})
"""Schema errors about which arguments a call has, not about a value the request gave: how a model calls a tool."""


def refuses_input(exc: BaseException) -> bool:
    """Whether a tool's failure is its refusal of the request's input (`declined`), not a failure of the service.

    The user is told why and can fix it ("Q5 2026", "03/04/2026", an unknown customer); monitoring does not count
    it towards the error rate. So are: `FatalToolError` and `InvalidToolInput` raised by the tool (except
    `MissingDataError`: the service has no data at all); a schema `ValidationError` of a value given ("months:
    less than or equal to 24"), but not one of an argument missing or of the wrong JSON type (the model's call);
    and a `ValueError` raised while the tool read a period phrase (`ToolDeps.period`: "there is no Q5").
    """
    if isinstance(exc, MissingDataError):
        return False
    if isinstance(exc, FatalToolError | InvalidToolInput):
        return True
    if isinstance(exc, ValidationError):
        errors = exc.errors()
        return bool(errors) and all(
            e["type"] not in NOT_GIVEN_ERRORS and not str(e["type"]).endswith("_type") for e in errors
        )
    if isinstance(exc, ValueError):
        return _raised_reading_arguments(exc)
    return False


def _raised_reading_arguments(exc: BaseException) -> bool:
    """Whether `exc` was raised while a tool parsed an argument the request gave (`ToolDeps.period`)."""
    from graph.tools.deps import ToolDeps

    readers = {ToolDeps.period.__code__}
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code in readers:
            return True
        tb = tb.tb_next
    return False


def new_record(agent: AgentName, call: dict[str, Any]) -> ToolCallRecord:
    """A pending record for a model's tool call."""
    return ToolCallRecord(
        id=str(call.get("id") or call["name"]),
        agent=agent,
        name=str(call["name"]),
        args=storable(dict(call.get("args") or {})),
        ok=False,
        result=None,
        error=None,
        error_kind=None,
        attempts=0,
        corrected=False,
    )


INT64 = 2**63 - 1


def storable(value: Any) -> Any:
    """`value` with integers beyond 64 bits as strings, so the checkpointer can save the call.

    msgpack refuses such integers. The tool's argument schema still parses the string back, and the tool
    says what is wrong with such a number ("no ticket #…").
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and not -INT64 - 1 <= value <= INT64:
        return str(value)
    if isinstance(value, dict):
        return {k: storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


def _validation_message(exc: ValidationError, schema: type[BaseModel] | None = None) -> str:
    """The first errors, each naming its field.

    A missing field is said with what it is: "ticket_id: not given (Ticket number)".
    """
    fields = schema.model_fields if schema is not None else {}
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"]) or "arguments"
        if err["type"] == "missing":
            described = fields.get(str(err["loc"][0])) if err["loc"] else None
            about = f" ({described.description})" if described is not None and described.description else ""
            parts.append(f"{where}: not given{about}")
        else:
            parts.append(f"{where}: {err['msg']}")
    return "invalid input: " + "; ".join(parts)


def check_result(result: Any) -> str | None:
    """Why a tool result is unusable, or `None` when it is valid.

    A valid result is a dict with a non-empty headline whose numbers are all finite.
    """
    if not isinstance(result, dict):
        return f"expected a structured result, got {type(result).__name__}"
    if not str(result.get("headline", "")).strip():
        return "the result has no headline"

    def finite(value: Any) -> bool:
        if isinstance(value, float):
            return math.isfinite(value)
        if isinstance(value, dict):
            return all(finite(v) for v in value.values())
        if isinstance(value, list | tuple):
            return all(finite(v) for v in value)
        return True

    if not finite(result.get("data", {})):
        return "the result contains non-finite numbers (NaN or infinity)"
    return None


async def run_call(tool: BaseTool, record: ToolCallRecord, timeout_s: float) -> ToolCallRecord:
    """Run one tool call (validating its arguments first) and return the updated record."""
    out = ToolCallRecord(**{**record, "attempts": record["attempts"] + 1, "declined": False})
    schema = tool.args_schema
    try:
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            args = schema.model_validate(record["args"]).model_dump(exclude_none=True)
        else:
            args = record["args"]
        result = await asyncio.wait_for(tool.ainvoke(args), timeout=timeout_s)
    except ValidationError as exc:
        model = schema if isinstance(schema, type) and issubclass(schema, BaseModel) else None
        return {
            **out,
            "ok": False,
            "result": None,
            "error": _validation_message(exc, model),
            "error_kind": "invalid_input",
            "declined": refuses_input(exc),
        }
    except TimeoutError:
        writes = (tool.metadata or {}).get("writes")
        if writes:  # the write may still complete in its worker thread: another attempt could write twice
            return {
                **out,
                "ok": False,
                "result": None,
                "error": f"{writes} (no answer within {timeout_s:g}s; not retried, so it cannot happen twice)",
                "error_kind": "fatal",
            }
        return {
            **out,
            "ok": False,
            "result": None,
            "error": f"timed out after {timeout_s:g}s",
            "error_kind": "transient",
        }
    except Exception as exc:  # noqa: BLE001 - every failure is classified, none escapes the graph
        return {
            **out,
            "ok": False,
            "result": None,
            "error": _one_line(exc),
            "error_kind": classify_exception(exc),
            "declined": refuses_input(exc),
        }
    result = to_jsonable(result)
    problem = check_result(result)
    if problem:
        return {**out, "ok": False, "result": None, "error": problem, "error_kind": "invalid_result"}
    return {**out, "ok": True, "result": result, "error": None, "error_kind": None}


def correct_arguments(tool: BaseTool, record: ToolCallRecord) -> dict[str, Any]:
    """Schema-guided correction of invalid arguments: drop the fields that fail and let defaults apply."""
    schema = tool.args_schema
    args = dict(record["args"])
    if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        return args
    try:
        schema.model_validate(args)
        return args
    except ValidationError as exc:
        bad = {str(err["loc"][0]) for err in exc.errors() if err["loc"]}
        return {k: v for k, v in args.items() if k not in bad}


def backoff_seconds(attempt: int, minimum: float, maximum: float) -> float:
    """Exponential backoff after `attempt` failed attempts: minimum × 2^(attempt − 1), capped at maximum.

    With the seed's min 2 s / max 10 s: 2 s, 4 s, 8 s, 10 s...
    """
    if maximum <= 0:
        return 0.0
    return float(min(maximum, minimum * 2 ** max(0, attempt - 1)))


def retry_waits(tool: BaseTool) -> tuple[float, float]:
    """The backoff bounds (`retry_wait_min_s`, `retry_wait_max_s`) of the settings `tool` was built with.

    Tools made by `graph.tools.deps.make_tool` carry them in their metadata; any other tool uses the
    process-wide settings.
    """
    waits = (tool.metadata or {}).get("retry_wait_s")
    if waits is not None:
        minimum, maximum = waits
        return float(minimum), float(maximum)
    settings = get_settings()
    return settings.retry_wait_min_s, settings.retry_wait_max_s


async def call_with_retries(
    tool: BaseTool,
    agent: AgentName,
    args: dict[str, Any],
    *,
    attempts: int,
    timeout_s: float,
    wait_min_s: float | None = None,
    wait_max_s: float | None = None,
) -> dict[str, Any]:
    """Run one tool call outside the agent loop (report branches, pipelines), retrying what is retryable.

    Between two attempts it waits `backoff_seconds` (as the graph's Retry node does), bounded by
    `wait_min_s` and `wait_max_s`, by default those of the settings the tool was built with (`retry_waits`).

    Raises:
        RuntimeError: the call still failed after `attempts` tries (the message names tool and error).
    """
    default_min, default_max = retry_waits(tool)
    minimum = default_min if wait_min_s is None else wait_min_s
    maximum = default_max if wait_max_s is None else wait_max_s
    record = new_record(agent, {"name": tool.name, "args": args, "id": f"{agent}-{tool.name}"})
    for attempt in range(1, attempts + 1):
        record = await run_call(tool, record, timeout_s)
        if record["ok"] or record["error_kind"] not in RETRYABLE or attempt == attempts:
            break
        if record["error_kind"] == "invalid_input":  # corrected once (schema-guided), as the graph's Retry node does
            corrected = correct_arguments(tool, record)
            if record["corrected"] or corrected == record["args"]:
                break  # the same arguments would be refused the same way: no attempt can help
            record = {**record, "args": corrected, "corrected": True}
        delay = backoff_seconds(attempt, minimum, maximum)
        if delay > 0:
            await asyncio.sleep(delay)
    if not record["ok"]:
        raise RuntimeError(f"{tool.name}: {record['error']}")
    result: dict[str, Any] = record["result"]
    return result
