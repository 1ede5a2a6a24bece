"""Business notation the exploratory tester used: suffixes, "% of", × and ÷, and dates that are not numbers."""

from __future__ import annotations

import io
import json

import pytest

from app.analytics.calculator import CalculatorError, evaluate
from app.cli.main import main


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("15% * 2.5k", 375.0),
        ("15% of 2.5k", 375.0),
        ("$1.2M / 4,446", 1_200_000 / 4446),
        ("10 × 3 ÷ 2", 15.0),
        ("2026-12", 2014.0),  # valid arithmetic stays arithmetic
    ],
)
def test_business_notation(expression: str, expected: float) -> None:
    assert evaluate(expression) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("expression", ["2026-03-15", "03/2026", "2026-03"])
def test_a_date_is_named_as_a_date(expression: str) -> None:
    with pytest.raises(CalculatorError, match="is a date, not a number"):
        evaluate(expression)


def _run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, stdin: str, argv: list[str]) -> str:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_finance_calc_reads_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert _run(capsys, monkeypatch, "2*3\n", ["finance", "calc", "-"]).strip() == "2*3 = 6"
    what_if = "price = 49\nseats = 25\nprice * seats * 12\n"  # one statement per line, variables carried
    data = json.loads(_run(capsys, monkeypatch, what_if, ["finance", "calc", "-", "--json"]))
    assert data["value"] == 14700.0 and data["variables"] == {"price": 49.0, "seats": 25.0}
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["finance", "calc", "-"]) == 2
    assert "empty" in capsys.readouterr().err


def test_finance_sheet_sql_reads_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    sheet = tmp_path / "spend.csv"
    sheet.write_text('channel,spend\nemail,"$1,000"\nevents,$250.50\n')
    sql = "SELECT MAX(spend)\nFROM sheet\n"
    data = json.loads(_run(capsys, monkeypatch, sql, ["finance", "sheet", str(sheet), "--sql", "-", "--json"]))
    assert data["rows"] == [[1000.0]]
