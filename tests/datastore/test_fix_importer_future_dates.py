"""Transactions dated after today are bad rows: the whole file is refused, with the line and the date."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
import sqlalchemy as sa

from app.cli.main import main
from app.data.importer import ImportValidationError, import_transactions
from app.data.schema import customers, orders

TODAY = date(2026, 11, 26)


def _count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_a_row_dated_after_today_rejects_the_file(empty_engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "tx.csv"
    path.write_text("cust,day,amount\nA1,2026-01-05,10\nA2,2030-01-01,20\nA3,2026-11-27,5\nA4,2026-11-26,7\n")
    with pytest.raises(ImportValidationError) as info:
        import_transactions(empty_engine, path, "cust", "day", "amount", today=TODAY)
    err = info.value
    assert [p.line for p in err.problems] == [3, 4]  # today itself (line 5) is fine
    assert err.problems[0].message.startswith("date 2030-01-01 is in the future (today is 2026-11-26)")
    assert "date 2026-11-27 is in the future" in err.problems[1].message
    assert "2 bad rows in tx.csv, nothing imported" in str(err)
    assert _count(empty_engine, orders) == 0 and _count(empty_engine, customers) == 0


def test_future_dates_in_a_workbook_and_with_a_date_format(empty_engine: sa.Engine, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["cust", "day", "amount"])
    sheet.append(["A1", datetime(2026, 3, 1), 10])
    sheet.append(["A2", datetime(2031, 6, 1, 9, 30), 10])
    path = tmp_path / "tx.xlsx"
    book.save(path)
    with pytest.raises(ImportValidationError) as info:
        import_transactions(empty_engine, path, "cust", "day", "amount", today=TODAY)
    assert [(p.line, p.message.split(" (")[0]) for p in info.value.problems] == [
        (3, "date 2031-06-01 is in the future")
    ]

    csv = tmp_path / "dmy.csv"
    csv.write_text("cust,day,amount\nA1,01/12/2026,10\n")  # 1 December 2026, day first
    with pytest.raises(ImportValidationError, match="date 2026-12-01 is in the future"):
        import_transactions(empty_engine, csv, "cust", "day", "amount", date_format="%d/%m/%Y", today=TODAY)
    assert _count(empty_engine, orders) == 0


def test_past_rows_import_as_before(empty_engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "ok.csv"
    path.write_text("cust,day,amount\nA1,2026-01-05,10\nA2,2026-11-26,20\n")
    report = import_transactions(empty_engine, path, "cust", "day", "amount", today=TODAY)
    assert report.orders_created == 2 and report.last_date == TODAY


def test_the_cli_refuses_a_future_dated_file_and_imports_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "future.csv"
    path.write_text("customer,date,amount\nC1,2025-01-02,10\nC2,2999-01-01,20\n")  # 2999: after any real today
    args = ["data", "import", "transactions", str(path), "--customer-col", "customer", "--date-col", "date"]
    assert main([*args, "--amount-col", "amount"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "1 bad row in future.csv, nothing imported: line 3: date 2999-01-01 is in the future" in err
    assert main(["data", "status", "--json"]) == 0
    assert '"orders": 0' in capsys.readouterr().out
