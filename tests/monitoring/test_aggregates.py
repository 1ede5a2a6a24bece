"""Prices, percentiles, the summary and the alerts, on synthetic records in a real SQLite database."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, LLMResult

from app.monitoring import Metrics, Monitor, RequestRecord, RequestTrace, cost_usd, percentile, price_of
from app.settings import Settings

NOW = datetime(2026, 3, 10, 12, 30)


@pytest.fixture
def monitor(tmp_path: Path) -> Monitor:
    from sqlalchemy import create_engine

    settings = Settings(home=tmp_path, daily_budget_usd=100.0)
    return Monitor(settings, engine=create_engine(f"sqlite:///{tmp_path / 'm.db'}"), metrics=Metrics())


def record(at: datetime, latency_ms: float = 100.0, outcome: str = "ok", **extra) -> RequestRecord:
    values = {
        "at": at,
        "kind": "ask",
        "thread_id": "t",
        "user_id": "u",
        "route": "finance",
        "agents": ["finance"],
        "failed_agents": [],
        "tools": [],
        "latency_ms": latency_ms,
        "input_tokens": 0,
        "output_tokens": 0,
        "cost_usd": 0.0,
        "models": [],
        "outcome": outcome,
        **extra,
    }
    return RequestRecord(**values)


def test_prices_by_longest_prefix():
    assert price_of("gpt-4o-mini-2024-07-18") == (0.00015, 0.0006)
    assert price_of("gpt-4o-2024-08-06") == (0.0025, 0.01)
    assert price_of("gpt-4-turbo") == (0.01, 0.03)
    assert price_of("gpt-3.5-turbo-0125") == (0.0005, 0.0015)
    assert price_of("gtm-offline") == (0.0, 0.0)
    assert cost_usd("gpt-4-turbo", 1000, 2000) == pytest.approx(0.01 + 0.06)


def test_percentiles_on_known_data():
    values = [float(v) for v in range(100, 0, -1)]  # 1..100, unsorted
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 95) == pytest.approx(95.05)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


def test_summary_figures_against_targets(monitor: Monitor):
    for i in range(1, 101):  # latencies 100 ms .. 10 s; every 10th degraded or failed
        outcome = "error" if i % 20 == 0 else "degraded" if i % 10 == 0 else "ok"
        failed = ["finance"] if outcome == "degraded" else []
        monitor.write(record(NOW - timedelta(minutes=i), latency_ms=100.0 * i, outcome=outcome, failed_agents=failed))
    monitor.write(record(NOW - timedelta(days=2), latency_ms=99_999.0))  # outside the 24 h window
    summary = monitor.summary(now=NOW)
    assert summary["requests"] == 100
    assert summary["latency"]["p50"]["ms"] == pytest.approx(5050.0)
    assert summary["latency"]["p95"]["ms"] == pytest.approx(9505.0)
    assert summary["latency"]["p99"]["ms"] == pytest.approx(9901.0)
    assert summary["latency"]["p50"]["status"] == "breach" and summary["latency"]["p99"]["status"] == "ok"
    assert summary["error_rate"]["value"] == pytest.approx(0.10)
    assert summary["error_rate"]["status"] == "alert"
    finance = summary["agents"]["finance"]
    assert finance["runs"] == 100 and finance["succeeded"] == 90 and finance["target"] == 0.99
    assert finance["status"] == "breach"
    assert summary["agents"]["support"]["status"] == "no data"
    assert summary["routes"][0]["route"] == "finance" and summary["routes"][0]["requests"] == 100
    assert len(summary["cost"]["per_day"]) == 7 and summary["cost"]["per_day"][-1]["day"] == "2026-03-10"


def test_error_rate_alert_needs_twenty_requests_and_is_deduplicated(monitor: Monitor):
    for i in range(19):
        monitor.write(record(NOW - timedelta(minutes=i + 1), outcome="error" if i < 2 else "ok"))
    assert monitor.check_alerts(NOW) == []  # 19 requests: too few to judge
    monitor.write(record(NOW - timedelta(minutes=5)))
    raised = monitor.check_alerts(NOW)  # 2 of 20 = 10 % > 5 %
    assert [a["kind"] for a in raised] == ["error_rate"] and "10.0%" in raised[0]["message"]
    assert monitor.check_alerts(NOW + timedelta(minutes=10)) == []  # same hour: not again
    assert [a["kind"] for a in monitor.check_alerts(NOW + timedelta(minutes=40))] == ["error_rate"]  # next hour
    assert [a["kind"] for a in monitor.open_alerts(NOW + timedelta(minutes=40))] == ["error_rate", "error_rate"]


def test_budget_alert_from_priced_model_usage(monitor: Monitor):
    def priced(tokens_in: int, tokens_out: int) -> RequestRecord:
        trace = RequestTrace("ask", "t", "u")
        trace.at = NOW - timedelta(hours=1)
        message = AIMessage(
            "answer",
            response_metadata={"model_name": "gpt-4-turbo-2024-04-09"},
            usage_metadata={"input_tokens": tokens_in, "output_tokens": tokens_out, "total_tokens": 0},
        )
        from uuid import uuid4

        trace.on_llm_end(LLMResult(generations=[[ChatGeneration(message=message)]]), run_id=uuid4())
        return trace.record()

    first = priced(1_000_000, 1_000_000)  # $10 + $30
    assert first.cost_usd == pytest.approx(40.0) and first.models == ["gpt-4-turbo-2024-04-09"]
    monitor.write(first)
    assert monitor.check_alerts(NOW) == []  # $40 of $100
    monitor.write(priced(1_000_000, 1_000_000))  # $80: not above 80 % yet
    assert monitor.check_alerts(NOW) == []
    monitor.write(priced(100_000, 0))  # $81
    raised = monitor.check_alerts(NOW)
    assert [a["kind"] for a in raised] == ["budget"] and "$81.00" in raised[0]["message"]
    summary = monitor.summary(now=NOW)
    assert summary["cost"]["today_usd"] == pytest.approx(81.0) and summary["cost"]["status"] == "alert"
    assert [a["kind"] for a in summary["alerts"]] == ["budget"]
    assert summary["cost"]["per_day"][-1]["cost_usd"] == pytest.approx(81.0)


def test_metrics_exposition(monitor: Monitor):
    metrics = monitor.metrics
    metrics.observe(record(NOW, latency_ms=1500.0, agents=["finance"], tools=[{"name": "compute_metric", "ok": True}]))
    text = metrics.exposition().decode()
    assert 'gtm_request_latency_seconds_bucket{kind="ask",le="2.0",route="finance"} 1.0' in text
    assert 'gtm_requests_total{kind="ask",outcome="ok",route="finance"} 1.0' in text
    assert 'gtm_agent_runs_total{agent="finance",result="success"} 1.0' in text
    assert 'gtm_tool_calls_total{result="ok",tool="compute_metric"} 1.0' in text


def test_cli_prints_the_summary(capsys: pytest.CaptureFixture[str]):
    import json

    from app.cli.main import main

    assert main(["metrics", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["requests"] == 0 and summary["cost"]["budget_usd"] == 100.0
    assert summary["latency"]["p95"]["target_ms"] == 5000.0 and summary["agents"]["finance"]["target"] == 0.99
    assert main(["metrics"]) == 0
    assert "latency p99" in capsys.readouterr().out
    assert main(["metrics", "--hours", "0"]) == 2
