"""Plain-language sheet questions that add a label's rows up, filter on a value the question names, or divide
one column by another ("revenue per deal"), on real CSV files, through `question_to_sql` and the sheet tool.

Found by testers: "Which rep closed the most deals in total?" ranked single rows (Bob, 5) instead of adding up
each rep's rows (Alice, 6), and "What is the average revenue per deal in this sheet for February?" ignored
both the month and "per deal". Expected numbers are computed with pandas.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from app.analytics.sheets import load_sheet, question_to_sql
from app.settings import Settings
from graph.tools.deps import ToolDeps
from graph.tools.finance import sheet

DEALS_CSV = """rep,deals,revenue,month
Alice,3,3000,January
Bob,5,4000,February
Alice,3,2500,February
Dan,4,5200,February
"""
FRAME = pd.read_csv(io.StringIO(DEALS_CSV))
FEBRUARY = FRAME[FRAME.month == "February"]


def _ask(path: Path, question: str) -> list[list[object]]:
    with load_sheet(path) as db:
        asked = question_to_sql(question, db.columns("sheet"))
        assert asked is not None, question
        return db.query(asked.sql).rows


@pytest.fixture
def deals_csv(tmp_path: Path) -> Path:
    path = tmp_path / "deals.csv"
    path.write_text(DEALS_CSV, encoding="utf-8")
    return path


def test_in_total_adds_up_each_label_before_ranking(deals_csv: Path) -> None:
    totals = FRAME.groupby("rep").deals.sum()
    assert _ask(deals_csv, "Which rep closed the most deals in total?") == [[totals.idxmax(), totals.max()]]
    assert _ask(deals_csv, "Which rep closed the most deals overall?") == [["Alice", 6]]
    assert _ask(deals_csv, "Which rep closed the fewest deals in total?") == [[totals.idxmin(), totals.min()]]
    # without "in total" a single row is ranked, as before
    assert _ask(deals_csv, "Which rep closed the most deals?") == [["Bob", 5]]


def test_a_value_the_question_names_filters_the_rows(deals_csv: Path) -> None:
    assert _ask(deals_csv, "total revenue for February") == [[FEBRUARY.revenue.sum()]]
    assert _ask(deals_csv, "How many deals did Alice close?") == [[FRAME[FRAME.rep == "Alice"].deals.sum()]]
    assert _ask(deals_csv, "total deals for Alice or Bob") == [[FRAME[FRAME.rep.isin(["Alice", "Bob"])].deals.sum()]]
    best = FEBRUARY.groupby("rep").revenue.sum()
    assert _ask(deals_csv, "Which rep had the highest revenue overall in February?") == [[best.idxmax(), best.max()]]
    # "may" as a verb is no month
    with load_sheet(deals_csv) as db:
        columns = db.columns("sheet")
        verb = question_to_sql("which rep may have the most deals in total?", columns)
        plain = question_to_sql("which rep has the most deals in total?", columns)
        assert verb is not None and plain is not None and verb.sql == plain.sql


def test_x_per_y_divides_the_totals(deals_csv: Path) -> None:
    expected = FEBRUARY.revenue.sum() / FEBRUARY.deals.sum()
    rows = _ask(deals_csv, "What is the average revenue per deal in this sheet for February?")
    assert rows == [[pytest.approx(expected)]]
    assert _ask(deals_csv, "revenue per deal") == [[pytest.approx(FRAME.revenue.sum() / FRAME.deals.sum())]]
    by_rep = FRAME.groupby("rep").sum(numeric_only=True)
    ratios = (by_rep.revenue / by_rep.deals).sort_index()
    assert _ask(deals_csv, "revenue per deal by rep") == [[r, pytest.approx(v)] for r, v in ratios.items()]
    assert _ask(deals_csv, "which rep has the highest revenue per deal?") == [
        [ratios.idxmax(), pytest.approx(ratios.max())]
    ]


def test_month_filters_match_abbreviations_and_dates(tmp_path: Path) -> None:
    short = tmp_path / "short.csv"
    short.write_text(DEALS_CSV.replace("January", "Jan").replace("February", "Feb"), encoding="utf-8")
    dated = tmp_path / "dated.csv"
    dated.write_text(DEALS_CSV.replace("January", "2026-01-15").replace("February", "2026-02-10"), encoding="utf-8")
    expected = FEBRUARY.revenue.sum() / FEBRUARY.deals.sum()
    for path in (short, dated):
        question = "What is the average revenue per deal in this sheet for February?"
        assert _ask(path, question) == [[pytest.approx(expected)]], path.name
    assert _ask(dated, "total revenue in February 2026") == [[FEBRUARY.revenue.sum()]]
    assert _ask(dated, "total revenue in February 2025") == [[None]]


def test_the_sheet_tool_answers_with_the_grouped_and_filtered_query(tmp_path: Path) -> None:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "deals-1a2b3c4d.csv").write_text(DEALS_CSV, encoding="utf-8")
    deps = ToolDeps(engine=None, settings=Settings(home=tmp_path))
    most = sheet(deps, question="Which rep closed the most deals in total?")
    assert most["data"]["rows"] == [["Alice", 6]] and "Alice" in most["headline"]
    ratio = sheet(deps, question="What is the average revenue per deal in this sheet for February?")
    assert ratio["data"]["rows"] == [[pytest.approx(975.0)]]
    assert "February" in str(ratio)  # the answer says which rows it read
