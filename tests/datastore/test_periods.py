from __future__ import annotations

from datetime import date

import pytest

from app.data.periods import Period, add_months, parse_period

TODAY = date(2025, 11, 24)  # a Monday in Q4

CASES = [
    ("last quarter", date(2025, 7, 1), date(2025, 9, 30), "Q3 2025"),
    ("what was our CAC last quarter?", date(2025, 7, 1), date(2025, 9, 30), "Q3 2025"),
    ("previous quarter", date(2025, 7, 1), date(2025, 9, 30), "Q3 2025"),
    ("this quarter", date(2025, 10, 1), TODAY, "Q4 2025 quarter to date"),
    ("QTD", date(2025, 10, 1), TODAY, "Q4 2025 quarter to date"),
    ("Q3 2025", date(2025, 7, 1), date(2025, 9, 30), "Q3 2025"),
    ("q1 2024", date(2024, 1, 1), date(2024, 3, 31), "Q1 2024"),
    ("2024 Q2", date(2024, 4, 1), date(2024, 6, 30), "Q2 2024"),
    ("Q4 '24", date(2024, 10, 1), date(2024, 12, 31), "Q4 2024"),
    ("Q3", date(2025, 7, 1), date(2025, 9, 30), "Q3 2025"),
    ("Q4", date(2025, 10, 1), TODAY, "Q4 2025 to date"),
    ("last month", date(2025, 10, 1), date(2025, 10, 31), "October 2025"),
    ("this month", date(2025, 11, 1), TODAY, "November 2025 month to date"),
    ("last 30 days", date(2025, 10, 26), TODAY, None),
    ("last 90 days", date(2025, 8, 27), TODAY, None),
    ("past 7 days", date(2025, 11, 18), TODAY, None),
    ("last week", date(2025, 11, 17), date(2025, 11, 23), None),
    ("this week", date(2025, 11, 24), TODAY, None),
    ("this year", date(2025, 1, 1), TODAY, "2025 year to date"),
    ("YTD", date(2025, 1, 1), TODAY, "2025 year to date"),
    ("year to date", date(2025, 1, 1), TODAY, "2025 year to date"),
    ("last year", date(2024, 1, 1), date(2024, 12, 31), "2024"),
    ("2025", date(2025, 1, 1), TODAY, "2025 to date"),
    ("revenue in 2024", date(2024, 1, 1), date(2024, 12, 31), "2024"),
    ("March 2025", date(2025, 3, 1), date(2025, 3, 31), "March 2025"),
    ("sept 2024", date(2024, 9, 1), date(2024, 9, 30), "September 2024"),
    ("2025-02", date(2025, 2, 1), date(2025, 2, 28), "February 2025"),
    ("in march", date(2025, 3, 1), date(2025, 3, 31), "March 2025"),
    ("in december", date(2024, 12, 1), date(2024, 12, 31), "December 2024"),
    ("last 6 months", date(2025, 5, 25), TODAY, None),
    ("trailing twelve months", date(2024, 11, 25), TODAY, None),
    ("since January", date(2025, 1, 1), TODAY, None),
    ("since december", date(2024, 12, 1), TODAY, None),
    ("since March 2024", date(2024, 3, 1), TODAY, None),
    ("since 2025-02-15", date(2025, 2, 15), TODAY, None),
    ("2024-01-01 to 2024-03-31", date(2024, 1, 1), date(2024, 3, 31), None),
    ("yesterday", date(2025, 11, 23), date(2025, 11, 23), None),
    ("the quarter before last quarter", date(2025, 4, 1), date(2025, 6, 30), "Q2 2025"),
    ("quarter before Q1 2025", date(2024, 10, 1), date(2024, 12, 31), "Q4 2024"),
    ("the month before March 2025", date(2025, 2, 1), date(2025, 2, 28), "February 2025"),
    ("the month before last month", date(2025, 9, 1), date(2025, 9, 30), "September 2025"),
    ("the year before last year", date(2023, 1, 1), date(2023, 12, 31), "2023"),
    ("the week before last week", date(2025, 11, 10), date(2025, 11, 16), "week of 2025-11-10"),
    ("the month before last 30 days", date(2025, 9, 26), date(2025, 10, 25), None),  # a window: its own length
    ("the month before last", date(2025, 9, 1), date(2025, 9, 30), "September 2025"),
    ("the quarter before last?", date(2025, 4, 1), date(2025, 6, 30), "Q2 2025"),
    ("FY2024", date(2024, 1, 1), date(2024, 12, 31), "2024"),
    ("CAC for FY24", date(2024, 1, 1), date(2024, 12, 31), "2024"),
]


@pytest.mark.parametrize(("text", "start", "end", "label"), CASES)
def test_parse_period(text: str, start: date, end: date, label: str | None) -> None:
    period = parse_period(text, TODAY)
    assert period is not None, text
    assert (period.start, period.end) == (start, end)
    if label is not None:
        assert period.label == label


@pytest.mark.parametrize("text", ["hello", "segment customers with RFM", "may i see revenue", ""])
def test_no_period(text: str) -> None:
    assert parse_period(text, TODAY) is None


def test_last_quarter_in_january_is_previous_year() -> None:
    period = parse_period("last quarter", date(2025, 1, 10))
    assert period is not None
    assert (period.start, period.end, period.label) == (date(2024, 10, 1), date(2024, 12, 31), "Q4 2024")


def test_last_month_in_january_and_month_end_clamping() -> None:
    period = parse_period("last month", date(2025, 1, 31))
    assert period is not None and (period.start, period.end) == (date(2024, 12, 1), date(2024, 12, 31))
    assert add_months(date(2025, 3, 31), -1) == date(2025, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)


@pytest.mark.parametrize(
    ("text", "start", "end", "label"),
    [
        ("Q3 2025", date(2025, 4, 1), date(2025, 6, 30), "Q2 2025"),  # the quarter before, not the 92 days before
        ("Q1 2025", date(2024, 10, 1), date(2024, 12, 31), "Q4 2024"),
        ("October 2025", date(2025, 9, 1), date(2025, 9, 30), "September 2025"),
        ("March 2024", date(2024, 2, 1), date(2024, 2, 29), "February 2024"),
        ("2024", date(2023, 1, 1), date(2023, 12, 31), "2023"),
        ("2025-01-01 to 2025-02-28", date(2024, 11, 1), date(2024, 12, 31), "2024-11-01 to 2024-12-31"),
        ("last 30 days", date(2025, 9, 26), date(2025, 10, 25), None),  # not whole months: the same number of days
        ("Q4", date(2025, 8, 7), date(2025, 9, 30), None),  # a quarter to date (55 days)
    ],
)
def test_previous_period(text: str, start: date, end: date, label: str | None) -> None:
    period = parse_period(text, TODAY)
    assert period is not None
    prev = period.previous()
    assert (prev.start, prev.end) == (start, end), prev
    if label is not None:
        assert prev.label == label


def test_period_validation_and_dict() -> None:
    with pytest.raises(ValueError):
        Period(date(2025, 2, 1), date(2025, 1, 1), "bad")
    p = Period.between(date(2025, 1, 1), date(2025, 1, 31))
    assert p.to_dict() == {"start": "2025-01-01", "end": "2025-01-31", "label": "2025-01-01 to 2025-01-31", "days": 31}
    assert p.contains(date(2025, 1, 15)) and not p.contains(date(2025, 2, 1))


def test_a_quarter_to_date_in_q1_is_compared_with_the_same_dates_a_year_earlier() -> None:
    """Q1 to date and January to date start on 1 January: they are years to date, as the docstring says."""
    for text, today in (("this quarter", date(2026, 2, 15)), ("this month", date(2026, 1, 20))):
        period = parse_period(text, today)
        assert period is not None and period.start == date(2026, 1, 1) and period.end == today
        prev = period.previous()
        assert (prev.start, prev.end) == (date(2025, 1, 1), date(today.year - 1, today.month, today.day))
    april = parse_period("this quarter", date(2026, 5, 10))  # from April on: the same number of days before
    assert april is not None
    prev = april.previous()
    assert prev.end == date(2026, 3, 31) and prev.days == april.days
