"""`gtm metrics`: the monitoring summary (latency, error rate, cost, agent success) against the targets."""

from __future__ import annotations

import argparse
from datetime import timedelta
from typing import Any

from app.cli.base import CliError, emit_json


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `metrics`."""
    metrics = sub.add_parser("metrics", help="request latency, error rate, cost and agent success vs targets")
    metrics.add_argument("--hours", type=float, default=24.0, help="window to summarise (default 24)")
    metrics.add_argument("--json", action="store_true")
    metrics.set_defaults(func=run_metrics)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def render(summary: dict[str, Any]) -> str:
    """The summary as a few lines of text."""
    lines = [f"{summary['requests']} request(s) in the last {summary['window_hours']:g} h"]
    for name, figure in summary["latency"].items():
        lines.append(
            f"latency {name:<4} {_ms(figure['ms']):>10}  target < {_ms(figure['target_ms'])}  {figure['status']}"
        )
    err = summary["error_rate"]
    lines.append(f"error rate   {_rate(err['value']):>10}  target < {_rate(err['target'])}  {err['status']}")
    cost = summary["cost"]
    lines.append(
        f"cost today   {'$' + format(cost['today_usd'], '.2f'):>10}  budget ${cost['budget_usd']:.2f}/day  {cost['status']}"
    )
    for agent, figure in summary["agents"].items():
        lines.append(
            f"{agent:<12} {_rate(figure['rate']):>10}  target > {_rate(figure['target'])}  {figure['status']}"
            f"  ({figure['succeeded']}/{figure['runs']})"
        )
    for alert in summary["alerts"]:
        lines.append(f"ALERT {alert['kind']}: {alert['message']} ({alert['at']})")
    return "\n".join(lines)


def run_metrics(args: argparse.Namespace) -> int:
    """Print the summary of the request log."""
    from app.monitoring import Monitor
    from app.settings import get_settings

    if not args.hours > 0:
        raise CliError("--hours must be a positive number of hours")
    summary = Monitor(get_settings()).summary(timedelta(hours=args.hours))
    if args.json:
        emit_json(summary)
    else:
        print(render(summary))
    return 0
