"""Fiscal-year phrases, "next ..." periods and "last N quarters/years" as whole periods (TODAY fixed)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from app.data.periods import parse_period
from app.settings import Settings
from graph.tools.base import FatalToolError
from graph.tools.deps import ToolDeps
from graph.tools.finance import metric

from .conftest import END, Demo

TODAY = date(2026, 11, 26)  # a Thursday in Q4 2026


@pytest.mark.parametrize(
    ("text", "start", "end", "label"),
    [
        ("CAC last fiscal year", date(2025, 1, 1), date(2025, 12, 31), "2025"),
        ("revenue last fiscal year", date(2025, 1, 1), date(2025, 12, 31), "2025"),
        ("previous fiscal year", date(2025, 1, 1), date(2025, 12, 31), "2025"),
        ("prior financial year", date(2025, 1, 1), date(2025, 12, 31), "2025"),
        ("NRR last FY", date(2025, 1, 1), date(2025, 12, 31), "2025"),
        ("this fiscal year", date(2026, 1, 1), TODAY, "2026 year to date"),
        ("current fiscal year", date(2026, 1, 1), TODAY, "2026 year to date"),
        ("next fiscal year", date(2027, 1, 1), date(2027, 12, 31), "2027"),
        ("FY2025", date(2025, 1, 1), date(2025, 12, 31), "2025"),  # as before: the calendar year
    ],
)
def test_fiscal_year_phrases_are_calendar_years(text: str, start: date, end: date, label: str) -> None:
    period = parse_period(text, TODAY)
    assert period is not None, text
    assert (period.start, period.end, period.label) == (start, end, label)


@pytest.mark.parametrize(
    ("text", "today", "start", "end", "label"),
    [
        ("What was our CAC next quarter?", TODAY, date(2027, 1, 1), date(2027, 3, 31), "Q1 2027"),
        ("next quarter", date(2026, 5, 10), date(2026, 7, 1), date(2026, 9, 30), "Q3 2026"),
        ("next month", TODAY, date(2026, 12, 1), date(2026, 12, 31), "December 2026"),
        ("next month", date(2026, 12, 31), date(2027, 1, 1), date(2027, 1, 31), "January 2027"),
        ("next week", TODAY, date(2026, 11, 30), date(2026, 12, 6), "week of 2026-11-30"),
        ("revenue next year", TODAY, date(2027, 1, 1), date(2027, 12, 31), "2027"),
    ],
)
def test_next_periods_are_the_whole_period_after_the_current_one(
    text: str, today: date, start: date, end: date, label: str
) -> None:
    period = parse_period(text, today)
    assert period is not None, text
    assert (period.start, period.end, period.label) == (start, end, label)


@pytest.mark.parametrize(
    ("text", "today", "start", "end", "label"),
    [
        (
            "CAC in the last 2 quarters",
            TODAY,
            date(2026, 4, 1),
            date(2026, 9, 30),
            "last 2 quarters (Q2 2026 to Q3 2026)",
        ),
        ("last two quarters", TODAY, date(2026, 4, 1), date(2026, 9, 30), "last 2 quarters (Q2 2026 to Q3 2026)"),
        ("past 4 quarters", TODAY, date(2025, 10, 1), date(2026, 9, 30), "last 4 quarters (Q4 2025 to Q3 2026)"),
        (
            "last 2 quarters",
            date(2026, 2, 1),
            date(2025, 7, 1),
            date(2025, 12, 31),
            "last 2 quarters (Q3 2025 to Q4 2025)",
        ),
        ("last 1 quarter", TODAY, date(2026, 7, 1), date(2026, 9, 30), "Q3 2026"),
        ("last 3 years", TODAY, date(2023, 1, 1), date(2025, 12, 31), "last 3 years (2023 to 2025)"),
        ("previous 2 years", TODAY, date(2024, 1, 1), date(2025, 12, 31), "last 2 years (2024 to 2025)"),
    ],
)
def test_last_n_quarters_or_years_are_whole_periods_before_the_current_one(
    text: str, today: date, start: date, end: date, label: str
) -> None:
    period = parse_period(text, today)
    assert period is not None, text
    assert (period.start, period.end, period.label) == (start, end, label)


def test_last_n_quarters_compares_with_the_same_number_of_quarters_before() -> None:
    period = parse_period("last 2 quarters", TODAY)
    assert period is not None
    before = period.previous()
    assert (before.start, before.end) == (date(2025, 10, 1), date(2026, 3, 31))


def test_an_actual_figure_for_next_quarter_is_an_error_not_a_past_quarter(demo: Demo, tmp_path: Path) -> None:
    deps = ToolDeps(engine=demo.engine, settings=Settings(home=tmp_path / "home", llm_provider="offline"))
    assert deps.today() == END  # 2025-11-24: next quarter is Q1 2026
    with pytest.raises(FatalToolError) as info:
        metric(deps, "cac", period="next quarter")
    message = str(info.value)
    assert "Q1 2026" in message and "nothing to measure yet" in message
    with pytest.raises(FatalToolError) as info:
        metric(deps, "revenue", period="next quarter")
    assert "Q1 2026" in str(info.value) and "forecast" in str(info.value)
