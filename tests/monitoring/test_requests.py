"""Real requests through the graph leave the right record: route, agents, tools, latency, tokens, outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from app.monitoring import RequestRecord
from app.runtime import Copilot
from graph.review import ReviewDecision
from tests.web.conftest import UNANSWERABLE, Web


async def records(copilot: Copilot) -> list[RequestRecord]:
    import asyncio

    return await asyncio.to_thread(copilot.monitor.records, datetime(2000, 1, 1))


async def test_asks_and_a_decision_are_recorded(web: Web):
    copilot = await web.copilot()
    before = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=1)  # the log stores naive UTC

    finance = await copilot.ask("What was our CAC last quarter?", user_id="sam")
    escalated = await copilot.ask(UNANSWERABLE, user_id="kim")
    assert escalated.escalated and escalated.review_id
    decided = await copilot.decide(escalated.review_id, ReviewDecision(action="approve", reviewer="rita"))
    assert decided.thread_id == escalated.thread_id

    first, second, third = await records(copilot)
    assert (first.kind, first.route, first.agents, first.outcome) == ("ask", "finance", ["finance"], "ok")
    assert first.thread_id == finance.thread_id and first.user_id == "sam" and first.at >= before
    assert first.tools and all(t["ok"] for t in first.tools)
    assert any(t["name"] == "compute_metric" for t in first.tools), first.tools
    assert first.latency_ms > 0 and first.output_tokens > 0 and first.input_tokens > 0
    assert first.models == ["gtm-offline"] and first.cost_usd == 0.0 and first.error is None

    assert (second.kind, second.route, second.outcome, second.user_id) == ("ask", "support", "escalated", "kim")
    assert (third.kind, third.outcome, third.user_id) == ("review", "ok", "rita")
    assert third.thread_id == escalated.thread_id

    summary = await copilot.monitor.asummary()
    assert summary["requests"] == 3 and summary["outcomes"]["escalated"] == 1
    assert summary["agents"]["finance"]["rate"] == 1.0 and summary["agents"]["support"]["runs"] == 2


async def test_error_handler_answer_is_degraded(web: Web, monkeypatch: Any):
    copilot = await web.copilot()

    async def failing(tool: Any, record: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        return {**record, "attempts": record["attempts"] + 1, "ok": False, "error": "boom", "error_kind": "fatal"}

    monkeypatch.setattr("graph.nodes.tool_agents.run_call", failing)
    result = await copilot.ask("What was our CAC last quarter?")
    assert "couldn't complete" in result.answer
    (record,) = await records(copilot)
    assert record.outcome == "degraded" and record.failed_agents == ["finance"] and record.route == "finance"

    summary = await copilot.monitor.asummary()
    assert summary["error_rate"]["value"] == 1.0 and summary["agents"]["finance"]["succeeded"] == 0


async def test_a_raising_run_is_recorded_as_error_and_still_raises(web: Web, monkeypatch: Any):
    copilot = await web.copilot()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("checkpointer down")

    monkeypatch.setattr(copilot.graph, "astream", broken)
    try:
        await copilot.ask("What was our CAC last quarter?", user_id="sam")
    except RuntimeError as exc:
        assert "checkpointer down" in str(exc)
    else:
        raise AssertionError("the failure must reach the caller")
    monkeypatch.undo()
    (record,) = await records(copilot)
    assert record.outcome == "error" and record.error == "checkpointer down" and record.route is None


async def test_a_monitoring_failure_never_breaks_the_request(web: Web, monkeypatch: Any):
    copilot = await web.copilot()

    def broken(record: RequestRecord) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(copilot.monitor, "write", broken)
    result = await copilot.ask("What was our CAC last quarter?")
    assert result.route == "finance" and result.answer


async def test_winback_waits_for_approval_then_the_outbox_decision_is_recorded(web: Web):
    from graph.review import OutboxDecision

    copilot = await web.copilot()
    result = await copilot.ask("Launch a win-back campaign for churned customers", user_id="sam")
    assert result.pending_approval
    await copilot.decide_outbox(result.thread_id, OutboxDecision(action="reject", reviewer="rita", note="not now"))
    asked, decided = await records(copilot)
    assert (asked.kind, asked.outcome, asked.agents) == (
        "ask",
        "pending_approval",
        ["insights", "marketing", "finance"],
    )
    assert asked.route == "sequential:insights,marketing,finance" and asked.tools
    assert (decided.kind, decided.outcome, decided.user_id) == ("outbox", "ok", "rita")


async def test_a_request_its_tools_refuse_is_declined_not_a_failure(web: Web):
    """An unknown ticket number is the user's to fix: they are told why, and the error rate does not move."""
    copilot = await web.copilot()
    result = await copilot.ask("What's the status of ticket #987654?")
    assert "987654" in result.answer and "couldn't complete" in result.answer, result.answer
    (record,) = await records(copilot)
    assert record.outcome == "declined" and record.failed_agents == [] and record.route == "support"
    summary = await copilot.monitor.asummary()
    assert summary["error_rate"]["value"] == 0.0 and summary["outcomes"]["declined"] == 1


async def test_a_failed_report_branch_makes_the_report_degraded(web: Web, monkeypatch: Any):
    import graph.nodes.parallel as parallel

    copilot = await web.copilot()
    real = parallel._run_task

    async def flaky(services: Any, agent: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
        if agent == "insights":
            raise RuntimeError("warehouse offline")
        return await real(services, agent, name, args)  # type: ignore[arg-type]

    monkeypatch.setattr(parallel, "_run_task", flaky)
    result = await copilot.ask("give me the weekly report")
    assert result.route == "parallel"
    (record,) = await records(copilot)
    assert record.outcome == "degraded" and record.failed_agents == ["insights"]
    assert set(record.agents) == {"marketing", "finance", "insights", "support"}
    summary = await copilot.monitor.asummary()
    assert summary["agents"]["insights"]["rate"] == 0.0 and summary["agents"]["finance"]["rate"] == 1.0


async def test_an_empty_database_is_a_failure_not_a_declined_request() -> None:
    """Found by review: every FatalToolError counted as the user's, so an empty database never raised the alert."""
    from langchain_core.tools import StructuredTool

    from graph.tools.base import FatalToolError, MissingDataError
    from graph.tools.executor import new_record, run_call

    def tool_raising(exc: Exception) -> StructuredTool:
        def fail() -> dict[str, Any]:
            raise exc

        return StructuredTool.from_function(fail, name="probe", description="raises")

    record = new_record("insights", {"id": "1", "name": "probe", "args": {}})
    empty = await run_call(tool_raising(MissingDataError("no transactions yet")), record, 5.0)
    unknown = await run_call(tool_raising(FatalToolError("no customer C99999")), record, 5.0)
    assert (empty["ok"], empty["error_kind"], empty["declined"]) == (False, "fatal", False)
    assert (unknown["ok"], unknown["error_kind"], unknown["declined"]) == (False, "fatal", True)
