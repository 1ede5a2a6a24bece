from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from app.cli.main import main

from .conftest import CDNOW_DIR


@pytest.fixture
def cdnow_csv(tmp_path, cdnow_raw):
    path = tmp_path / "cdnow.csv"
    cdnow_raw[["customer_id", "date", "amount"]].to_csv(path, index=False)
    return path


def run_json(capsys, argv: list[str]) -> dict:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_insights_bgnbd_json_reproduces_cdnow(capsys, cdnow_csv):
    argv = [
        "insights", "bgnbd", "--transactions", str(cdnow_csv), "--customer-col", "customer_id",
        "--date-col", "date", "--amount-col", "amount", "--observation-end", "1997-09-30",
        "--time-unit", "W", "--date-format", "%Y%m%d", "--json",
    ]  # fmt: skip
    data = run_json(capsys, argv)
    assert {"r", "alpha", "a", "b", "log_likelihood", "n_customers"} <= set(data)
    assert data["n_customers"] == 2357
    for key, expected in {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426, "log_likelihood": -9582.4}.items():
        assert data[key] == pytest.approx(expected, rel=0.01), key
    gg = data["gamma_gamma"]
    for key, expected in {"p": 6.25, "q": 3.74, "gamma": 15.44}.items():
        assert gg[key] == pytest.approx(expected, rel=0.02), key


def test_insights_bgnbd_lifetimes_week_convention_and_days(capsys, cdnow_csv):
    base = [
        "insights", "bgnbd", "--transactions", str(cdnow_csv), "--customer-col", "customer_id",
        "--date-col", "date", "--observation-end", "1997-09-30", "--date-format", "%Y%m%d", "--json",
    ]  # fmt: skip
    weeks = run_json(capsys, [*base, "--time-unit", "W", "--merge-by", "period"])
    days = run_json(capsys, [*base, "--time-unit", "D"])
    assert "gamma_gamma" not in weeks and weeks["merge_by"] == "period"
    assert weeks["r"] != pytest.approx(0.243, rel=0.01)  # calendar weeks merge more purchases
    # Same data in days: r, a, b unchanged, alpha scaled by 7.
    assert days["r"] == pytest.approx(0.243, rel=0.01)
    assert days["alpha"] == pytest.approx(4.414 * 7, rel=0.01)


def test_insights_bgnbd_bad_input_is_one_line_error(capsys, cdnow_csv):
    code = main(
        ["insights", "bgnbd", "--transactions", str(cdnow_csv), "--customer-col", "nope", "--date-col", "date",
         "--observation-end", "1997-09-30", "--json"]
    )  # fmt: skip
    _, err = capsys.readouterr()
    assert code == 2 and err.startswith("error: ") and "nope" in err and err.count("\n") == 1
    code = main(["insights", "bgnbd", "--transactions", str(CDNOW_DIR / "missing.csv"), "--customer-col", "c",
                 "--date-col", "d", "--observation-end", "1997-13-01"])  # fmt: skip
    _, err = capsys.readouterr()
    assert code == 2 and "--observation-end" in err


def test_finance_forecast_json_from_a_file(capsys, tmp_path):
    t = np.arange(48)
    values = 5000 + 40 * t + 600 * np.sin(2 * np.pi * t / 12) + np.random.default_rng(1).normal(0, 80, 48)
    path = tmp_path / "revenue.csv"
    pd.DataFrame(
        {"month": pd.date_range("2021-01-01", periods=48, freq="MS").strftime("%Y-%m-%d"), "revenue": values}
    ).to_csv(path, index=False)
    argv = ["finance", "forecast", "--series", str(path), "--date-col", "month", "--value-col", "revenue",
            "--season-length", "12", "--horizon", "6", "--json"]  # fmt: skip
    data = run_json(capsys, argv)
    assert data["interval"] == 0.8
    assert len(data["mean"]) == len(data["lower"]) == len(data["upper"]) == len(data["dates"]) == 6
    assert all(lo < m < hi for lo, m, hi in zip(data["lower"], data["mean"], data["upper"], strict=True))
    assert data["method"].startswith("ETS(A,A") and data["dates"][0] == "2025-01-01"
    assert data["backtest"]["baseline"] == "seasonal-naive"
    code = main([*argv[:-1]])  # human-readable output
    out, _ = capsys.readouterr()
    assert code == 0 and "Point estimate" in out and "80% interval" in out


def test_finance_forecast_resamples_transactions(capsys, tmp_path):
    rng = np.random.default_rng(2)
    dates = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 365, 2000), unit="D")
    path = tmp_path / "tx.csv"
    pd.DataFrame({"date": dates.strftime("%Y-%m-%d"), "value": rng.gamma(2, 20, 2000)}).to_csv(path, index=False)
    argv = ["finance", "forecast", "--series", str(path), "--resample", "M", "--horizon", "3", "--json"]
    data = run_json(capsys, argv)
    assert data["dates"] == ["2024-01-01", "2024-02-01", "2024-03-01"]
    assert "fewer than 2 full seasons" in data["fallback_reason"]


def test_finance_calc_and_sheet(capsys, tmp_path):
    data = run_json(capsys, ["finance", "calc", "mrr * 12", "--var", "mrr=1,225", "--json"])
    assert data["value"] == 14700.0
    assert main(["finance", "calc", "9**9**9"]) == 2
    assert "exponent" in capsys.readouterr().err
    sheet = tmp_path / "spend.csv"
    sheet.write_text('channel,spend\nemail,"$1,000"\nevents,$250.50\n')
    described = run_json(capsys, ["finance", "sheet", str(sheet), "--json"])
    assert described["tables"][0]["columns"][1]["total"] == 1250.5
    rows = run_json(capsys, ["finance", "sheet", str(sheet), "--sql", "SELECT MAX(spend) FROM sheet", "--json"])
    assert rows["rows"] == [[1000.0]]
    assert main(["finance", "sheet", str(sheet), "--sql", "DROP TABLE sheet"]) == 2
    assert "only SELECT" in capsys.readouterr().err


def test_database_backed_commands(capsys):
    pytest.importorskip("app.data.queries")
    from app.data.db import dispose_engines, get_engine
    from app.data.seed import seed_demo
    from app.settings import get_settings

    seed_demo(get_engine(get_settings().business_db_url), customers=300, seed=7, end_date=dt.date(2025, 6, 30))
    try:
        rfm = run_json(capsys, ["insights", "rfm", "--json"])
        assert rfm["total_customers"] > 0 and rfm["segments"]
        assert sum(s["customers"] for s in rfm["segments"]) == rfm["total_customers"]
        churn = run_json(capsys, ["insights", "churn", "--json"])
        assert {"bgnbd", "bands", "at_risk"} <= set(churn) and churn["bgnbd"]["converged"]
        cohort = run_json(capsys, ["insights", "cohort", "--json"])
        assert cohort["cohorts"] and cohort["retention"][0][0] == 1.0
        leads = run_json(capsys, ["insights", "leads", "--json"])
        assert 0.6 <= leads["auc"] < 0.98  # a real signal, and no leak of the outcome columns
        assert "converted_customer_id" in leads["dropped_features"]
        forecast = run_json(capsys, ["finance", "forecast", "--horizon", "6", "--json"])
        assert len(forecast["mean"]) == 6 and forecast["interval"] == 0.8
        assert forecast["dates"][0] == "2025-07-01"
    finally:
        dispose_engines()


def test_database_commands_explain_an_empty_database(capsys):
    pytest.importorskip("app.data.queries")
    from app.data.db import dispose_engines

    try:
        assert main(["insights", "rfm", "--json"]) == 2
        assert "gtm data seed" in capsys.readouterr().err
        assert main(["finance", "forecast", "--json"]) == 2
        assert "gtm data seed" in capsys.readouterr().err
    finally:
        dispose_engines()
