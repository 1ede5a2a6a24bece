"""Reporting periods from everyday phrases: "last quarter", "Q3 2025", "March 2025", "last 30 days", "YTD"...

`parse_period(text, today)` finds the first period phrase in a request ("what was our CAC last quarter?"
works) and returns an inclusive date range. `today` is the reference date: for the demo pass the last date
of the data (`queries.data_bounds(engine)[1]`) so "last month" means the data's last month. A period that
runs past `today` is cut at `today` and its label says "to date".
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
"""Full month names → month number."""
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
MONTHS["sept"] = 9
_MONTH_RE = "|".join(sorted(MONTHS, key=len, reverse=True))
_UNITS = {"day": "day", "days": "day", "week": "week", "weeks": "week", "month": "month", "months": "month"}
_UNITS.update({"year": "year", "years": "year", "quarter": "quarter", "quarters": "quarter"})
WHOLE_UNITS = ("quarter", "year")
"""Units of "last N ..." read as the N whole calendar units before the current one ("last 2 quarters" in
November: Q2 and Q3). Days, weeks and months stay rolling windows ending today ("last 30 days", "last 6 months",
as the burn default "last 3 months" and the tests pin)."""
_YEAR_WORD = r"(?:(?:fiscal|financial)\s+year|fy|year)\b"
"""A year as relative phrases name it: "year", "fiscal year", "financial year", "FY" (the fiscal year is the
calendar year, as for "FY2025")."""
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}
_NUMBER_WORDS.update({"nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "a": 1})
_DAY = r"(?:3[01]|[12]\d|0?[1-9])(?:st|nd|rd|th)?"
_MONTH_WORD = rf"\b(?:{_MONTH_RE})\b\.?"
DATE_PATTERN = (
    rf"(?:\d{{4}}-\d{{2}}-\d{{2}}\b|{_DAY}\s+(?:of\s+)?{_MONTH_WORD}(?:,?\s*\d{{4}}\b)?"
    rf"|{_MONTH_WORD}\s*{_DAY}(?![\d:])(?:,?\s*\d{{4}}\b)?)"
)
"""One calendar date: "2026-03-15", "15 March", "15th of March 2026", "March 15, 2026" (lower-case text)."""
DATE_RANGE_PATTERN = (
    rf"(?:\b(?:from|between)\s+)?({DATE_PATTERN})\s*(?:to|through|thru|until|till|and|-|–|—|\.\.)\s*({DATE_PATTERN})"
)
"""An explicit range of two dates: "2026-03-15 to 2026-04-15", "from 15 March to 15 April 2026"."""
NUMERIC_MONTH_PATTERN = r"(?<![\d/.-])(?:(0?[1-9]|1[0-2])/(\d{4})|(\d{4})[/-](0[1-9]|1[0-2]))(?![\d/-])"
"""A month in digits: "03/2026", "3/2026", "2026-03", "2026/03" (not a part of a longer date)."""
NUMERIC_DATE_PATTERN = r"(?<![\d/])\d{1,2}/\d{1,2}/\d{2,4}(?![\d/])"
"""A date in digits only ("15/03/2026", "3/4/26"): day-first or month-first cannot be told apart."""
SAME_LAST_YEAR_PATTERN = (
    r"\b(?:the\s+)?same\s+(month|quarter|half|week|period|dates?|days?|time)\s+"
    r"(?:(?:of\s+)?last|a|one|the\s+previous|the\s+prior|previous|prior)\s+year\b"
    r"|\b(?:a|one)\s+year\s+(?:ago|earlier|before)\b"
)
"""A period one year before another ("last month vs the same month last year", "vs a year ago")."""


@dataclass(frozen=True)
class Period:
    """An inclusive date range with a human label."""

    start: date
    """First day (inclusive)."""
    end: date
    """Last day (inclusive)."""
    label: str
    """How to name the period in an answer, e.g. `Q3 2025`."""

    def __post_init__(self) -> None:
        """Reject empty ranges."""
        if self.end < self.start:
            raise ValueError(f"period {self.label!r} ends ({self.end}) before it starts ({self.start})")

    @property
    def days(self) -> int:
        """Number of days in the period."""
        return (self.end - self.start).days + 1

    @property
    def months(self) -> float:
        """Length in average months (days / 30.4375)."""
        return self.days / (365.25 / 12)

    def contains(self, day: date) -> bool:
        """Whether `day` falls inside the period."""
        return self.start <= day <= self.end

    def previous(self) -> Period:
        """The period just before this one, for period-over-period comparisons.

        Whole calendar months step back by as many months (Q3 → Q2, October → September, 2025 → 2024), so a
        quarter is compared with the quarter before it, not with the 92 days before it (which started on
        31 March). A year to date (1 January to a day before 31 December) is compared with the same dates a
        year earlier; so is a quarter to date in Q1 or a month to date in January, which are the same dates
        (there is no earlier stretch of the year to compare them with). Any other period ("last 30 days", a
        quarter to date from April on) is compared with the same number of days ending the day before it starts.
        """
        if self._is_year_to_date():
            return year_earlier(self)
        end = self.start - timedelta(days=1)
        if self._is_whole_months():
            months = (self.end.year - self.start.year) * 12 + self.end.month - self.start.month + 1
            start = add_months(self.start, -months)
            return Period(start, end, _months_label(start, end, months))
        start = end - timedelta(days=self.days - 1)
        return Period(start, end, f"previous {self.days} days ({start.isoformat()} to {end.isoformat()})")

    def _is_whole_months(self) -> bool:
        """Whether the period runs from the first day of a month to the last day of a month."""
        return self.start.day == 1 and self.end == month_end(self.end.year, self.end.month)

    def _is_year_to_date(self) -> bool:
        """Whether the period runs from 1 January to a day of the same year before 31 December.

        A run of whole months from 1 January ("Q1 2025", "H1 2025") is not one, unless it is labelled as a
        year to date (a YTD asked on the last day of a month).
        """
        if self.start != date(self.start.year, 1, 1) or self.end >= date(self.start.year, 12, 31):
            return False
        return not self._is_whole_months() or "year to date" in self.label

    @classmethod
    def between(cls, start: date, end: date, label: str | None = None) -> Period:
        """A period from explicit dates, labelled `start to end` unless a label is given."""
        return cls(start, end, label or f"{start.isoformat()} to {end.isoformat()}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ISO dates, label and length."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "label": self.label, "days": self.days}


def add_months(day: date, months: int) -> date:
    """`day` moved by a number of calendar months, clamped to the end of shorter months."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def month_end(year: int, month: int) -> date:
    """Last day of a month."""
    return date(year, month, calendar.monthrange(year, month)[1])


def quarter_of(day: date) -> int:
    """Calendar quarter (1–4) of a date."""
    return (day.month - 1) // 3 + 1


def quarter_period(year: int, quarter: int) -> Period:
    """The full calendar quarter `quarter` of `year`."""
    if not 1 <= quarter <= 4:
        raise ValueError(f"quarter must be 1-4, got {quarter}")
    first = 3 * (quarter - 1) + 1
    return Period(date(year, first, 1), month_end(year, first + 2), f"Q{quarter} {year}")


def half_period(year: int, half: int) -> Period:
    """The calendar half-year `half` (1: January–June, 2: July–December) of `year`."""
    if half not in (1, 2):
        raise ValueError(f"there is no H{half}: a year has two halves, H1 (January–June) and H2 (July–December)")
    first = 6 * (half - 1) + 1
    return Period(date(year, first, 1), month_end(year, first + 5), f"H{half} {year}")


def year_earlier(period: Period) -> Period:
    """The same dates one year before `period` ("last month" → that month a year earlier).

    A run of whole months stays whole months (February 2024 → February 2023, to its 28th) and keeps a
    calendar label ("October 2025", "Q3 2024"); a year to date becomes "same dates of 2025"; other periods
    are labelled with their dates.
    """
    start = add_months(period.start, -12)
    if period._is_year_to_date():
        end = add_months(period.end, -12)
        return Period(start, end, f"same dates of {start.year}")
    if period._is_whole_months():
        end = month_end(period.end.year - 1, period.end.month)
        months = (end.year - start.year) * 12 + end.month - start.month + 1
        return Period(start, end, _months_label(start, end, months))
    end = add_months(period.end, -12)
    return Period(start, end, f"{start.isoformat()} to {end.isoformat()}")


def unit_before(unit: str, period: Period) -> Period:
    """The calendar quarter, month or year (or the 7 days) just before `period` starts.

    A period that is not whole calendar months ("last 30 days") steps back by its own length instead.
    """
    day = period.start - timedelta(days=1)
    if unit != "week" and (period.start.day != 1 or period.end != month_end(period.end.year, period.end.month)):
        return period.previous()
    if unit == "quarter":
        return quarter_period(day.year, quarter_of(day))
    if unit == "month":
        return _month_period(day.year, day.month)
    if unit == "year":
        return Period(date(day.year, 1, 1), date(day.year, 12, 31), str(day.year))
    if unit == "week":
        return Period(day - timedelta(days=6), day, f"week of {(day - timedelta(days=6)).isoformat()}")
    raise ValueError(f"unit must be quarter, month, year or week, got {unit!r}")


def _months_label(start: date, end: date, months: int) -> str:
    """The label of a run of whole months: "Q2 2025", "September 2025", "2024", or "start to end"."""
    if months == 1:
        return f"{calendar.month_name[start.month]} {start.year}"
    if months == 3 and start.month % 3 == 1:
        return f"Q{quarter_of(start)} {start.year}"
    if months == 6 and start.month in (1, 7):
        return f"H{1 if start.month == 1 else 2} {start.year}"
    if months == 12 and start.month == 1:
        return str(start.year)
    return f"{start.isoformat()} to {end.isoformat()}"


def _month_period(year: int, month: int) -> Period:
    return Period(date(year, month, 1), month_end(year, month), f"{calendar.month_name[month]} {year}")


def _clip(period: Period, today: date, to_date_label: str | None = None) -> Period:
    if period.start <= today < period.end:
        return Period(period.start, today, to_date_label or f"{period.label} to date")
    return period


def _rolling(n: int, unit: str, today: date, label: str) -> Period:
    if n <= 0:
        raise ValueError("a rolling period needs a positive length")
    if unit == "day":
        start = today - timedelta(days=n - 1)
    elif unit == "week":
        start = today - timedelta(days=7 * n - 1)
    elif unit == "month":
        start = add_months(today, -n) + timedelta(days=1)
    elif unit == "quarter":
        start = add_months(today, -3 * n) + timedelta(days=1)
    else:
        start = add_months(today, -12 * n) + timedelta(days=1)
    return Period(start, today, f"{label} ({start.isoformat()} to {today.isoformat()})")


def _whole_units_before(n: int, unit: str, today: date) -> Period:
    """The `n` whole calendar quarters or years before the one `today` is in ("last 2 quarters" → Q2 and Q3).

    Labelled with the units it spans: "last 2 quarters (Q2 2026 to Q3 2026)", "last 3 years (2023 to 2025)";
    one unit is labelled as "last quarter" is ("Q3 2026").
    """
    if n <= 0:
        raise ValueError("a rolling period needs a positive length")
    if unit == "quarter":
        start = add_months(date(today.year, 3 * (quarter_of(today) - 1) + 1, 1), -3 * n)
        first = quarter_period(start.year, quarter_of(start))
        last = quarter_period(*_quarter_before(today))
    else:
        first = Period(date(today.year - n, 1, 1), date(today.year - n, 12, 31), str(today.year - n))
        last = Period(date(today.year - 1, 1, 1), date(today.year - 1, 12, 31), str(today.year - 1))
    if n == 1:
        return last
    return Period(first.start, last.end, f"last {n} {unit}s ({first.label} to {last.label})")


def _quarter_before(today: date) -> tuple[int, int]:
    """(year, quarter) of the quarter before the one `today` is in."""
    q = quarter_of(today)
    return (today.year, q - 1) if q > 1 else (today.year - 1, 4)


def _next_period(t: str, today: date) -> Period | None:
    """The whole quarter, month, week or (fiscal) year after the one `today` is in: "next quarter", "next FY".

    It has not happened yet: a figure that needs data for it (an actual, not a forecast) has none to give,
    which the tools that measure say ("Q1 2027 starts after the data ends").
    """
    m = re.search(rf"\b(?:next|coming|upcoming)\s+(?:(quarter|qtr|month|week)\b|({_YEAR_WORD}))", t)
    if not m:
        return None
    unit = m.group(1) or "year"
    if unit in ("quarter", "qtr"):
        year, q = (today.year, quarter_of(today) + 1) if quarter_of(today) < 4 else (today.year + 1, 1)
        return quarter_period(year, q)
    if unit == "month":
        first = add_months(today.replace(day=1), 1)
        return _month_period(first.year, first.month)
    if unit == "week":
        monday = today + timedelta(days=7 - today.weekday())
        return Period(monday, monday + timedelta(days=6), f"week of {monday.isoformat()}")
    y = today.year + 1
    return Period(date(y, 1, 1), date(y, 12, 31), str(y))


def _latest_month(month: int, today: date) -> int:
    """The year of the most recent `month` that has started by `today`."""
    return today.year if month <= today.month else today.year - 1


def _quarter_and_year(t: str) -> tuple[int, int] | None:
    """A quarter with its year: "q3 2025", "q3-2025", "q3 '25", "q3 fy2025", "2025 q3"."""
    m = re.search(r"\bq([1-4])[\s\-/]*(?:fy)?('?\d{2}|\d{4})\b", t)
    if m:
        q, year_text = int(m.group(1)), m.group(2).lstrip("'")
    else:
        m = re.search(r"\b(\d{4})[\s\-/]*q([1-4])\b", t)
        if not m:
            return None
        q, year_text = int(m.group(2)), m.group(1)
    return q, int(year_text) if len(year_text) == 4 else 2000 + int(year_text)


def _half_and_year(t: str) -> tuple[int, int | None] | None:
    """A half-year with its year if given: "h1 2026", "2026 h2", "1h '25", "first half of 2026", "h2"."""
    year_re = r"(?:fy)?\s*('?\d{2}\b|\d{4})"
    m = re.search(rf"\b(?:h([12])|([12])h)\b(?:[\s\-/]*{year_re})?", t)
    if m:
        half, year_text = int(m.group(1) or m.group(2)), m.group(3)
    elif m := re.search(r"\b(\d{4})[\s\-/]*h([12])\b", t):
        half, year_text = int(m.group(2)), m.group(1)
    elif m := re.search(rf"\b(first|1st|second|2nd)\s+half\b(?:\s+of)?(?:\s+the\s+year)?(?:\s+{year_re})?", t):
        half, year_text = (1 if m.group(1) in ("first", "1st") else 2), m.group(2)
    else:
        return None
    if year_text is None:
        return half, None
    year_text = year_text.lstrip("'")
    return half, int(year_text) if len(year_text) == 4 else 2000 + int(year_text)


def _reject_impossible(t: str) -> None:
    """Raise for a quarter or half that does not exist ("Q7 2025", "H3 2026") or an ambiguous numeric date.

    Without this, "revenue in Q7 2025" would silently answer for the year 2025.
    """
    if m := re.search(r"\bq(0|[5-9]|\d{2,})\b", t):
        raise ValueError(f"there is no Q{m.group(1)}: a year has four quarters, Q1 to Q4")
    if m := re.search(r"\bh(0|[3-9]|\d{2,})[\s\-/]*(?:fy)?\s*(?:'?\d{2}|\d{4})\b", t):
        raise ValueError(f"there is no H{m.group(1)}: a year has two halves, H1 (January–June) and H2 (July–December)")
    if m := re.search(NUMERIC_DATE_PATTERN, t):
        raise ValueError(f"{m.group(0)!r} could be day/month or month/day: write the date as YYYY-MM-DD")


def _date_parts(text: str) -> tuple[int | None, int, int]:
    """(year or None, month, day) of one date matched by `DATE_PATTERN`."""
    if m := re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", text):
        return int(m.group(1)), int(m.group(2)), int(m.group(3))
    year = re.search(r"\d{4}", text)
    rest = text.replace(year.group(0), " ") if year else text
    month = re.search(rf"\b({_MONTH_RE})\b", rest)
    day = re.search(r"(?<!\d)(\d{1,2})(?!\d)", rest)
    if month is None or day is None:
        raise ValueError(f"{text!r} is not a date")
    return (int(year.group(0)) if year else None), MONTHS[month.group(1)], int(day.group(1))


def _make_date(year: int, month: int, day: int, text: str) -> date:
    """`date(year, month, day)` with an error that names the text ("31 April" is not a date)."""
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise ValueError(f"{text.strip()!r} is not a valid date ({exc})") from exc


def _explicit_range(first: str, last: str, today: date) -> Period:
    """The range between two dates of `DATE_RANGE_PATTERN`; a date without a year takes the other's year.

    "15 March to 15 April 2026" is 2026-03-15 to 2026-04-15; "15 December to 15 January 2026" starts in 2025.
    With no year at all, the most recent such range that has started by `today`.
    """
    (y1, m1, d1), (y2, m2, d2) = _date_parts(first), _date_parts(last)
    wraps = (m1, d1) > (m2, d2)  # "15 December to 15 January": the end is in the next year
    if y1 is not None and y2 is not None:
        start_year, end_year = y1, y2
    elif y2 is not None:
        start_year, end_year = (y2 - 1 if wraps else y2), y2
    else:
        if y1 is None:
            y1 = today.year if (m1, d1) <= (today.month, today.day) else today.year - 1
        start_year, end_year = y1, (y1 + 1 if wraps else y1)
    a, b = _make_date(start_year, m1, d1, first), _make_date(end_year, m2, d2, last)
    return Period.between(min(a, b), max(a, b))


def _year_ago(t: str, today: date) -> Period | None:
    """A period one year before another, or before the unit of `today`.

    "The same period a year before last month" is what the offline model writes for "last month vs the same
    month last year"; "the same month last year" alone is the month (quarter, half, week) of `today` a year
    earlier.
    """
    m = re.search(r"\bsame\s+(?:period|dates?|days?|time|month|quarter|half|week|year)\s+a\s+year\s+before\s+(.+)", t)
    if m:
        inner = parse_period(m.group(1).strip(" ?.!"), today)
        return year_earlier(inner) if inner is not None else None
    m = re.search(SAME_LAST_YEAR_PATTERN, t)
    if not m or m.group(1) not in ("month", "quarter", "half", "week"):
        return None
    unit, day = m.group(1), add_months(today, -12)
    if unit == "month":
        return _month_period(day.year, day.month)
    if unit == "quarter":
        return quarter_period(day.year, quarter_of(day))
    if unit == "half":
        return half_period(day.year, 1 if day.month <= 6 else 2)
    monday = day - timedelta(days=day.weekday())
    return Period(monday, monday + timedelta(days=6), f"week of {monday.isoformat()}")


def _numeric_month(t: str) -> Period | None:
    """The month of "03/2026", "3/2026", "2026-03" or "2026/03", if the text names one."""
    m = re.search(NUMERIC_MONTH_PATTERN, t)
    if not m:
        return None
    year, month = (int(m.group(2)), int(m.group(1))) if m.group(1) else (int(m.group(3)), int(m.group(4)))
    return _month_period(year, month)


def parse_period(text: str, today: date) -> Period | None:
    """Find a reporting period in free text.

    Understands, among others: "last quarter", "this quarter" (QTD), "Q3 2025", "2025 Q3", "Q3" (the most
    recent Q3), "last month", "this month" (MTD), "last 30 days", "past 6 months", "last week", "this week",
    "this year"/"YTD", "last year", "2025", "March 2025", "Mar 2025", "2025-03", "in March", "since January",
    "since March 2025", "since 2025-02-15", "2025-01-01 to 2025-03-31", "from 15 March to 15 April 2026",
    "2026-03-15" (one day), "03/2026", "H1 2026", "first half of 2025", "yesterday", "today", "FY2025",
    "last/this/next fiscal year" (the fiscal year is the calendar year), "last 2 quarters" and "last 3 years"
    (whole quarters or years before the current one), "next quarter", "next month", "next week", "next year"
    (whole periods after the current one: not cut, they have not started), "the month before last", "the
    quarter before Q3 2025", "the same month last year" and "the same period a year before last month".

    Args:
        text: a phrase or a whole request.
        today: the reference date (for demo data: the last date in the database).

    Returns:
        The first period found, or None when the text names none.

    Raises:
        ValueError: the text names a period that does not exist ("Q7 2025", "H3 2026", "31 April"), or a
            numeric date that could be read two ways ("03/04/2026").
    """
    t = " ".join(text.lower().replace("’", "'").split())
    _reject_impossible(t)

    # "the same period a year before last month", "the same month last year": a year earlier.
    if (year_ago := _year_ago(t, today)) is not None:
        return year_ago

    # "the quarter before last quarter", "the month before March 2025": one unit before another period.
    m = re.search(r"\b(?:the\s+)?(quarter|month|year|week)\s+before\s+(.+)", t)
    if m:
        inner_text = m.group(2).strip(" ?.!")
        if inner_text in ("last", "previous", "the last", "the previous"):  # "the month before last"
            inner_text = f"last {m.group(1)}"
        if (inner := parse_period(inner_text, today)) is not None:
            return unit_before(m.group(1), inner)

    # Explicit ranges: "2025-01-01 to 2025-03-31", "from 15 March to 15 April 2026", "between X and Y".
    m = re.search(DATE_RANGE_PATTERN, t)
    if m:
        return _explicit_range(m.group(1), m.group(2), today)

    # "since January", "since March 2025", "since Q2 2025", "since 2024", "since 2025-02-15".
    m = re.search(
        rf"\bsince\s+(?:(\d{{4}}-\d{{2}}-\d{{2}})|q([1-4])\s*(\d{{4}})?|({_MONTH_RE})\b\s*(\d{{4}})?|(\d{{4}})\b)", t
    )
    if m:
        if m.group(1):
            start = date.fromisoformat(m.group(1))
            label = f"since {start.isoformat()}"
        elif m.group(2):
            q = int(m.group(2))
            year = int(m.group(3)) if m.group(3) else (today.year if q <= quarter_of(today) else today.year - 1)
            start = quarter_period(year, q).start
            label = f"since Q{q} {year}"
        elif m.group(4):
            month = MONTHS[m.group(4)]
            year = int(m.group(5)) if m.group(5) else _latest_month(month, today)
            start = date(year, month, 1)
            label = f"since {calendar.month_name[month]} {year}"
        else:
            start = date(int(m.group(6)), 1, 1)
            label = f"since {start.year}"
        if start <= today:
            return Period(start, today, f"{label} ({start.isoformat()} to {today.isoformat()})")

    # One day: "on 2026-03-15".
    m = re.search(r"(?<![\d-])(\d{4})-(\d{2})-(\d{2})(?![\d-])", t)
    if m:
        day = _make_date(int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(0))
        return Period(day, day, day.isoformat())

    # Rolling windows: "last 30 days", "past 6 months", "trailing twelve months", "last 2 quarters".
    numbers = "|".join(_NUMBER_WORDS)
    m = re.search(
        rf"\b(?:last|past|previous|trailing)\s+(\d+|{numbers})\s+(days?|weeks?|months?|quarters?|years?)\b",
        t,
    )
    if m:
        raw = m.group(1)
        n = int(raw) if raw.isdigit() else _NUMBER_WORDS[raw]
        unit = _UNITS[m.group(2)]
        plural = unit if n == 1 else unit + "s"
        if unit in WHOLE_UNITS:
            return _whole_units_before(n, unit, today)
        return _rolling(n, unit, today, f"last {n} {plural}")
    if re.search(r"\b(?:ttm|ltm|trailing twelve months)\b", t):
        return _rolling(12, "month", today, "last 12 months")

    # "Q3 2025", "2025 Q3", "Q3-2025", "Q3 '25".
    found = _quarter_and_year(t)
    if found:
        q, year = found
        return _clip(quarter_period(year, q), today)

    # "H1 2026", "2026 H2", "first half of 2025", "H1" (the most recent H1).
    if (half_found := _half_and_year(t)) is not None:
        half, half_year = half_found
        if half_year is None:
            half_year = today.year if half == 1 or today.month > 6 else today.year - 1
        return _clip(half_period(half_year, half), today)

    # "March 2025", "mar 2025", "2025-03", "03/2026".
    m = re.search(rf"\b({_MONTH_RE})\.?\s*,?\s*(\d{{4}})\b", t)
    if m:
        month, year = MONTHS[m.group(1)], int(m.group(2))
        return _clip(_month_period(year, month), today)
    if (numeric := _numeric_month(t)) is not None:
        return _clip(numeric, today)

    # Relative calendar periods.
    this_q = quarter_of(today)
    if (coming := _next_period(t, today)) is not None:
        return coming
    if re.search(r"\b(?:last|previous|prior)\s+(?:quarter|qtr)\b", t):
        return quarter_period(*_quarter_before(today))
    if re.search(r"\b(?:this|current)\s+(?:quarter|qtr)\b|\bqtd\b|\bquarter[\s-]to[\s-]date\b", t):
        current = quarter_period(today.year, this_q)
        return _clip(current, today, f"{current.label} quarter to date")
    if re.search(r"\b(?:last|previous|prior)\s+month\b", t):
        first = add_months(today.replace(day=1), -1)
        return Period(first, month_end(first.year, first.month), f"{calendar.month_name[first.month]} {first.year}")
    if re.search(r"\b(?:this|current)\s+month\b|\bmtd\b|\bmonth[\s-]to[\s-]date\b", t):
        first = today.replace(day=1)
        return Period(first, today, f"{calendar.month_name[first.month]} {first.year} month to date")
    if re.search(r"\b(?:last|previous|prior)\s+week\b", t):
        monday = today - timedelta(days=today.weekday() + 7)
        return Period(monday, monday + timedelta(days=6), f"week of {monday.isoformat()}")
    if re.search(r"\b(?:this|current)\s+week\b|\bwtd\b", t):
        monday = today - timedelta(days=today.weekday())
        return Period(monday, today, f"week of {monday.isoformat()} to date")
    if re.search(rf"\b(?:this|current)\s+{_YEAR_WORD}|\b(?:fy)?ytd\b|\b(?:fiscal\s+)?year[\s-]to[\s-]date\b", t):
        return Period(date(today.year, 1, 1), today, f"{today.year} year to date")
    if re.search(rf"\b(?:last|previous|prior)\s+{_YEAR_WORD}", t):
        y = today.year - 1
        return Period(date(y, 1, 1), date(y, 12, 31), str(y))
    if re.search(r"\byesterday\b", t):
        d = today - timedelta(days=1)
        return Period(d, d, f"yesterday ({d.isoformat()})")
    if re.search(r"\btoday\b", t):
        return Period(today, today, f"today ({today.isoformat()})")

    # A bare quarter: the most recent one that has started.
    m = re.search(r"\bq([1-4])\b", t)
    if m:
        q = int(m.group(1))
        year = today.year if q <= this_q else today.year - 1
        return _clip(quarter_period(year, q), today)

    # A bare year, or a fiscal year (the calendar year): "2025", "FY2025", "FY25", "fy '25".
    m = re.search(r"\b(19[5-9]\d|20\d{2}|2100)\b", t) or re.search(r"\bfy\s*'?(\d{4}|\d{2})\b", t)
    if m:
        y = int(m.group(1)) if len(m.group(1)) == 4 else 2000 + int(m.group(1))
        return _clip(Period(date(y, 1, 1), date(y, 12, 31), str(y)), today)

    # A bare month after a preposition ("in March", "for sept"), or the whole text is a month name.
    m = re.search(rf"\b(?:in|for|during|of)\s+({_MONTH_RE})\b", t) or re.fullmatch(rf"({_MONTH_RE})\.?", t)
    if m:
        month = MONTHS[m.group(1)]
        year = _latest_month(month, today)
        return _clip(_month_period(year, month), today)
    return None
