"""The offline model reads dates as periods and words as arithmetic (found by the exploratory tester)."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from graph.llm.offline import OfflineChatModel
from graph.llm.slots import find_expression, find_periods


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("What was CAC from 2026-03-15 to 2026-04-15?", ["from 2026-03-15 to 2026-04-15"]),
        ("CAC from 15 March to 15 April 2026", ["from 15 March to 15 April 2026"]),
        ("CAC in March 15 to April 15", ["March 15 to April 15"]),  # not "in March"
        ("CAC in 03/2026", ["03/2026"]),
        ("CAC in 2026-03", ["2026-03"]),
        ("CAC on 2026-03-15", ["2026-03-15"]),
        ("CAC since 2025-02-15", ["since 2025-02-15"]),
        ("CAC in H1 2026", ["H1 2026"]),
        ("CAC in the first half of 2026", ["the first half of 2026"]),
        ("Revenue in Q7 2025", ["Q7 2025"]),  # the whole phrase, so the tool can say there is no Q7
        (
            "Revenue last month vs the same month last year",
            ["last month", "the same period a year before last month"],
        ),
        ("CAC Q3 2025 vs the same quarter last year", ["Q3 2025", "the same period a year before Q3 2025"]),
        ("Revenue YTD vs a year ago", ["YTD", "the same period a year before YTD"]),
        ("CAC last month vs last year", ["last month", "last year"]),  # two periods of their own
    ],
)
def test_find_periods_reads_dates_halves_and_a_year_earlier(text: str, expected: list[str]) -> None:
    assert find_periods(text) == expected


@pytest.mark.parametrize(
    ("text", "expression"),
    [
        ("what's 15% of 2.5k", "15% * 2.5k"),
        ("What is $1.2M divided by 4,446?", "$1.2M / 4,446"),
        ("What is 15 percent of $48,000?", "15% * $48,000"),
        ("what's 10 minus 3 plus 2", "10 - 3 + 2"),
        ("3 times 4", "3 * 4"),
        ("1.2M ÷ 12", "1.2M / 12"),
        ("2 to the power of 10", "2 ^ 10"),
        ("(12,000 - 3,000) * 2", "(12,000 - 3,000) * 2"),
        ("what is 2000 * 3", "2000 * 3"),  # a year-like number is still a number
        ("What was CAC from 2026-03-15 to 2026-04-15?", None),  # dates are not arithmetic
        ("CAC in 03/2026", None),
        ("CAC in 2026-03", None),
    ],
)
def test_find_expression_numbers_words_and_dates(text: str, expression: str | None) -> None:
    assert find_expression(text) == expression


@pytest.fixture(scope="module")
def finance() -> OfflineChatModel:
    from pathlib import Path
    from tempfile import mkdtemp

    from app.settings import Settings
    from graph.tools.deps import ToolDeps
    from graph.tools.finance import build_finance_tools

    deps = ToolDeps(engine=None, settings=Settings(home=Path(mkdtemp())))
    return OfflineChatModel(agent="finance").bind_tools(build_finance_tools(deps))  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("request_text", "period"),
    [
        ("What was CAC from 2026-03-15 to 2026-04-15?", "from 2026-03-15 to 2026-04-15"),
        ("CAC in 03/2026", "03/2026"),
        ("CAC in 2026-03", "2026-03"),
        ("CAC in H1 2026", "H1 2026"),
        ("Revenue in Q7 2025", "Q7 2025"),
    ],
)
def test_a_request_with_dates_is_never_the_calculator(
    finance: OfflineChatModel, request_text: str, period: str
) -> None:
    calls = finance.invoke([HumanMessage(request_text)]).tool_calls
    assert calls and all(c["name"] != "calculate" for c in calls), calls
    assert calls[0]["args"]["period"] == period


def test_same_month_last_year_is_one_call_per_period(finance: OfflineChatModel) -> None:
    calls = finance.invoke([HumanMessage("Revenue last month vs the same month last year")]).tool_calls
    assert [(c["name"], c["args"]["period"]) for c in calls] == [
        ("compute_metric", "last month"),
        ("compute_metric", "the same period a year before last month"),
    ]


@pytest.mark.parametrize(
    ("request_text", "expression"),
    [("what's 15% of 2.5k", "15% * 2.5k"), ("What is $1.2M divided by 4,446?", "$1.2M / 4,446")],
)
def test_word_arithmetic_is_the_calculator(finance: OfflineChatModel, request_text: str, expression: str) -> None:
    [call] = finance.invoke([HumanMessage(request_text)]).tool_calls
    assert (call["name"], call["args"]) == ("calculate", {"expression": expression})


def test_a_follow_up_for_the_same_month_last_year(finance: OfflineChatModel) -> None:
    thread = [HumanMessage("What was revenue last month?"), AIMessage("…")]
    calls = finance.invoke([*thread, HumanMessage("and the same month last year?")]).tool_calls
    assert [(c["args"]["metric"], c["args"]["period"]) for c in calls] == [
        ("revenue", "the same period a year before last month")
    ]
