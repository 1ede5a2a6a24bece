from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from app.analytics.sheets import SheetError, describe_sheet, load_sheet, query_sheet, validate_sql

SPEND_CSV = """Channel,Month,Spend ($),Clicks,CTR
paid_search,2024-01-01,"$1,200.50",300,1.5%
paid_social,2024-01-01,$800,200,2%
email,2024-02-01,(50),,0.5%
"""


@pytest.fixture
def spend_file(tmp_path: Path) -> Path:
    path = tmp_path / "spend.csv"
    path.write_text(SPEND_CSV, encoding="utf-8")
    return path


def test_describe_gives_types_totals_and_sample(spend_file):
    description = describe_sheet(spend_file)
    (table,) = description.tables
    assert table.name == "sheet" and table.row_count == 3
    columns = {c.name: c for c in table.columns}
    assert list(columns) == ["channel", "month", "spend", "clicks", "ctr"]
    assert columns["spend"].source_name == "Spend ($)"
    assert columns["spend"].dtype == "real" and columns["spend"].total == pytest.approx(1950.5)
    assert "currency" in columns["spend"].note
    assert columns["clicks"].dtype == "integer" and columns["clicks"].total == 500 and columns["clicks"].non_null == 2
    assert columns["ctr"].total == pytest.approx(0.04)
    assert columns["month"].dtype == "date" and (columns["month"].min, columns["month"].max) == (
        "2024-01-01",
        "2024-02-01",
    )
    assert columns["channel"].top_values[0][1] == 1
    assert table.sample[0] == {
        "channel": "paid_search",
        "month": "2024-01-01",
        "spend": 1200.5,
        "clicks": 300,
        "ctr": 0.015,
    }
    json.dumps(description.to_dict())


def test_good_select_works(spend_file):
    result = query_sheet(
        spend_file,
        "SELECT channel, SUM(spend) AS total FROM sheet WHERE spend > 0 GROUP BY channel ORDER BY total DESC;",
    )
    assert result.columns == ["channel", "total"]
    assert result.rows == [["paid_search", 1200.5], ["paid_social", 800.0]]
    assert not result.truncated
    cte = query_sheet(spend_file, "WITH t AS (SELECT * FROM sheet) SELECT COUNT(*) FROM t UNION ALL SELECT 1")
    assert cte.rows == [[3], [1]]


def test_row_limit_and_time_limit(tmp_path):
    path = tmp_path / "numbers.csv"
    path.write_text("n\n" + "\n".join(str(i) for i in range(50)) + "\n")
    with load_sheet(path) as db:
        result = db.query("SELECT n FROM sheet", max_rows=10)
        assert result.row_count == 10 and result.truncated
        endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT MAX(x) FROM c"
        with pytest.raises(SheetError, match="time limit"):
            db.query(endless, timeout_s=0.2)
        # The database is still usable after an interrupted query.
        assert db.query("SELECT COUNT(*) FROM sheet").rows == [[50]]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("ATTACH DATABASE '/tmp/evil.db' AS evil", "only SELECT"),
        ("DETACH DATABASE main", "only SELECT"),
        ("PRAGMA table_info(sheet)", "only SELECT"),
        ("SELECT 1; DROP TABLE sheet", "exactly one"),
        ("SELECT * FROM sheet; SELECT 2", "exactly one"),
        ("SELECT load_extension('/tmp/evil.so')", "load_extension"),
        ("SELECT readfile('/etc/passwd')", "readfile"),
        ("SELECT zeroblob(1000000000)", "zeroblob"),
        ("INSERT INTO sheet (channel) VALUES ('x')", "only SELECT"),
        ("UPDATE sheet SET spend = 0", "only SELECT"),
        ("DELETE FROM sheet", "only SELECT"),
        ("DROP TABLE sheet", "only SELECT"),
        ("CREATE TABLE t (x)", "only SELECT"),
        ("VACUUM INTO '/tmp/copy.db'", "only SELECT"),
        ("SELECT * FROM sqlite_master", "unknown table"),
        ("SELECT * FROM pragma_table_info('sheet')", "table-valued"),
        ("SELECT * FROM main.sheet", "qualified"),
        ("SELECT * INTO copy FROM sheet", "INTO"),
        ("", "empty"),
        ("SELEC 1", "syntax|only SELECT"),
    ],
)
def test_malicious_or_invalid_sql_is_rejected(spend_file, sql, message):
    with pytest.raises(SheetError, match=message):
        query_sheet(spend_file, sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM sqlite_master",
        "ATTACH DATABASE ':memory:' AS other",
        "PRAGMA table_info(sheet)",
        "SELECT load_extension('x')",
        "INSERT INTO sheet (channel) VALUES ('x')",
        "SELECT * FROM pragma_table_info('sheet')",
    ],
)
def test_sqlite_refuses_even_without_the_validator(spend_file, sql):
    with load_sheet(spend_file) as db, pytest.raises(sqlite3.DatabaseError):
        db._conn.execute(sql).fetchall()


def test_validate_sql_allows_only_known_tables():
    assert validate_sql(" SELECT 1 ; ", ["sheet"]) == "SELECT 1"
    with pytest.raises(SheetError, match="unknown table 'other'"):
        validate_sql("SELECT * FROM other", ["sheet"])


def test_xlsx_with_several_sheets(tmp_path):
    path = tmp_path / "budget.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        pd.DataFrame({"Channel": ["email", "events"], "Budget": [1000, 2500]}).to_excel(
            writer, sheet_name="Q1 Plan", index=False
        )
        pd.DataFrame({"Channel": ["email"], "Actual": [1100.5], "Day": [pd.Timestamp("2024-03-31")]}).to_excel(
            writer, sheet_name="Actuals", index=False
        )
    with load_sheet(path) as db:
        assert db.tables == ["q1_plan", "actuals"]
        result = db.query("SELECT p.channel, a.actual - p.budget FROM q1_plan p JOIN actuals a USING (channel)")
        assert result.rows == [["email", 100.5]]
        described = {t.name: t for t in db.describe().tables}
        assert described["actuals"].columns[2].dtype == "date"
        assert described["q1_plan"].columns[1].total == 3500


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "empty"),
        ("blank.csv", b"\n\n  \n", "empty"),
        ("latin1.csv", "name,amount\nCaf\xe9,3\n".encode("cp1252"), "not valid UTF-8"),
        ("binary.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        ("noheader.csv", b"1,2,3\n4,5,6\n", "looks like data"),
        ("ragged.csv", b"a,b\n1,2\n3,4,5,6\n", "not a well-formed CSV"),
        ("fake.xlsx", b"this is not a workbook", "not a valid XLSX"),
        ("old.xls", b"\xd0\xcf\x11\xe0", "old .xls"),
        ("notes.pdf", b"%PDF-1.4", "unsupported file type"),
    ],
)
def test_malformed_files_give_clear_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SheetError, match=message):
        load_sheet(path)


def test_file_size_limit_and_missing_file(tmp_path, spend_file):
    with pytest.raises(SheetError, match="limit is"):
        load_sheet(spend_file, max_bytes=50)
    with pytest.raises(SheetError, match="not found"):
        load_sheet(tmp_path / "nope.csv")


def test_headers_are_sanitised_and_ambiguous_dates_stay_text(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("Order,,2024 Q1,Order,When\n1,x,5,2,01/02/2024\n2,y,6,3,03/04/2024\n")
    description = describe_sheet(path)
    columns = description.tables[0].columns
    assert [c.name for c in columns] == ["order_", "col_2", "c_2024_q1", "order_1", "when_"]
    assert columns[4].dtype == "text" and "ambiguous" in columns[4].note
    assert any("no header" in w for w in description.warnings)
    # Codes with leading zeros stay text.
    codes = tmp_path / "codes.csv"
    codes.write_text("zip,n\n02139,1\n10001,2\n")
    assert query_sheet(codes, "SELECT zip FROM sheet ORDER BY n").rows == [["02139"], ["10001"]]
    # Semicolon-separated files are detected.
    semi = tmp_path / "semi.csv"
    semi.write_text("a;b\n1;2\n3;4\n")
    assert query_sheet(semi, "SELECT SUM(a), SUM(b) FROM sheet").rows == [[4, 6]]
