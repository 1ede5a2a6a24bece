"""`gtm data ...`: seed the demo company, import transactions, show what the business database holds."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from app.cli.base import CliError, emit_json


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `gtm data` with `seed`, `import transactions` and `status`."""
    parser = subparsers.add_parser(
        "data",
        help="business database: seed demo data, import transactions, status",
        description="Manage the business database (GTM_DATABASE_URL, default SQLite under GTM_HOME).",
    )
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)

    seed = sub.add_parser(
        "seed",
        help="replace the business data with the simulated demo company (Lumio)",
        description="Simulate about two years of the demo company and replace every business table with it.",
    )
    seed.add_argument("--customers", type=int, default=2000, metavar="N", help="accounts to simulate (default 2000)")
    seed.add_argument("--seed", type=int, default=42, metavar="S", help="random seed (default 42)")
    seed.add_argument("--end-date", metavar="YYYY-MM-DD", help="last day of the history (default: today)")
    seed.add_argument("--json", action="store_true", help="print one JSON object")
    seed.set_defaults(func=_run_seed)

    imp = sub.add_parser("import", help="import data files", description="Import data files into the database.")
    imp_sub = imp.add_subparsers(dest="import_kind", metavar="KIND", required=True)
    tx = imp_sub.add_parser(
        "transactions",
        help="import a CSV/XLSX of transactions (customer id, date, amount), all or nothing",
        description="Validate every row, then load one order per row (unknown customers are created). Any bad "
        "row (unreadable, negative or missing values, a date after today) rejects the whole file and is reported "
        "with its line number (header = line 1).",
    )
    tx.add_argument("file", type=Path, metavar="FILE", help="CSV, TSV or XLSX file with a header row")
    tx.add_argument("--customer-col", required=True, metavar="C", help="customer id column")
    tx.add_argument("--date-col", required=True, metavar="D", help="transaction date column")
    tx.add_argument("--amount-col", required=True, metavar="A", help="amount column (non-negative numbers)")
    tx.add_argument("--date-format", metavar="F", help="strptime format of the dates, e.g. %%d/%%m/%%Y")
    tx.add_argument("--sheet", metavar="NAME", help="worksheet of an XLSX file (default: the first)")
    tx.add_argument("--json", action="store_true", help="print one JSON object")
    tx.set_defaults(func=_run_import)

    status = sub.add_parser("status", help="row counts and date range of the business database")
    status.add_argument("--json", action="store_true", help="print one JSON object")
    status.set_defaults(func=_run_status)


def _engine() -> Any:
    from app.data.db import get_engine, init_db
    from app.settings import get_settings

    settings = get_settings()
    settings.ensure_home()
    engine = get_engine(settings.business_db_url)
    init_db(engine)
    return engine


def _safe_url(engine: Any) -> str:
    return str(engine.url.render_as_string(hide_password=True))


def _run_seed(args: argparse.Namespace) -> int:
    from app.data.seed import seed_demo

    if args.customers < 1:
        raise CliError(f"--customers must be at least 1, got {args.customers}")
    if args.customers > 1_000_000:
        raise CliError(f"--customers {args.customers:,} is too many for the demo generator (limit 1,000,000)")
    end = None
    if args.end_date:
        try:
            end = dt.date.fromisoformat(args.end_date)
        except ValueError as exc:
            raise CliError(f"--end-date must be YYYY-MM-DD, got {args.end_date!r}") from exc
    engine = _engine()
    report = seed_demo(engine, customers=args.customers, seed=args.seed, end_date=end)
    if args.json:
        emit_json({**report.to_dict(), "database": _safe_url(engine)})
        return 0
    total = sum(report.counts.values())
    print(f"seeded the demo company: {report.start} to {report.end}, seed {report.seed}, {report.seconds:.1f} s")
    for name, count in report.counts.items():
        print(f"  {name:<20} {count:>8,}")
    print(f"  {'total':<20} {total:>8,}  ({_safe_url(engine)})")
    return 0


def _run_import(args: argparse.Namespace) -> int:
    from app.data.importer import DataImportError, ImportValidationError, import_transactions

    engine = _engine()
    try:
        report = import_transactions(
            engine,
            args.file,
            customer_col=args.customer_col,
            date_col=args.date_col,
            amount_col=args.amount_col,
            date_format=args.date_format,
            sheet=args.sheet,
        )
    except ImportValidationError as exc:
        if args.json:
            emit_json(
                {
                    "ok": False,
                    "error": str(exc),
                    "bad_rows": exc.total,
                    "problems": [{"line": p.line, "message": p.message} for p in exc.problems[:100]],
                }
            )
        raise CliError(str(exc)) from exc
    except DataImportError as exc:
        raise CliError(str(exc)) from exc
    if args.json:
        emit_json({"ok": True, **report.to_dict()})
        return 0
    print(
        f"imported {report.orders_created:,} transactions from {args.file.name} "
        f"({report.first_date} to {report.last_date}, total {report.total_amount:,.2f}); "
        f"{report.customers_created:,} new customers, {report.customers_existing:,} existing"
    )
    for warning in report.warnings:
        print(f"warning: {warning}")
    return 0


def _run_status(args: argparse.Namespace) -> int:
    from app.data.db import NoDataError
    from app.data.queries import data_bounds, table_counts

    engine = _engine()
    counts = table_counts(engine)
    try:
        first, last = data_bounds(engine)
        bounds: dict[str, str | None] = {"first_date": first.isoformat(), "last_date": last.isoformat()}
    except NoDataError:
        bounds = {"first_date": None, "last_date": None}
    seeded = counts.get("customers", 0) > 0
    if args.json:
        emit_json({"database": _safe_url(engine), "seeded": seeded, **bounds, "counts": counts})
        return 0
    print(f"database: {_safe_url(engine)}")
    if not seeded:
        print("empty: run `gtm data seed` or `gtm data import transactions FILE ...`")
    else:
        print(f"data from {bounds['first_date']} to {bounds['last_date']}")
    for name, count in counts.items():
        print(f"  {name:<20} {count:>8,}")
    return 0
