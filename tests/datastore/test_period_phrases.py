"""Periods the exploratory tester asked for: explicit ranges, numeric months, halves, a year earlier."""

from __future__ import annotations

from datetime import date

import pytest

from app.data.periods import parse_period

TODAY = date(2026, 11, 26)  # the demo data's last day: H2 and Q4 under way


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("What was CAC from 2026-03-15 to 2026-04-15?", date(2026, 3, 15), date(2026, 4, 15)),
        ("between 2026-04-15 and 2026-03-15", date(2026, 3, 15), date(2026, 4, 15)),
        ("from 15 March to 15 April 2026", date(2026, 3, 15), date(2026, 4, 15)),
        ("March 15 - April 15, 2026", date(2026, 3, 15), date(2026, 4, 15)),
        ("15th of March 2026 until 20th of March 2026", date(2026, 3, 15), date(2026, 3, 20)),
        ("from 15 December to 15 January 2026", date(2025, 12, 15), date(2026, 1, 15)),  # wraps the new year
        ("from 15 March to 15 April", date(2026, 3, 15), date(2026, 4, 15)),  # no year: the latest one
        ("CAC in 03/2026", date(2026, 3, 1), date(2026, 3, 31)),
        ("CAC in 3/2026", date(2026, 3, 1), date(2026, 3, 31)),
        ("CAC in 2026-03", date(2026, 3, 1), date(2026, 3, 31)),
        ("CAC in 2026/03", date(2026, 3, 1), date(2026, 3, 31)),
        ("CAC on 2026-03-15", date(2026, 3, 15), date(2026, 3, 15)),  # one day, not the year 2026
        ("CAC in H1 2026", date(2026, 1, 1), date(2026, 6, 30)),
        ("CAC in H2 2025", date(2025, 7, 1), date(2025, 12, 31)),
        ("CAC in H2 2026", date(2026, 7, 1), TODAY),  # under way: cut at today
        ("2026 H1", date(2026, 1, 1), date(2026, 6, 30)),
        ("1H 2026", date(2026, 1, 1), date(2026, 6, 30)),
        ("h1 '25", date(2025, 1, 1), date(2025, 6, 30)),
        ("the first half of 2025", date(2025, 1, 1), date(2025, 6, 30)),
        ("second half of 2025", date(2025, 7, 1), date(2025, 12, 31)),
        ("H1", date(2026, 1, 1), date(2026, 6, 30)),
        ("the same period a year before last month", date(2025, 10, 1), date(2025, 10, 31)),
        ("the same period a year before Q3 2025", date(2024, 7, 1), date(2024, 9, 30)),
        ("the same period a year before YTD", date(2025, 1, 1), date(2025, 11, 26)),
        ("the same month last year", date(2025, 11, 1), date(2025, 11, 30)),
        ("the same quarter last year", date(2025, 10, 1), date(2025, 12, 31)),
    ],
)
def test_parse_dates_ranges_and_halves(text: str, start: date, end: date) -> None:
    period = parse_period(text, TODAY)
    assert period is not None, text
    assert (period.start, period.end) == (start, end), period


@pytest.mark.parametrize(
    ("text", "label", "previous"),
    [
        ("H1 2026", "H1 2026", "H2 2025"),
        ("H2 2025", "H2 2025", "H1 2025"),
        ("the same period a year before last month", "October 2025", "September 2025"),
    ],
)
def test_half_and_year_earlier_labels(text: str, label: str, previous: str) -> None:
    period = parse_period(text, TODAY)
    assert period is not None and period.label == label
    assert period.previous().label == previous


@pytest.mark.parametrize("text", ["YTD", "this year", "2026", "year to date"])
def test_year_to_date_is_compared_with_the_same_dates_last_year(text: str) -> None:
    period = parse_period(text, TODAY)
    assert period is not None
    prev = period.previous()
    assert (prev.start, prev.end) == (date(2025, 1, 1), date(2025, 11, 26)), prev
    assert prev.label == "same dates of 2025"


def test_year_to_date_on_a_month_end_and_a_leap_day() -> None:
    ytd = parse_period("YTD", date(2026, 3, 31))  # whole months, but still a year to date
    assert ytd is not None and (ytd.previous().start, ytd.previous().end) == (date(2025, 1, 1), date(2025, 3, 31))
    leap = parse_period("YTD", date(2024, 2, 29))
    assert leap is not None and leap.previous().end == date(2023, 2, 28)
    q1 = parse_period("Q1 2025", TODAY)  # a quarter starting on 1 January is still compared with Q4
    assert q1 is not None and q1.previous().label == "Q4 2024"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Revenue in Q7 2025", "there is no Q7"),
        ("Q0", "there is no Q0"),
        ("H3 2026", "there is no H3"),
        ("15/03/2026", "YYYY-MM-DD"),
        ("from 31 April to 3 May 2026", "not a valid date"),
        ("2026-02-30", "not a valid date"),
    ],
)
def test_periods_that_do_not_exist_are_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_period(text, TODAY)
