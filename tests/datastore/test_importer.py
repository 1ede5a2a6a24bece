from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa

from app.data.importer import DataImportError, ImportValidationError, import_transactions
from app.data.schema import customers, orders


def _orders(engine: sa.Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(orders).order_by(orders.c.order_date, orders.c.id)).mappings().all()
    return pd.DataFrame([dict(r) for r in rows])


def _count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def test_csv_happy_path_creates_customers_and_one_order_per_row(empty_engine: sa.Engine, tmp_path: Path) -> None:
    with empty_engine.begin() as conn:
        conn.execute(customers.insert().values(id="C1", name="Known Co", signup_date=date(2023, 1, 1)))
    path = tmp_path / "tx.csv"
    path.write_text(
        "InvoiceNo,Customer ID,InvoiceDate,Total\n"
        "1,C1,2024-01-05,100.50\n"
        "2,17850,2024-01-06,20\n"
        "\n"
        '3,17850,2024-02-01,"$1,234.50"\n'
        "4,C9,2024-03-01,0\n"
    )
    report = import_transactions(empty_engine, path, "Customer ID", "InvoiceDate", "Total")
    assert report.rows == report.orders_created == 4
    assert report.customers_created == 2 and report.customers_existing == 1
    assert report.total_amount == pytest.approx(100.5 + 20 + 1234.5)
    assert (report.first_date, report.last_date) == (date(2024, 1, 5), date(2024, 3, 1))
    assert report.skipped_blank_rows == 1
    assert report.warnings == ["1 rows have a zero amount"]
    frame = _orders(empty_engine)
    assert list(frame["customer_id"]) == ["C1", "17850", "17850", "C9"]
    assert list(frame["amount"]) == [100.5, 20.0, 1234.5, 0.0]
    assert set(frame["source"]) == {"import"} and frame["import_batch"].nunique() == 1
    assert list(frame["id"].str.rsplit("-", n=1).str[1]) == ["2", "3", "5", "6"]  # file line numbers
    with empty_engine.connect() as conn:
        new = conn.execute(sa.select(customers).where(customers.c.id == "17850")).mappings().one()
        known = conn.execute(sa.select(customers).where(customers.c.id == "C1")).mappings().one()
    assert new["source"] == "import" and new["signup_date"] == date(2024, 1, 6)
    assert new["first_order_date"] == date(2024, 1, 6)
    assert known["name"] == "Known Co"  # existing customers are left alone
    assert report.to_dict()["orders_created"] == 4


def test_bad_rows_are_reported_with_line_numbers_and_nothing_is_loaded(empty_engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "cust,day,amount\n"  # line 1
        "A1,2024-01-05,10\n"  # 2 ok
        "A2,2024-01-06,ten\n"  # 3 non-numeric
        "A3,2024-13-45,5\n"  # 4 bad date
        "\n"  # 5 blank
        ",2024-01-07,5\n"  # 6 missing id
        "A5,2024-01-08,-3\n"  # 7 negative
        'A6,"2024-01-09",\n'  # 8 missing amount
        "A7,,4\n"  # 9 missing date
    )
    before_orders, before_customers = _count(empty_engine, orders), _count(empty_engine, customers)
    with pytest.raises(ImportValidationError) as info:
        import_transactions(empty_engine, path, "cust", "day", "amount")
    err = info.value
    assert [p.line for p in err.problems] == [3, 4, 6, 7, 8, 9]
    assert err.total == 6
    messages = {p.line: p.message for p in err.problems}
    assert "not a number" in messages[3]
    assert "2024-13-45" in messages[4]
    assert "missing customer id" in messages[6]
    assert "negative" in messages[7]
    assert "missing amount" in messages[8]
    assert "missing date" in messages[9]
    text = str(err)
    assert text.startswith("6 bad rows") and "line 3:" in text and "line 9:" in text and "nothing imported" in text
    assert _count(empty_engine, orders) == before_orders and _count(empty_engine, customers) == before_customers


def test_more_than_twenty_problems_are_summarised(empty_engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "many.csv"
    path.write_text("c,d,a\n" + "".join(f"X{i},2024-01-01,oops\n" for i in range(30)))
    with pytest.raises(ImportValidationError) as info:
        import_transactions(empty_engine, path, "c", "d", "a")
    assert info.value.total == 30
    text = str(info.value)
    assert text.startswith("30 bad rows") and "line 21:" in text and "line 22:" not in text
    assert "and 10 more" in text


def test_multiline_fields_keep_physical_line_numbers(empty_engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "multi.csv"
    path.write_text('c,note,d,a\nA,"two\nlines",2024-01-01,1\nB,x,2024-01-02,bad\n')
    with pytest.raises(ImportValidationError) as info:
        import_transactions(empty_engine, path, "c", "d", "a")
    assert [p.line for p in info.value.problems] == [4]


def test_date_format_semicolons_and_latin1(empty_engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "eu.csv"
    path.write_bytes("Kunde;Datum;Betrag;Stadt\nK1;31/01/2024;12.5;Köln\nK2;01/02/2024;7;Zürich\n".encode("latin-1"))
    report = import_transactions(empty_engine, path, "kunde", "datum", "betrag", date_format="%d/%m/%Y")
    assert (report.first_date, report.last_date) == (date(2024, 1, 31), date(2024, 2, 1))
    with pytest.raises(ImportValidationError) as info:
        bad = tmp_path / "eu2.csv"
        bad.write_text("c;d;a\nK1;2024-01-31;1\n")
        import_transactions(empty_engine, bad, "c", "d", "a", date_format="%d/%m/%Y")
    assert "expected format %d/%m/%Y" in str(info.value)


def test_us_style_dates_with_times_are_inferred(empty_engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "retail.csv"
    path.write_text("CustomerID,InvoiceDate,Amount\n17850.0,12/1/2010 8:26,15.3\n13047.0,12/13/2010 9:01,20\n")
    import_transactions(empty_engine, path, "CustomerID", "InvoiceDate", "Amount")
    frame = _orders(empty_engine)
    assert list(frame["order_date"]) == [date(2010, 12, 1), date(2010, 12, 13)]
    assert list(frame["customer_id"]) == ["17850", "13047"]


def test_missing_column_lists_the_columns_found(empty_engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id,when,total\nA,2024-01-01,1\n")
    with pytest.raises(DataImportError, match=r"column 'amount' not found.*'id', 'when', 'total'"):
        import_transactions(empty_engine, path, "id", "when", "amount")


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"", "empty.csv", "is empty"),
        (b"   \n\n", "blank.csv", "is empty"),
        (b"c,d,a\n", "header.csv", "no data rows"),
        (b"PK\x03\x04garbage", "broken.xlsx", "not a readable XLSX"),
        (b"\x00\x01\x02binary", "bin.csv", "not a text file"),
        (b"whatever", "old.xls", ".xls format is not supported"),
    ],
)
def test_unusable_files(empty_engine: sa.Engine, tmp_path: Path, content: bytes, name: str, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataImportError, match=message):
        import_transactions(empty_engine, path, "c", "d", "a")


def test_missing_file(empty_engine: sa.Engine, tmp_path: Path) -> None:
    with pytest.raises(DataImportError, match="file not found"):
        import_transactions(empty_engine, tmp_path / "nope.csv", "c", "d", "a")


def test_reimporting_the_same_file_is_refused(empty_engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("c,d,a\nA,2024-01-01,1\n")
    import_transactions(empty_engine, path, "c", "d", "a")
    with pytest.raises(DataImportError, match="already imported"):
        import_transactions(empty_engine, path, "c", "d", "a")
    assert _count(empty_engine, orders) == 1


def _workbook(path: Path) -> None:
    book = openpyxl.Workbook()
    first = book.active
    first.title = "Notes"
    first.append(["nothing here"])
    sheet = book.create_sheet("Sales")
    sheet.append(["Customer", "Date", "Amount"])
    sheet.append([17850, datetime(2024, 3, 1, 9, 30), 99.5])
    sheet.append(["B-2", "2024-03-02", "12"])
    sheet.append([None, None, None])
    sheet.append([17850.0, datetime(2024, 3, 5), 0.5])
    bad = book.create_sheet("Bad")
    bad.append(["Customer", "Date", "Amount"])
    bad.append(["A", datetime(2024, 1, 1), 1])
    bad.append(["B", "soon", 2])
    bad.append(["C", datetime(2024, 1, 2), "n/a"])
    book.save(path)


def test_xlsx_import_with_sheet(empty_engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "sales.xlsx"
    _workbook(path)
    report = import_transactions(empty_engine, path, "Customer", "Date", "Amount", sheet="Sales")
    assert report.orders_created == 3 and report.customers_created == 2 and report.skipped_blank_rows == 1
    frame = _orders(empty_engine)
    assert list(frame["customer_id"]) == ["17850", "B-2", "17850"]
    assert list(frame["order_date"]) == [date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 5)]
    assert list(frame["amount"]) == [99.5, 12.0, 0.5]
    assert list(frame["id"].str.rsplit("-", n=1).str[1]) == ["2", "3", "5"]  # sheet row numbers


def test_xlsx_bad_rows_and_unknown_sheet(empty_engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "sales.xlsx"
    _workbook(path)
    with pytest.raises(ImportValidationError) as info:
        import_transactions(empty_engine, path, "Customer", "Date", "Amount", sheet="Bad")
    assert [p.line for p in info.value.problems] == [3, 4]
    with pytest.raises(DataImportError, match="no sheet 'Nope'; sheets: Notes, Sales, Bad"):
        import_transactions(empty_engine, path, "Customer", "Date", "Amount", sheet="Nope")
    with pytest.raises(DataImportError, match="column 'Customer' not found"):
        import_transactions(empty_engine, path, "Customer", "Date", "Amount")  # first sheet has other columns
    assert _count(empty_engine, orders) == 0
