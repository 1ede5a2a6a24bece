"""Escape attempts against the two sandboxes users can type into: sheet SQL and the calculator.

Extends `tests/analytics/test_sheets.py` and `test_calculator.py` (statement types, ATTACH, PRAGMA,
`load_extension`, simple dunder names are covered there) with: schema tables under other spellings,
comment and homoglyph tricks, file/OS functions, huge allocations through expressions and recursive
CTEs, Python object-graph walks in the calculator, path tricks in upload names, and a Hypothesis run
that any query text ends as a result or a `SheetError`, never another exception.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.analytics.calculator import CalculatorError, calculate
from app.analytics.sheets import SheetError, load_sheet, query_sheet
from app.web.uploads import safe_name


@pytest.fixture(scope="module")
def sheet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sandbox") / "spend.csv"
    path.write_text("channel,spend\nemail,100\nsearch,250\nsocial,75\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ('SELECT * FROM "sqlite_master"', "unknown table"),
        ("SELECT * FROM [sqlite_schema]", "unknown table"),
        ("SELECT * FROM `SQLITE_MASTER`", "unknown table"),
        ("SELECT * FROM sqlite_temp_master", "unknown table"),
        ("SELECT name FROM (SELECT * FROM sqlite_schema)", "unknown table"),
        ("SELECT * FROM temp.sheet", "qualified"),
        ("SELECT * FROM sheet WHERE 1 = (SELECT count(*) FROM sqlite_master)", "unknown table"),
        ("SELECT * FROM generate_series(1, 10)", "table-valued"),
        ("SELECT * FROM json_each('[1,2]')", "table-valued"),
        ("SELECT writefile('/tmp/h4-escape', 'x')", "writefile"),
        ("SELECT edit('x', 'vi')", "edit"),
        ("SELECT fts3_tokenizer('simple')", "fts3_tokenizer"),
        ("SELECT randomblob(1000000000)", "randomblob"),
        ("SELECT LOAD_EXTENSION('/tmp/evil')", "load_extension"),
        ("SELECT __import__('os')", "no such function|not allowed"),
        ("SELECT 1 /* ; */ ; DROP TABLE sheet", "exactly one"),
        ("SELECT 1 -- harmless\n; DELETE FROM sheet", "exactly one"),
        ("ＳＥＬＥＣＴ * FROM sheet", "syntax|only SELECT|not allowed"),
        ("SELECT * FROM sheet; ATTACH DATABASE '/etc/passwd' AS p", "exactly one"),
        ("WITH x AS (SELECT * FROM sqlite_master) SELECT * FROM x", "unknown table"),
        ("REPLACE INTO sheet VALUES ('x', 1)", "only SELECT"),
        ("SELECT 1 " + "UNION ALL SELECT 1 " * 2000, "limit"),
    ],
)
def test_escapes_are_refused_with_a_clear_message(sheet: Path, sql: str, message: str):
    with pytest.raises(SheetError, match=message):
        query_sheet(sheet, sql)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT length(printf('%.*c', 2000000000, 'x'))",
        "SELECT length(printf('%0999999999d', 1))",
        "WITH RECURSIVE r(s) AS (SELECT 'xxxxxxxx' UNION ALL SELECT s || s FROM r) SELECT length(s) FROM r",
        "SELECT length(replace(printf('%.*c', 9000000, 'x'), 'x', 'yyyyyyyy'))",
        "SELECT length(group_concat(printf('%.*c', 1000000, 'x'))) FROM sheet a, sheet b, sheet c, sheet d",
    ],
)
def test_huge_allocations_stop_at_the_length_limit(sheet: Path, sql: str):
    try:
        result = query_sheet(sheet, sql)
    except SheetError as exc:
        assert re.search("too big|time limit|failed", str(exc)), exc
        return
    assert result.rows == [[None]]  # SQLite's printf gives NULL past the length limit instead of the string


def test_cartesian_explosions_stop_at_the_time_limit(sheet: Path):
    endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c, sheet"
    with load_sheet(sheet) as db:
        with pytest.raises(SheetError, match="time limit"):
            db.query(endless, timeout_s=0.3)
        many = db.query("SELECT * FROM sheet a, sheet b, sheet c, sheet d, sheet e, sheet f", max_rows=50)
        assert many.row_count == 50 and many.truncated  # 729 rows exist: only the cap comes back
        assert db.query("SELECT sum(spend) FROM sheet").rows == [[425]]  # still usable


def test_the_sheet_cannot_be_changed_through_a_query(sheet: Path):
    with load_sheet(sheet) as db:
        for sql in ("UPDATE sheet SET spend = 0", "DELETE FROM sheet", "DROP TABLE sheet"):
            with pytest.raises(SheetError):
                db.query(sql)
        assert db.query("SELECT count(*), sum(spend) FROM sheet").rows == [[3, 425]]


@settings(max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sql=st.one_of(
        st.text(max_size=120),
        st.lists(
            st.sampled_from(
                [
                    "SELECT",
                    "*",
                    "FROM",
                    "sheet",
                    "sqlite_master",
                    "WHERE",
                    "(",
                    ")",
                    ",",
                    ";",
                    "'x'",
                    "1",
                    "UNION",
                    "ATTACH",
                    "PRAGMA",
                    "load_extension(",
                    "printf('%.*c',",
                    "99999999",
                    "--",
                    "/*",
                    "*/",
                    "WITH",
                    "AS",
                    "RECURSIVE",
                    "||",
                    "JOIN",
                    "temp.",
                    "main.",
                    '"',
                    "`",
                    "[",
                    "]",
                ]  # fmt: skip
            ),
            max_size=25,
        ).map(" ".join),
    )
)
def test_any_query_text_is_a_result_or_a_clear_error(sheet: Path, sql: str):
    try:
        result = query_sheet(sheet, sql)
    except SheetError as exc:
        assert str(exc) and "Traceback" not in str(exc)
        return
    assert result.row_count <= 1000


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("().__class__.__bases__[0].__subclasses__()", "not allowed"),
        ("open('/etc/passwd')", "unknown function 'open'|only numbers"),
        ("exec('import os')", "unknown function 'exec'|only numbers"),
        ("globals()", "unknown function 'globals'"),
        ("__builtins__", "unknown name '__builtins__'"),
        ("x = 2; x.__class__", "not allowed"),
        ("10 ** 10 ** 10", "exponent|too large"),
        ("max(" + ",".join(["1"] * 150) + ")", "takes 1 to 100"),
        ("getattr(1, 'real')", "unknown function 'getattr'"),
    ],
)
def test_calculator_escapes_are_refused(expression: str, message: str):
    with pytest.raises(CalculatorError, match=message):
        calculate(expression)


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd.csv",
        "..\\..\\windows\\win.ini.csv",
        "/etc/cron.d/x.csv",
        "a/../../b.xlsx",
        "\x00.csv",
        "..csv",
    ],
)
def test_upload_names_stay_in_the_uploads_folder(tmp_path: Path, name: str):
    uploads = tmp_path / "uploads"
    saved = uploads / safe_name(name)
    assert saved.resolve().parent == uploads.resolve()
    assert "/" not in safe_name(name) and "\\" not in safe_name(name) and not safe_name(name).startswith(".")
