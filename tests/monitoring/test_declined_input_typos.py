"""A typo in the user's input that a tool refuses ("Q5 2026", "03/04/2026") is `declined`, not a failure of the
service: the user is told what to fix and the error rate does not move.

Found by testers: both were logged `degraded` and raised the error-rate alert, because the period parser's
`ValueError` and the schema's `ValidationError` never set `declined` (only `FatalToolError`/`InvalidToolInput` did).
"""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.tools import StructuredTool
from pydantic import BaseModel, Field

from graph.tools.executor import call_with_retries, new_record, run_call
from tests.monitoring.test_requests import records
from tests.web.conftest import Web


@pytest.mark.parametrize(
    ("question", "said"),
    [
        ("What was our CAC in Q5 2026?", "there is no Q5"),
        ("What was our CAC on 03/04/2026?", "write the date as YYYY-MM-DD"),
    ],
)
async def test_a_period_typo_is_declined_not_degraded(web: Web, question: str, said: str):
    copilot = await web.copilot()
    result = await copilot.ask(question)
    assert result.route == "finance" and "couldn't complete" in result.answer and said in result.answer
    (record,) = await records(copilot)
    assert record.outcome == "declined" and record.failed_agents == [], record
    summary = await copilot.monitor.asummary()
    assert summary["error_rate"]["value"] == 0.0 and summary["outcomes"]["declined"] == 1


class _Months(BaseModel):
    """A constrained argument and a required one."""

    metric: str = Field(description="Which metric")
    months: int = Field(default=6, ge=1, le=24)


def _tool(seen: list[dict[str, Any]], fail: Exception | None = None) -> StructuredTool:
    async def run(metric: str, months: int = 6) -> dict[str, Any]:
        seen.append({"metric": metric, "months": months})
        if fail is not None:
            raise fail
        return {"headline": f"{metric} for {months} months", "facts": []}

    return StructuredTool.from_function(coroutine=run, name="probe", description="probe", args_schema=_Months)


async def test_schema_refusals_of_a_value_given_are_declined_missing_arguments_are_not():
    tool = _tool([])
    record = new_record("finance", {"id": "1", "name": "probe", "args": {"metric": "cac", "months": 400}})
    refused = await run_call(tool, record, 5.0)
    assert (refused["error_kind"], refused["declined"]) == ("invalid_input", True)  # 400 > 24: the user's value
    missing = await run_call(tool, new_record("finance", {"id": "2", "name": "probe", "args": {"months": 3}}), 5.0)
    assert (missing["error_kind"], missing["declined"]) == ("invalid_input", False)  # the model's call lacked it
    wrong_type = await run_call(tool, new_record("finance", {"id": "3", "name": "probe", "args": {"metric": 42}}), 5.0)
    assert (wrong_type["error_kind"], wrong_type["declined"]) == ("invalid_input", False)


async def test_a_plain_value_error_inside_a_tool_is_not_declined():
    """Only a period phrase the tool could not read is the user's; any other `ValueError` may be a bug."""
    failed = await run_call(
        _tool([], ValueError("cannot reshape array")),
        new_record("finance", {"id": "1", "name": "probe", "args": {"metric": "cac"}}),
        5.0,
    )
    assert (failed["error_kind"], failed["declined"]) == ("invalid_input", False)


async def test_call_with_retries_does_not_repeat_arguments_that_were_refused():
    seen: list[dict[str, Any]] = []
    tool = _tool(seen, ValueError("no such metric"))
    with pytest.raises(RuntimeError, match="no such metric"):
        await call_with_retries(
            tool, "finance", {"metric": "xyz"}, attempts=3, timeout_s=5.0, wait_min_s=0, wait_max_s=0
        )
    assert seen == [{"metric": "xyz", "months": 6}]  # nothing to correct: one attempt, not three identical ones


async def test_call_with_retries_still_corrects_a_refused_value_once():
    seen: list[dict[str, Any]] = []
    result = await call_with_retries(
        _tool(seen), "finance", {"metric": "cac", "months": 400}, attempts=3, timeout_s=5.0, wait_min_s=0, wait_max_s=0
    )
    assert result["headline"] == "cac for 6 months" and seen == [{"metric": "cac", "months": 6}]
