"""Every fault the fake OpenAI-compatible server can serve, through the real graph and `ChatOpenAI`.

Each case ends recovered or cleanly degraded (a clear message, never a stack trace), and its outcome
shows in the Prometheus metrics (`gtm_llm_calls_total`, `gtm_llm_retries_total`, `gtm_requests_total`).
"""

from __future__ import annotations

import asyncio

from langgraph.checkpoint.memory import InMemorySaver

from app.monitoring import Monitor
from app.runtime import Copilot
from app.services import build_services
from app.settings import Settings
from graph.llm.resilience import CUT_NOTICE, FALLBACK_MESSAGES
from graph.review import ReviewDecision
from tests.fake_openai import FakeOpenAI, Fault, call_kind
from tests.faults.conftest import MetricDelta

QUESTION = "How much did each new customer cost us last quarter?"


def kinds(server: FakeOpenAI) -> list[str]:
    """The model calls the server received, in order."""
    return [call_kind(body) for body in server.requests]


def assert_recovered_cac_answer(answer: str) -> None:
    assert answer.startswith("According to the tool: $") and "per customer" in answer
    assert "Traceback" not in answer and CUT_NOTICE.strip() not in answer


async def test_rate_limit_with_retry_after_is_retried_and_recovers(
    server: FakeOpenAI, settings: Settings, metrics: MetricDelta
):
    settings = settings.model_copy(update={"retry_wait_max_s": 2.0})  # room for the 1 s Retry-After
    server.faults.append(Fault("429", when="answer", retry_after=1))
    async with Copilot.open(settings, services=build_services(settings), checkpointer=InMemorySaver()) as copilot:
        result = await copilot.ask(QUESTION)
    assert_recovered_cac_answer(result.answer)
    assert kinds(server) == ["route", "plan", "answer", "answer"]
    assert server.served == [("429", "answer")]
    assert metrics("gtm_llm_calls_total", agent="finance", outcome="retried_ok", error_kind="transient") == 1
    assert metrics("gtm_llm_retries_total", agent="finance", error_kind="transient") == 1
    assert metrics("gtm_llm_retry_wait_seconds_total", agent="finance") == 1.0  # Retry-After beat the 0.05 s backoff
    assert metrics("gtm_requests_total", route="finance", kind="ask", outcome="ok") == 1


async def test_server_errors_until_the_last_attempt_degrade_with_a_clear_message(
    copilot: Copilot, server: FakeOpenAI, metrics: MetricDelta
):
    server.faults += [Fault("500", when="answer") for _ in range(3)]
    tokens: list[str] = []
    result = await copilot.ask(QUESTION, on_token=tokens.append)
    assert result.answer.startswith(FALLBACK_MESSAGES["transient"].format(attempts=3))
    assert "What the tools found:" in result.answer and "per customer" in result.answer  # the tool still ran
    assert "Traceback" not in result.answer and "InternalServerError" not in result.answer
    assert kinds(server) == ["route", "plan", "answer", "answer", "answer"]
    assert tokens == []  # nothing half-written reached the chat
    assert metrics("gtm_llm_calls_total", agent="finance", outcome="failed", error_kind="transient") == 1
    assert metrics("gtm_llm_retries_total", agent="finance", error_kind="transient") == 2
    assert metrics("gtm_requests_total", route="finance", kind="ask", outcome="degraded") == 1


async def test_a_hang_past_the_client_timeout_is_retried(copilot: Copilot, server: FakeOpenAI, metrics: MetricDelta):
    server.faults.append(Fault("hang", when="plan", hang_s=10))
    result = await copilot.ask(QUESTION)
    assert_recovered_cac_answer(result.answer)
    assert kinds(server) == ["route", "plan", "plan", "answer"]
    assert metrics("gtm_llm_calls_total", agent="finance", outcome="retried_ok", error_kind="transient") == 1
    assert metrics("gtm_llm_calls_total", agent="finance", outcome="ok", error_kind="none") == 1  # the answer
    assert metrics("gtm_requests_total", route="finance", kind="ask", outcome="ok") == 1


async def test_a_malformed_json_body_is_retried(copilot: Copilot, server: FakeOpenAI, metrics: MetricDelta):
    server.faults.append(Fault("malformed_json", when="route"))
    result = await copilot.ask(QUESTION)
    state = (await copilot.graph.aget_state({"configurable": {"thread_id": result.thread_id}})).values
    assert "unit-economics" in state["route_reason"]  # the model's route, not the offline fallback
    assert_recovered_cac_answer(result.answer)
    assert kinds(server) == ["route", "route", "plan", "answer"]
    assert metrics("gtm_llm_calls_total", agent="supervisor", outcome="retried_ok", error_kind="transient") == 1


async def test_a_stream_cut_after_tokens_keeps_them_and_says_so(
    copilot: Copilot, server: FakeOpenAI, metrics: MetricDelta
):
    server.faults.append(Fault("cut_stream", when="answer", after_chunks=4))  # role chunk + 3 words
    tokens: list[str] = []
    result = await copilot.ask(QUESTION, on_token=tokens.append)
    assert result.answer == "According to the " + CUT_NOTICE
    assert "".join(tokens) == result.answer  # what streamed is what was kept
    assert kinds(server) == ["route", "plan", "answer"]  # shown tokens are never re-asked
    assert metrics("gtm_llm_calls_total", agent="finance", outcome="cut", error_kind="transient") == 1
    assert metrics("gtm_llm_retries_total", agent="finance", error_kind="transient") == 0


async def test_a_stream_cut_before_the_first_token_is_retried(
    copilot: Copilot, server: FakeOpenAI, metrics: MetricDelta
):
    server.faults.append(Fault("cut_stream", when="answer", after_chunks=1))  # only the role chunk
    tokens: list[str] = []
    result = await copilot.ask(QUESTION, on_token=tokens.append)
    assert_recovered_cac_answer(result.answer)
    assert "".join(tokens) == result.answer
    assert kinds(server) == ["route", "plan", "answer", "answer"]
    assert metrics("gtm_llm_calls_total", agent="finance", outcome="retried_ok", error_kind="transient") == 1


async def test_tool_arguments_of_the_wrong_type_are_corrected_by_the_schema(
    copilot: Copilot, server: FakeOpenAI, metrics: MetricDelta
):
    server.faults.append(Fault("tool_args", when="plan", arguments='{"metric": "cac", "period": 42}'))
    result = await copilot.ask(QUESTION)
    assert_recovered_cac_answer(result.answer)
    assert any("invalid_input" in e and "period" in e for e in result.errors)
    assert kinds(server) == ["route", "plan", "answer"]
    # the invalid call was stopped by schema validation before the tool ran; the corrected one ran once
    assert metrics("gtm_tool_calls_total", tool="compute_metric", result="ok") == 1
    assert metrics("gtm_tool_calls_total", tool="compute_metric", result="failed") == 0
    assert metrics("gtm_requests_total", route="finance", kind="ask", outcome="ok") == 1


async def test_tool_arguments_missing_a_required_field_degrade_cleanly(
    copilot: Copilot, server: FakeOpenAI, metrics: MetricDelta
):
    server.faults.append(Fault("tool_args", when="plan", arguments='{"period": "last quarter"}'))
    result = await copilot.ask(QUESTION)
    assert result.answer.startswith("I couldn't complete this finance request")
    assert "`compute_metric`" in result.answer and "metric: not given (Which metric)" in result.answer
    assert "Traceback" not in result.answer
    assert kinds(server) == ["route", "plan"]  # the error handler answers without the model
    # invalid; the schema-guided correction cannot supply a required field, so it is given up, not run again
    assert [e.split(": ")[0] for e in result.errors] == ["finance.compute_metric attempt 1"]
    assert sum("invalid_input" in e for e in result.errors) == 1
    assert metrics("gtm_tool_calls_total", tool="compute_metric", result="ok") == 0
    assert metrics("gtm_agent_runs_total", agent="finance", result="failure") == 1
    assert metrics("gtm_requests_total", route="finance", kind="ask", outcome="degraded") == 1


async def test_tool_arguments_that_are_not_json_are_corrected_by_the_model(
    copilot: Copilot, server: FakeOpenAI, metrics: MetricDelta
):
    server.faults.append(Fault("tool_args", when="plan", arguments="metric=cac, period=last quarter"))
    result = await copilot.ask(QUESTION)
    assert_recovered_cac_answer(result.answer)
    assert kinds(server) == ["route", "plan", "plan", "answer"]
    correction = server.requests[2]["messages"]
    assert correction[-2]["role"] == "assistant" and correction[-2]["tool_calls"][0]["id"] == "call_bad"
    assert correction[-1]["role"] == "tool" and "could not be parsed" in correction[-1]["content"]
    assert metrics("gtm_tool_calls_total", tool="compute_metric", result="ok") == 1
    assert metrics("gtm_llm_calls_total", agent="finance", outcome="ok", error_kind="none") == 3


async def test_refused_credentials_skip_retries_alert_an_admin_and_degrade(
    copilot: Copilot, server: FakeOpenAI, settings: Settings, metrics: MetricDelta
):
    server.faults.append(Fault("401", when="plan"))
    result = await copilot.ask(QUESTION)
    assert result.answer == FALLBACK_MESSAGES["auth"]
    assert kinds(server) == ["route", "plan"]  # never retried
    assert metrics("gtm_llm_calls_total", agent="finance", outcome="failed", error_kind="auth") == 1
    assert metrics("gtm_llm_retries_total", agent="finance", error_kind="auth") == 0
    assert metrics("gtm_requests_total", route="finance", kind="ask", outcome="degraded") == 1
    alerts = await asyncio.to_thread(Monitor(settings).open_alerts)
    auth = [a for a in alerts if a["kind"] == "llm_auth"]
    assert len(auth) == 1 and "finance model" in auth[0]["message"] and "HTTP 401" in auth[0]["message"]
    assert "sk-test" not in auth[0]["message"]  # no secrets in the alert


async def test_a_bad_request_is_fatal_and_not_retried(copilot: Copilot, server: FakeOpenAI, metrics: MetricDelta):
    server.faults.append(Fault("400", when="answer"))
    result = await copilot.ask(QUESTION)
    assert result.answer.startswith(FALLBACK_MESSAGES["fatal"]) and "per customer" in result.answer
    assert kinds(server) == ["route", "plan", "answer"]
    assert metrics("gtm_llm_calls_total", agent="finance", outcome="failed", error_kind="fatal") == 1


async def test_a_failing_supervisor_model_falls_back_to_the_offline_router(
    copilot: Copilot, server: FakeOpenAI, metrics: MetricDelta
):
    server.faults += [Fault("500", when="route") for _ in range(3)]
    result = await copilot.ask(QUESTION)
    state = (await copilot.graph.aget_state({"configurable": {"thread_id": result.thread_id}})).values
    assert result.route == "finance" and "unit-economics" not in state["route_reason"]
    assert_recovered_cac_answer(result.answer)
    assert kinds(server) == ["route", "route", "route", "plan", "answer"]
    assert metrics("gtm_llm_calls_total", agent="supervisor", outcome="failed", error_kind="transient") == 1
    assert metrics("gtm_llm_retries_total", agent="supervisor", error_kind="transient") == 2


async def test_an_interrupt_after_a_retried_draft_pauses_and_resumes(
    copilot: Copilot, server: FakeOpenAI, metrics: MetricDelta
):
    server.route_json = {"route": "support", "reason": "a help-centre question"}
    server.answer_text = "Let me escalate this to a specialist."
    server.faults.append(Fault("500", when="answer"))
    result = await copilot.ask("Can I get a refund on a custom enterprise contract?")
    assert result.escalated and result.review_id  # interrupt() reached the checkpointer, not a retry loop
    thread = await copilot.thread(result.thread_id)
    assert thread["status"] == "pending_review"
    # the draft's failed attempt and its retry, the grounding check beside them (in any order)
    assert kinds(server)[0] == "route" and sorted(kinds(server)[1:]) == ["answer", "answer", "grade"]
    assert metrics("gtm_llm_calls_total", agent="support", outcome="retried_ok", error_kind="transient") == 1
    decided = await copilot.decide(result.review_id, ReviewDecision(action="edit", text="Yes, within 30 days."))
    assert decided.answer.startswith("Yes, within 30 days.")
    assert (await copilot.thread(result.thread_id))["status"] == "complete"


async def test_a_refused_draft_leaves_the_other_win_back_emails_staged(
    copilot: Copilot, server: FakeOpenAI, metrics: MetricDelta
):
    server.route_json = {"route": "sequential:insights,marketing,finance", "reason": "a win-back campaign"}
    server.answer_text = "Hi there, we miss you. Come back for 20% off."
    server.faults.append(Fault("401", when="answer"))  # exactly one draft is refused (auth is never retried)
    result = await copilot.ask("Launch a win-back campaign for churned customers")
    assert result.pending_approval  # the approval interrupt was reached
    items = await copilot.outbox_items(result.thread_id)
    drafts = [r for r in server.requests[1:-1]]  # between the route call and the proposal
    assert len(items) == len(drafts) - 1 >= 1
    for item in items:  # the model's text, and the compliance footer it left out, re-appended when staged
        assert item.body.startswith("Hi there, we miss you. Come back for 20% off.\n\nBest regards,\n")
        assert item.body.endswith(f"Unsubscribe: https://lumio.io/unsubscribe?customer={item.customer_id}")
    assert result.answer.startswith("Hi there, we miss you.") and "waiting in the outbox" in result.answer
    assert metrics("gtm_llm_calls_total", agent="marketing", outcome="failed", error_kind="auth") == 1
    assert metrics("gtm_llm_calls_total", agent="marketing", outcome="ok", error_kind="none") == len(drafts)
    assert (
        metrics("gtm_requests_total", route="sequential:insights,marketing,finance", kind="ask", outcome="degraded")
        == 1
    )


async def test_an_empty_answer_is_retried_then_degrades_like_a_silent_server(
    copilot: Copilot, server: FakeOpenAI, metrics: MetricDelta
):
    server.answer_text = ""  # the model finishes at once, with neither text nor a tool call
    result = await copilot.ask(QUESTION)
    assert result.answer.startswith(FALLBACK_MESSAGES["transient"].format(attempts=3))  # never an empty reply
    assert "What the tools found:" in result.answer and "per customer" in result.answer
    assert kinds(server) == ["route", "plan", "answer", "answer", "answer"]
    assert metrics("gtm_llm_retries_total", agent="finance", error_kind="transient") == 2


async def test_an_empty_support_draft_escalates_instead_of_answering_nothing(copilot: Copilot, server: FakeOpenAI):
    server.route_json = {"route": "support", "reason": "a help-centre question"}
    server.answer_text = ""
    result = await copilot.ask("Can I get a refund on hardware I bought last week?")
    assert result.escalated and result.review_id and result.review_id in result.answer
    assert result.confidence == 0.0 and [k for k in kinds(server) if k == "answer"] == ["answer"] * 3
