"""`gtm finance ...`: revenue forecast, the safe calculator and read-only sheet queries."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.cli.base import CliError, emit_json

if TYPE_CHECKING:
    import pandas as pd


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `gtm finance` and its commands."""
    parser = subparsers.add_parser(
        "finance",
        help="finance tools: revenue forecast, calculator, sheet queries",
        description="Finance tools: revenue forecast with an 80% interval, a safe calculator, read-only sheet SQL.",
    )
    sub = parser.add_subparsers(dest="finance_command", metavar="TOOL", required=True)

    fc = sub.add_parser(
        "forecast",
        help="forecast a series (a file, or monthly revenue from the database)",
        description="Exponential smoothing (ETS) with trend and seasonality, an 80%% prediction interval and a "
        "rolling-origin backtest against seasonal-naive. Without --series, forecasts monthly revenue from "
        "the business database.",
    )
    fc.add_argument("--series", type=Path, metavar="FILE", help="CSV/XLSX with a date column and a value column")
    fc.add_argument("--date-col", default="date", metavar="D", help="date column of --series (default date)")
    fc.add_argument("--value-col", default="value", metavar="V", help="value column of --series (default value)")
    fc.add_argument(
        "--resample",
        choices=("none", "D", "W", "M"),
        default="none",
        help="sum the values per day, week or month first (for transaction-level files; default none)",
    )
    fc.add_argument("--season-length", type=int, default=12, metavar="N", help="periods per season (default 12)")
    fc.add_argument("--horizon", type=int, default=6, metavar="H", help="periods to forecast (default 6)")
    fc.add_argument("--chart", type=Path, metavar="HTML", help="also write the fan chart to this HTML file")
    fc.add_argument("--json", action="store_true", help="print one JSON object")
    fc.set_defaults(func=_run_forecast)

    calc = sub.add_parser(
        "calc",
        help="evaluate arithmetic safely (1,200 * 15%%, what-ifs with variables)",
        description="Safe calculator: numbers like $1,200 or 15%%, + - * / ^, round/min/max/abs/sqrt/log, "
        "variables with --var or 'name = expr; ...'. EXPRESSION '-' reads the statements from stdin, one per line.",
    )
    calc.add_argument(
        "expression", help="e.g. 'price = 49; seats = 25; price * seats * 12', or '-' to read it from stdin"
    )
    calc.add_argument("--var", action="append", default=[], metavar="NAME=VALUE", help="predefined variable")
    calc.add_argument("--json", action="store_true", help="print one JSON object")
    calc.set_defaults(func=_run_calc)

    sheet = sub.add_parser(
        "sheet",
        help="describe a CSV/XLSX sheet, or run one read-only SELECT on it",
        description="Without --sql: columns, types, row count, sample and totals. With --sql: one SELECT over the "
        "table `sheet` (or the worksheet tables of a multi-sheet workbook).",
    )
    sheet.add_argument("file", type=Path, help="CSV, TSV or XLSX file")
    sheet.add_argument("--sql", help="one SELECT statement, or '-' to read it from stdin")
    sheet.add_argument("--max-rows", type=int, default=1000, help="rows returned at most (default 1000)")
    sheet.add_argument("--json", action="store_true", help="print one JSON object")
    sheet.set_defaults(func=_run_sheet)


def _series_from_file(args: argparse.Namespace) -> pd.Series:
    """The series to forecast, read from `--series`."""
    import pandas as pd

    from app.analytics._validation import AnalyticsInputError, require_columns, to_datetime_column
    from app.analytics.tables import read_table

    try:
        frame = read_table(args.series, text_columns=[args.date_col])
        require_columns(frame, [args.date_col, args.value_col], what="series")
        dates = to_datetime_column(frame[args.date_col], column=args.date_col)
    except AnalyticsInputError as exc:
        raise CliError(str(exc)) from exc
    values = pd.to_numeric(frame[args.value_col], errors="coerce")
    if values.isna().any():
        row = int(values.isna().to_numpy().argmax())
        raise CliError(f"column {args.value_col!r} has a value that is not a number at row {row + 1}")
    series = pd.Series(values.to_numpy(dtype="float64"), index=pd.DatetimeIndex(dates)).sort_index()
    if args.resample != "none":
        rule = {"D": "D", "W": "W", "M": "MS"}[args.resample]
        series = series.resample(rule).sum()
    return series


def _series_from_database() -> pd.Series:
    """Monthly revenue from the business database."""
    try:
        from app.data.db import get_engine
        from app.data.queries import monthly_revenue
    except ImportError as exc:
        raise CliError("the business database module (app.data) is not available; pass --series FILE") from exc
    from app.settings import get_settings

    try:
        series: pd.Series = monthly_revenue(get_engine(get_settings().business_db_url))
    except Exception as exc:  # noqa: BLE001 - a missing database or table is a user-facing condition
        raise CliError(
            f"could not read monthly revenue from the business database ({type(exc).__name__}: {exc}); "
            "run `gtm data seed` first or pass --series FILE"
        ) from exc
    if series.empty:
        raise CliError("the business database has no revenue yet; run `gtm data seed` or pass --series FILE")
    return series


def _run_forecast(args: argparse.Namespace) -> int:
    """Forecast a series and print the forecast."""
    from app.analytics.forecast import ForecastError, forecast_revenue

    series = _series_from_file(args) if args.series else _series_from_database()
    try:
        result = forecast_revenue(series, horizon=args.horizon, season_length=args.season_length)
    except ForecastError as exc:
        raise CliError(str(exc)) from exc
    if args.chart:
        from app.analytics.charts import forecast_fan_chart

        forecast_fan_chart(result).write_html(str(args.chart), include_plotlyjs=True, full_html=True)
    if args.json:
        data = result.to_dict()
        emit_json(data)
        return 0
    print(f"Methodology: {result.methodology}")
    if result.fallback_reason:
        print(f"Note: {result.fallback_reason}")
    low, high = result.point_interval
    periods = len(result.mean)
    print(
        f"Point estimate (next {periods} periods): {result.point_estimate:,.2f} (80% range {low:,.2f} to {high:,.2f})"
    )
    for date, mean, lower, upper in zip(result.dates, result.mean, result.lower, result.upper, strict=True):
        print(f"  {date}  {mean:>14,.2f}   80% interval {lower:>14,.2f} to {upper:>14,.2f}")
    print("Key assumptions:")
    for name, text in result.assumptions.items():
        print(f"  {name.replace('_', ' ')}: {text}")
    if result.backtest:
        bt = result.backtest
        print(f"Backtest: MAPE {bt.mape:.1f}% vs {bt.baseline} {bt.baseline_mape:.1f}% ({len(bt.origins)} origins)")
    elif result.backtest_note:
        print(f"Backtest: {result.backtest_note}")
    return 0


def _text_arg(value: str) -> str:
    """A TEXT argument as given, or all of stdin when it is `-` (a calculation's lines, a long query)."""
    return sys.stdin.read().strip() if value == "-" else value


def _parse_vars(items: list[str]) -> dict[str, float]:
    """`NAME=VALUE` options as a dict."""
    from app.analytics.calculator import CalculatorError, evaluate

    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise CliError(f"--var must look like NAME=VALUE, got {item!r}")
        try:
            out[name.strip()] = evaluate(value, out)
        except CalculatorError as exc:
            raise CliError(f"--var {name.strip()}: {exc}") from exc
    return out


def _run_calc(args: argparse.Namespace) -> int:
    """Evaluate an expression with the safe calculator."""
    from app.analytics.calculator import CalculatorError, calculate

    try:
        result = calculate(_text_arg(args.expression), _parse_vars(args.var))
    except CalculatorError as exc:
        raise CliError(str(exc)) from exc
    if args.json:
        emit_json(result.to_dict())
        return 0
    for step in result.steps:
        print(step)
    return 0


def _run_sheet(args: argparse.Namespace) -> int:
    """Describe a sheet or run one query on it."""
    from app.analytics.sheets import SheetError, load_sheet

    sql = _text_arg(args.sql) if args.sql else None
    try:
        with load_sheet(args.file) as db:
            data: dict[str, Any] = db.query(sql, max_rows=args.max_rows).to_dict() if sql else db.describe().to_dict()
    except SheetError as exc:
        raise CliError(str(exc)) from exc
    if args.json:
        emit_json(data)
        return 0
    if sql:
        print("\t".join(data["columns"]))
        for row in data["rows"]:
            print("\t".join("" if v is None else str(v) for v in row))
        if data["truncated"]:
            print(f"... (first {data['row_count']:,} rows)")
        return 0
    for table in data["tables"]:
        print(f"table {table['name']} ({table['source']}): {table['row_count']:,} rows")
        for col in table["columns"]:
            total = f"  total {col['total']:,.2f}" if col["total"] is not None else ""
            print(f"  {col['name']:<24} {col['dtype']:<8} {col['non_null']:>8,} values{total}")
    for warning in data["warnings"]:
        print(f"note: {warning}")
    return 0
