"""Retry with backoff, the error handler, invalid-input correction and a failing report branch,
with scripted tools that fail on purpose (the rest of the graph is real)."""

from __future__ import annotations

from typing import Any

from langchain_core.tools import StructuredTool
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import BaseModel, Field

from app.runtime import Copilot
from app.services import build_services
from app.settings import Settings
from graph.tools.base import TransientToolError
from graph.tools.executor import backoff_seconds


class FlakyArgs(BaseModel):
    """Arguments of the flaky metric tool."""

    period: str = Field(default="last quarter", description="Period phrase")


def flaky_metric(failures: int, calls: list[dict[str, Any]]) -> StructuredTool:
    """A finance tool that raises a transient error `failures` times, then returns a real-looking result."""

    async def run(period: str = "last quarter") -> dict[str, Any]:
        calls.append({"period": period})
        if len(calls) <= failures:
            raise TransientToolError("upstream returned 503 Service Unavailable")
        return {
            "headline": f"CAC for {period}: $412.50 per customer",
            "facts": ["spend $41,250 / 100 customers"],
            "data": {"cac": 412.5},
        }

    return StructuredTool.from_function(
        coroutine=run,
        name="compute_metric",
        description="Compute CAC, the customer acquisition cost, for a period.",
        args_schema=FlakyArgs,
    )


async def _copilot_with(settings: Settings, agent: str, tool: StructuredTool) -> Any:
    services = build_services(settings)
    services.tools = {**services.tools, agent: [tool, *[t for t in services.tools[agent] if t.name != tool.name]]}
    return Copilot.open(settings, services=services, checkpointer=InMemorySaver())


async def test_transient_failures_are_retried_until_success(settings: Settings):
    calls: list[dict[str, Any]] = []
    async with await _copilot_with(settings, "finance", flaky_metric(2, calls)) as copilot:
        result = await copilot.ask("What was our customer acquisition cost last month?")
    assert len(calls) == 3
    assert "$412.50" in result.answer
    assert sum("attempt" in e and "transient" in e for e in result.errors) == 2


async def test_after_three_attempts_the_error_handler_answers(settings: Settings):
    calls: list[dict[str, Any]] = []
    async with await _copilot_with(settings, "finance", flaky_metric(10, calls)) as copilot:
        result = await copilot.ask("What was our customer acquisition cost last month?")
        thread = await copilot.thread(result.thread_id)
    assert len(calls) == 3  # at most 3 attempts
    assert "couldn't complete" in result.answer and "503" in result.answer
    assert "Traceback" not in result.answer
    assert thread["status"] == "complete" and thread["messages"][-1]["role"] == "assistant"


async def test_invalid_input_is_corrected_once_from_the_schema(settings: Settings):
    seen: list[str] = []

    class StrictArgs(BaseModel):
        """Arguments with a constrained field."""

        months: int = Field(default=6, ge=1, le=24, description="Months to forecast")

    async def run(months: int = 6) -> dict[str, Any]:
        seen.append(str(months))
        return {"headline": f"Forecast for {months} months", "facts": []}

    tool = StructuredTool.from_function(
        coroutine=run,
        name="forecast_revenue",
        description="Forecast revenue for the coming months.",
        args_schema=StrictArgs,
    )
    async with await _copilot_with(settings, "finance", tool) as copilot:
        result = await copilot.ask("forecast revenue for the next 400 months")  # 400 > 24: invalid
    assert seen == ["6"]  # the invalid value was dropped once; the default applied
    assert "Forecast for 6 months" in result.answer
    assert any("invalid_input" in e for e in result.errors)


async def test_a_failing_branch_does_not_fail_the_report(settings: Settings):
    async def broken(period: str = "last 7 days") -> dict[str, Any]:
        raise RuntimeError("ad platform API is down")

    class PeriodArgs(BaseModel):
        """Period."""

        period: str = "last 7 days"

    tool = StructuredTool.from_function(
        coroutine=broken, name="channel_performance", description="Channel analytics.", args_schema=PeriodArgs
    )
    async with await _copilot_with(settings, "marketing", tool) as copilot:
        result = await copilot.ask("give me the weekly report")
    assert result.route == "parallel"
    assert "This section failed" in result.answer and "ad platform API is down" in result.answer
    assert "Revenue and unit economics" in result.answer and "CAC" in result.answer
    assert any(e.startswith("marketing:") for e in result.errors)


def test_backoff_is_exponential_and_capped():
    assert [backoff_seconds(n, 2.0, 10.0) for n in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 10.0]
    assert backoff_seconds(3, 2.0, 0.0) == 0.0
