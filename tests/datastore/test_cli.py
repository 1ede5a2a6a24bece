from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli.main import main


def _json_out(capsys: pytest.CaptureFixture[str]) -> dict:
    out = capsys.readouterr().out.strip().splitlines()
    return json.loads(out[-1])


def test_seed_status_and_import(capsys: pytest.CaptureFixture[str], isolated_env: Path, tmp_path: Path) -> None:
    assert main(["data", "status", "--json"]) == 0
    status = _json_out(capsys)
    assert status["seeded"] is False and status["first_date"] is None and status["counts"]["customers"] == 0

    assert main(["data", "seed", "--customers", "80", "--seed", "5", "--end-date", "2025-06-30", "--json"]) == 0
    seeded = _json_out(capsys)
    assert seeded["counts"]["customers"] == 80 and seeded["end"] == "2025-06-30" and seeded["seed"] == 5
    assert (isolated_env / "business.db").is_file()  # the default database lives in GTM_HOME

    assert main(["data", "status", "--json"]) == 0
    status = _json_out(capsys)
    assert status["seeded"] is True and status["last_date"] == "2025-06-30"
    assert status["counts"] == seeded["counts"]

    good = tmp_path / "good.csv"
    good.write_text("customer,date,amount\nNEW-1,2025-01-02,10\nC00001,2025-01-03,5.5\n")
    args = ["data", "import", "transactions", str(good), "--customer-col", "customer", "--date-col", "date"]
    assert main([*args, "--amount-col", "amount", "--json"]) == 0
    report = _json_out(capsys)
    assert report["ok"] is True and report["orders_created"] == 2 and report["customers_created"] == 1

    assert main(["data", "status", "--json"]) == 0
    assert _json_out(capsys)["counts"]["orders"] == seeded["counts"]["orders"] + 2


def test_import_bad_rows_exit_2_with_line_numbers(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("c,d,a\nA,2025-01-01,1\nB,2025-01-02,x\nC,2025-01-03,2\nD,someday,3\nE,2025-01-05,-1\n")
    code = main(
        ["data", "import", "transactions", str(bad), "--customer-col", "c", "--date-col", "d", "--amount-col", "a"]
    )
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("error: 3 bad rows") and "line 3:" in err and "line 5:" in err and "line 6:" in err
    assert main(["data", "status", "--json"]) == 0
    assert _json_out(capsys)["counts"]["orders"] == 0  # nothing loaded


def test_import_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("id,day,total\nA,2025-01-01,1\n")
    base = ["data", "import", "transactions", str(path), "--date-col", "day", "--amount-col", "total"]
    assert main([*base, "--customer-col", "customer"]) == 2
    err = capsys.readouterr().err
    assert "column 'customer' not found" in err and "'id', 'day', 'total'" in err
    assert main([*base[:3], str(tmp_path / "missing.csv"), *base[4:], "--customer-col", "id"]) == 2
    assert "file not found" in capsys.readouterr().err


def test_seed_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "seed", "--customers", "0"]) == 2
    assert "--customers must be at least 1" in capsys.readouterr().err
    assert main(["data", "seed", "--end-date", "31/12/2025"]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err


def test_human_readable_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "seed", "--customers", "30", "--end-date", "2025-01-31"]) == 0
    out = capsys.readouterr().out
    assert "seeded the demo company: 2023-01-01 to 2025-01-31" in out and "customers" in out
    assert main(["data", "status"]) == 0
    assert "data from 2023-01-01 to 2025-01-31" in capsys.readouterr().out
