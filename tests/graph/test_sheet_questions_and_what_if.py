"""Questions in words about an uploaded sheet, SQL naming its columns, and what-if scenarios on real figures.

Found by exploratory testing: with a budget sheet uploaded, "which department went most over budget in Q2?",
"total Q1 budget in the sheet" and "Query the sheet: SELECT … q2_budget …" ran the company budget variance, "which
department had the highest q1_actual?" only listed the column totals, and "what would MRR be if we add 120 Growth
accounts at $199?" answered today's MRR. Expected numbers are computed here with pandas or plain arithmetic.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from app.analytics.sheets import SheetError, load_sheet, question_to_sql
from app.data.db import get_engine
from app.settings import Settings
from graph.llm.offline import _tool_spec
from graph.llm.planner import plan_tool_calls
from graph.tools.base import InvalidToolInput
from graph.tools.deps import ToolDeps
from graph.tools.finance import build_finance_tools, metric, sheet, what_if
from tests.graph.conftest import offline_settings

BUDGET_CSV = """department,q1_budget,q1_actual,q2_budget,q2_actual
Marketing,120000,131500,125000,142300
Sales,200000,195400,210000,218900
Engineering,350000,362000,360000,355500
Support,80000,78200,82000,91800
Finance,60000,59100,62000,61000
"""
FRAME = pd.read_csv(__import__("io").StringIO(BUDGET_CSV))


@pytest.fixture
def home(tmp_path: Path) -> Path:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / "budget-0a1b2c3d.csv").write_text(BUDGET_CSV, encoding="utf-8")
    return tmp_path


@pytest.fixture
def sheet_deps(home: Path) -> ToolDeps:
    return ToolDeps(engine=None, settings=Settings(home=home))


@pytest.fixture
def deps(tmp_path: Path, seeded_db: Path) -> ToolDeps:
    settings: Settings = offline_settings(tmp_path, seeded_db, tmp_path)
    return ToolDeps(engine=get_engine(settings.business_db_url), settings=settings)


def _plan(deps: ToolDeps, request: str) -> list[dict]:
    specs = [_tool_spec(t) for t in build_finance_tools(deps) if not t.metadata.get("internal")]
    return plan_tool_calls(request, specs)


# ----------------------------------------------------------------------------- the sheet
def test_questions_in_words_become_queries_over_the_sheets_columns(home: Path) -> None:
    over = FRAME.assign(over=FRAME.q2_actual - FRAME.q2_budget).sort_values("over", ascending=False).iloc[0]
    under = FRAME.assign(over=FRAME.q1_actual - FRAME.q1_budget).sort_values("over").iloc[0]
    top = FRAME.sort_values("q1_actual", ascending=False).iloc[0]
    low2 = FRAME.sort_values("q1_budget").head(2)
    with load_sheet(home / "uploads" / "budget-0a1b2c3d.csv") as db:
        columns = db.columns("sheet")

        def ask(question: str) -> list[list[object]]:
            asked = question_to_sql(question, columns)
            assert asked is not None, question
            return db.query(asked.sql).rows

        assert ask("which department went most over budget in Q2?") == [
            [over.department, over.q2_actual, over.q2_budget, over.q2_actual - over.q2_budget]
        ]
        assert ask("Which department was most under budget in Q1?")[0][0] == under.department
        assert ask("which department had the highest q1_actual?") == [[top.department, top.q1_actual]]
        assert ask("bottom 2 departments by lowest Q1 budget") == low2[["department", "q1_budget"]].values.tolist()
        assert ask("total Q1 budget in the sheet") == [[FRAME.q1_budget.sum()]]
        assert ask("average q2 actual") == [[pytest.approx(FRAME.q2_actual.mean())]]
        assert ask("q2_actual over q2_budget by department")[0][3] == max(FRAME.q2_actual - FRAME.q2_budget)
        assert ask("which department had the highest q1_actaul?") == [[top.department, top.q1_actual]]  # typo
        assert question_to_sql("Describe and total this sheet", columns) is None
        for question in ("which department had the highest q3_actual?", "total q3 budget in the sheet"):
            with pytest.raises(SheetError, match="no column 'q3.actual'|no column 'q3 budget'") as error:
                question_to_sql(question, columns)
            assert "department, q1_budget, q1_actual, q2_budget, q2_actual" in str(error.value)


def test_the_sheet_tool_answers_the_question_and_runs_sql(sheet_deps: ToolDeps) -> None:
    answer = sheet(sheet_deps, question="which department went most over budget in Q2?")
    assert "Marketing" in answer["headline"] and "17,300" in answer["headline"]
    assert answer["data"]["rows"] == [["Marketing", 142300, 125000, 17300]]
    total = sheet(sheet_deps, question="total Q1 budget in the sheet")
    assert total["data"]["rows"] == [[int(FRAME.q1_budget.sum())]] and "810,000" in total["headline"]
    sql = "SELECT department, q2_budget FROM sheet ORDER BY q2_budget DESC LIMIT 1"
    ran = sheet(sheet_deps, sql=sql, question=f"Query the sheet: {sql}")
    assert ran["data"]["rows"] == [["Engineering", 360000]]
    described = sheet(sheet_deps, question="Describe and total this sheet")
    assert f"Total of q2_actual: {FRAME.q2_actual.sum():,.2f}" in described["facts"]
    with pytest.raises(InvalidToolInput, match="no column 'q3_actual'.*q2_actual"):
        sheet(sheet_deps, question="which department had the highest q3_actual?")
    with pytest.raises(InvalidToolInput, match="no such column: q3_budget; the columns are sheet: department"):
        sheet(sheet_deps, sql="SELECT SUM(q3_budget) FROM sheet")


@pytest.mark.parametrize(
    "request_text",
    [
        "which department went most over budget in Q2?",
        "total Q1 budget in the sheet",
        "Query the sheet: SELECT department, q2_budget FROM sheet ORDER BY q2_budget DESC",
        "which department had the highest q1_actual?",
        "Describe and total this sheet",
    ],
)
def test_requests_about_the_uploaded_sheet_go_to_the_sheet_tool(sheet_deps: ToolDeps, request_text: str) -> None:
    (call,) = _plan(sheet_deps, request_text)
    assert call["name"] == "query_sheet"
    assert call["args"]["question"] == request_text
    if "SELECT" in request_text:
        assert call["args"]["sql"] == request_text.split(": ", 1)[1]


def test_without_an_upload_the_books_still_answer_budget_questions(tmp_path: Path) -> None:
    deps = ToolDeps(engine=None, settings=Settings(home=tmp_path))
    (call,) = _plan(deps, "Are we over budget this quarter?")
    assert (call["name"], call["args"]["metric"]) == ("compute_metric", "budget_variance")


# ----------------------------------------------------------------------------- what-ifs
def test_what_would_mrr_be_adds_the_accounts_to_the_current_mrr(deps: ToolDeps) -> None:
    (call,) = _plan(deps, "What would MRR be if we add 120 Growth accounts at $199?")
    assert call["name"] == "what_if"
    result = what_if(deps, **call["args"])
    current = metric(deps, "mrr")["data"]["result"]
    assert result["data"]["current"] == pytest.approx(current)
    assert result["data"]["scenario"] == pytest.approx(current + 120 * 199)
    assert f"${current + 120 * 199:,.2f}" in result["headline"] and "120 * 199 = 23,880" in " ".join(result["facts"])


def test_a_spend_buys_customers_at_the_current_cac(deps: ToolDeps) -> None:
    (call,) = _plan(deps, "If we spend $1.2M on acquisition, how many customers would we get?")
    assert call["name"] == "what_if"
    result = what_if(deps, **call["args"])
    cac = metric(deps, "cac")["data"]["result"]
    assert result["data"]["customers"] == pytest.approx(1_200_000 / cac, abs=0.01)
    assert f"about {1_200_000 / cac:,.0f} new customers" in result["headline"]


def test_other_scenarios_and_plain_questions(deps: ToolDeps) -> None:
    arr = metric(deps, "arr")["data"]["result"]
    lost = what_if(deps, metric="arr", question="What would ARR be if we lose 30 Starter customers?")
    assert lost["data"]["scenario"] == pytest.approx(arr - 30 * 49 * 12)
    cac = metric(deps, "cac")["data"]["result"]
    assert what_if(deps, question="What if CAC rises 10%?", metric="cac")["data"]["scenario"] == pytest.approx(
        cac * 1.1
    )
    assert what_if(deps, question="what if we charge 1000 * 49 * 1.1")["data"]["value"] == pytest.approx(53900)
    for request, tool in [("What's our MRR?", "compute_metric"), ("What is 15% of 48,000?", "calculate")]:
        assert _plan(deps, request)[0]["name"] == tool
    with pytest.raises(InvalidToolInput, match="added accounts change MRR or ARR"):
        what_if(deps, metric="cac", question="what would CAC be if we add 10 accounts at $49")


def test_a_percentage_that_changes_another_figure_is_not_applied_to_the_metric(deps: ToolDeps) -> None:
    """Found by review: "MRR if churn drops by 2%" answered "MRR falls 2%", the wrong way round."""
    with pytest.raises(InvalidToolInput, match="a change in churn is not modelled"):
        what_if(deps, metric="mrr", question="What would MRR be if churn drops by 2%?")
    mrr = metric(deps, "mrr")["data"]["result"]
    raised = what_if(deps, metric="mrr", question="What would MRR be if we raised prices by 10%?")
    assert raised["data"]["scenario"] == pytest.approx(mrr * 1.1)  # a price change scales recurring revenue
    grown = what_if(deps, metric="mrr", question="What would MRR be if it grows 5%?")
    assert grown["data"]["scenario"] == pytest.approx(mrr * 1.05)
