"""Argument extraction for the offline model's tool calls, guided by each tool's JSON schema.

The offline model cannot "understand" a request, so it fills tool arguments the way a form filler
would: enum values (and their declared aliases) found in the text, else a value the field does not
offer that its `x-unknown` pattern spots (for the tool to refuse by name), ids matching a field's `x-find`
pattern, numbers next to the unit a field names, period phrases, arithmetic expressions and SQL. Fields
it cannot fill are left to their defaults; a missing required field fails validation and goes through
the graph's retry path.
"""

from __future__ import annotations

import re
from typing import Any

from app.data.periods import DATE_RANGE_PATTERN, NUMERIC_DATE_PATTERN, NUMERIC_MONTH_PATTERN, SAME_LAST_YEAR_PATTERN

_YEAR = r"(?:fy)?\s*(?:'?\d{2}\b|\d{4}\b)"
_NUMBER_WORDS = "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
"""Counts in words that `app.data.periods` reads in "last two quarters"."""
_ISO_DATE = r"(?<![\d-])\d{4}-\d{2}-\d{2}(?![\d-])"
_PERIOD_PATTERNS = [
    DATE_RANGE_PATTERN,  # "2026-03-15 to 2026-04-15", "from 15 March to 15 April 2026"
    SAME_LAST_YEAR_PATTERN,  # "the same month last year": before "last year"
    rf"\bsince\s+(?:{_ISO_DATE}|q[1-4](?:\s*\d{{4}})?\b|\d{{4}}\b)",
    _ISO_DATE,
    NUMERIC_DATE_PATTERN,  # "15/03/2026": the tool says how to write it
    NUMERIC_MONTH_PATTERN,  # "03/2026", "2026-03"
    rf"\bh[12]\b(?:[\s\-/]*{_YEAR})?|\b(?:h\d{{1,2}}|[12]h)[\s\-/]*{_YEAR}|\b\d{{4}}[\s\-/]*h[12]\b",  # "H1 2026"
    rf"\b(?:the\s+)?(?:first|1st|second|2nd)\s+half\b(?:\s+of)?(?:\s+the\s+year)?(?:\s+{_YEAR})?",
    r"\b(?:the\s+)?(?:quarter|month|year|week)\s+before\s+(?:(?:last|this|previous|past|current)\s+(?:\d{1,3}\s+(?:days|weeks|months)\b|\w+)|q[1-4]\s*\d{4}"
    r"|(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\s+\d{4}|\d{4}(?:-\d{2}){0,2}(?:\s+to\s+\d{4}-\d{2}-\d{2})?)",
    r"\b(?:last|this|previous|past|current)\s+(?:(?:fiscal|financial)\s+)?(?:quarter|month|week|year)\b",
    r"\b(?:last|this|previous|past|current)\s+fy\b",
    # "next quarter", "the coming month", "next fiscal year": a whole period that has not started (the tools that
    # measure say there is no data yet; the forecast forecasts to it). "next 6 months" stays a forecast horizon.
    r"\b(?:next|coming|upcoming)\s+(?:(?:(?:fiscal|financial)\s+)?(?:quarter|qtr|month|week|year)\b|fy\b)",
    # "last 2 quarters" (Q2 + Q3 when asked in Q4), "past three years", "last 30 days", "trailing 6 months"
    rf"\b(?:last|past|previous|trailing)\s+(?:\d{{1,3}}|{_NUMBER_WORDS})\s+(?:days?|weeks?|months?|quarters?|years?)\b",
    r"\bq\d{1,2}(?:\s*(?:fy)?\s*'?\d{2,4})?\b",  # "Q7 2025" too: the tool says there is no Q7
    r"\b(?:ytd|year to date|month to date|mtd|qtd|quarter to date)\b",
    r"\bsince\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*(?:\s+\d{4})?\b",
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?,?\s+\d{4}\b",
    r"\b(?:19|20)\d{2}\b",
    r"\bfy\s*'?(?:\d{4}|\d{2})\b",
    r"\b(?:the\s+)?(?:quarter|month|year|week)\s+before\s+(?:the\s+)?(?:last|previous)\b",
    r"\b(?:in|for|during)\s+(?:january|february|march|april|may|june|july|august|september|october|november|december"
    r"|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\b(?!\.?,?\s*\d)",
    r"\b(?:yesterday|today|last weekend)\b",
]
_PERIOD_RE = re.compile("|".join(f"(?:{p})" for p in _PERIOD_PATTERNS), re.IGNORECASE)
_NUMBER = r"[$€£]?(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?(?:k|K|M|mn|bn|B)?(?![A-Za-z\d])(?:\s*%)?"
"""A number as people write it: "4,446", "$1.2M", "2.5k", "15%", "0.5"."""
_OPERAND = rf"(?:\(\s*)*{_NUMBER}(?:\s*\))*"
_EXPR_RE = re.compile(rf"{_OPERAND}(?:\s*(?:\*\*|//|[-+*/^])\s*{_OPERAND})*")
"""Numbers joined by operators, with parentheses: "(12,000 - 3,000) * 1.2", "15% * 2.5k"."""
_SAME_LAST_YEAR_RE = re.compile(SAME_LAST_YEAR_PATTERN, re.IGNORECASE)
_DATE_LIKE_RE = re.compile(
    f"{DATE_RANGE_PATTERN}|{_ISO_DATE}|{NUMERIC_DATE_PATTERN}|{NUMERIC_MONTH_PATTERN}", re.IGNORECASE
)
"""Dates, which hold digits, hyphens and slashes but are not arithmetic ("2026-03-15", "03/2026")."""
_SHARE_RE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s*(?:%|percent\b|per\s*cent\b|pct\b)\s+of\b", re.IGNORECASE)
"""A share of a figure ("15% of our ARR", "20 percent of revenue"): a field marked `x-share` takes the percent."""
_SQL_RE = re.compile(r"\bselect\b.*", re.IGNORECASE | re.DOTALL)
_ATTACHED_RE = re.compile(r"\(attached: ([A-Za-z0-9._-]+\.(?:csv|xlsx))\)")
"""A file attached in the chat, as the web app appends it to the request."""
_COMMAND_PREFIX = re.compile(
    r"^\s*(?:please\s+)?(?:open|create|file|raise|log|submit)\s+(?:a\s+|an\s+|new\s+|support\s+)*"
    r"(?:ticket|case|issue)\s*(?:for|about|:|-|—)?\s*",
    re.IGNORECASE,
)
"""The command in front of a subject ("Open a ticket: ...")."""

_UNIT_WORDS = {
    "month": r"months?|mos?\b",
    "day": r"days?",
    "week": r"weeks?",
    "year": r"years?",
    "top": None,
    "limit": None,
}


MAX_FOUND = 20
"""Most ids an array field takes from one request."""
MAX_CALLS = 6
"""Most calls one request fans out to (metrics × channels × periods: three metrics for two periods)."""


def find_period(text: str) -> str | None:
    """The first period phrase in `text` ("last quarter", "Q3 2025", "last 30 days"...), if any."""
    match = _PERIOD_RE.search(text)
    return match.group(0).strip() if match else None


_GOAL_RE = re.compile(
    r"\b((?:announcing|promoting|launching|introducing|featuring|highlighting)\s+[^.?!]+)"
    r"|\b(?:to|that will|so (?:that )?we can|in order to|aimed at|focused on)\s+"
    r"((?:reach|win|re-?engage|grow|increase|drive|boost|promote|launch|upsell|cross-sell|sell|get|bring|convert|"
    r"retain|reduce|recover|reactivate|attract|target|announce|introduce|generate|build|raise|improve)\b[^.?!]*)",
    re.IGNORECASE,
)


def find_goal(text: str) -> str | None:
    """The purpose a request states ("… ideas for Q1 to reach facilities managers" → "reach facilities managers")."""
    match = _GOAL_RE.search(text)
    return next(g for g in match.groups() if g).strip() if match else None


_BARE_YEAR = re.compile(r"(?:19|20)\d{2}")
_BEFORE_YEAR = re.compile(r"\b(?:in|for|vs\.?|versus|and|to|during|of|than|fy)\s*$", re.IGNORECASE)
"""The word before a bare year that makes it a period ("Q1 2025 vs 2024"), not a count ("2000 clicks")."""


def find_periods(text: str) -> list[str]:
    """Every distinct period phrase in `text`, in order ("Q1 2025 vs Q1 2026" → both).

    A later "previous 30 days" means the window before the first one, which every metric already
    compares with: it is left out. A later "the same month last year" (or "a year ago") means the first
    period a year earlier: "the same period a year before last month".
    """
    found: list[str] = []
    for m in _PERIOD_RE.finditer(text):
        phrase = m.group(0).strip()
        if found and _BARE_YEAR.fullmatch(phrase) and not _BEFORE_YEAR.search(text[: m.start()]):
            continue  # "... with 2000 clicks a day": a number, not a second period
        if found and _SAME_LAST_YEAR_RE.fullmatch(phrase):  # "last month vs the same month last year"
            phrase = year_before(found[0])
        if phrase not in found and not (found and phrase.lower().startswith("previous")):
            found.append(phrase)
    return found


def year_before(phrase: str) -> str:
    """The period phrase for `phrase` one year earlier ("last month" → "the same period a year before last month")."""
    return f"the same period a year before {phrase}"


_WORD_OPERATORS = [
    (re.compile(r"(\d)\s*(?:percent|per\s*cent|pct)\b", re.IGNORECASE), r"\1%"),
    (re.compile(r"(\d)\s*%\s+of\s+", re.IGNORECASE), r"\1% * "),
    (re.compile(r"\s*(?:\b(?:times|multiplied by|x)\b|×)\s*(?=[\d$€£(])", re.IGNORECASE), " * "),
    (re.compile(r"\s*(?:\bdivided by\b|÷)\s*", re.IGNORECASE), " / "),
    (re.compile(r"\s+plus\s+", re.IGNORECASE), " + "),
    (re.compile(r"\s+minus\s+", re.IGNORECASE), " - "),
    (re.compile(r"\s+(?:to the power of|raised to)\s+", re.IGNORECASE), " ^ "),
]
"""Operators in words ("$1.2M divided by 4,446", "15 percent of 2.5k") and their symbols."""


def find_expression(text: str) -> str | None:
    """The longest arithmetic-looking span of `text` that contains an operator ("12% of 48,000" too).

    Dates are not arithmetic: "2026-03-15" and "03/2026" are left out, so a request that only names
    dates has no expression.
    """
    text = _DATE_LIKE_RE.sub(" date ", text)
    for pattern, replacement in _WORD_OPERATORS:
        text = pattern.sub(replacement, text)
    spans = [m.group(0).strip() for m in _EXPR_RE.finditer(text)]
    spans = [s for s in spans if re.search(r"[+\-*/^]", s)]
    return max(spans, key=len) if spans else None


def _number_for(field: str, text: str) -> float | int | None:
    lowered = text.lower()
    for unit, pattern in _UNIT_WORDS.items():
        if unit not in field:
            continue
        if pattern is None:  # "top 10", "limit 5"
            m = re.search(rf"\b{unit}\s+(\d+)", lowered)
        else:
            m = re.search(rf"\b(\d+(?:\.\d+)?)\s*(?:-\s*)?(?:{pattern})", lowered)
        if m:
            return float(m.group(1))
    if field.endswith("_id"):  # "ticket_id" ← "ticket #12", "ticket no. 12", "ticket 12"
        noun = re.escape(field.removesuffix("_id").replace("_", " "))
        m = re.search(rf"\b{noun}s?\s*(?:#|no\.?|number)?\s*(\d+)\b", lowered) or re.search(r"#(\d+)\b", lowered)
        if m:
            return int(m.group(1))  # exactly as written: a float would round a long number
    if any(w in field for w in ("budget", "amount", "incentive", "discount", "threshold")):
        m = re.search(r"\$\s?(\d[\d,]*(?:\.\d+)?)\s*(k|m)?\b", lowered)
        if m:
            value = float(m.group(1).replace(",", ""))
            return value * {"k": 1e3, "m": 1e6}.get(m.group(2) or "", 1.0)
    return None


def _enum_matches(values: list[Any], aliases: dict[str, list[str]], text: str) -> list[Any]:
    """Enum values the text names (by value or alias), in order of appearance.

    A name inside a longer name of another value does not count: "net revenue retention" is NRR, not also
    revenue; "LTV:CAC" is the ratio, not also LTV and CAC.
    """
    lowered = f" {text.lower()} "
    spans: list[tuple[int, int, Any]] = []
    for value in values:
        if value is None:
            continue
        names = {str(value).lower(), str(value).lower().replace("_", " "), str(value).lower().replace("_", "-")}
        names.update(a.lower() for a in aliases.get(str(value), []))
        for n in names:
            spans += [
                (m.start(), m.end(), value) for m in re.finditer(rf"(?<![a-z0-9]){re.escape(n)}(?![a-z0-9])", lowered)
            ]
    kept = [
        (start, value)
        for start, end, value in spans
        if not any(o != value and s <= start and end <= e and (e - s) > (end - start) for s, e, o in spans)
    ]
    first: dict[Any, int] = {}
    for start, value in kept:
        first[value] = min(start, first.get(value, start))
    return [value for value, _ in sorted(first.items(), key=lambda item: item[1])]


def _unknown_value(schema: dict[str, Any], text: str) -> str | None:
    """A value the field does not offer that the request names (its `x-unknown` pattern), as written.

    Passed on so that the tool refuses it by name: left empty, the field would mean "all" ("ROAS for TikTok"
    answered for every channel).
    """
    pattern = schema.get("x-unknown")
    match = re.search(pattern, text) if pattern else None
    return next((g for g in match.groups() if g), match.group(0)).strip() if match else None


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Follow `$ref` and unwrap `anyOf: [X, null]` of optional fields."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = {**root.get("$defs", {}).get(name, {}), **{k: v for k, v in schema.items() if k != "$ref"}}
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        if options:
            merged = {k: v for k, v in schema.items() if k != "anyOf"}
            return {**_resolve(options[0], root), **merged}
    return schema


def fill_arguments(parameters: dict[str, Any], text: str) -> list[dict[str, Any]]:
    """Argument sets for one tool: usually one; one per matched value of a "fan-out" enum field.

    A field marked `x-fanout` in its schema (the metric and the channel of a metric tool) produces one call
    per value found in the text ("CAC and LTV" → two calls, "paid search vs paid social" → two), at most three
    each. A request that names two or three periods ("CAC Q1 2025 vs Q1 2026", "this quarter vs last
    quarter") gets one call per period. Every combination is called, at most `MAX_CALLS`.
    """
    props: dict[str, Any] = parameters.get("properties", {})
    args: dict[str, Any] = {}
    spreads: list[tuple[str, list[Any]]] = []  # (field, values): one call per combination
    for field, raw_schema in props.items():
        schema = _resolve(raw_schema, parameters)
        kind = schema.get("type")
        if find := schema.get("x-find"):  # ids the schema says how to spot ("C00042")
            found = list(dict.fromkeys(next(g for g in m.groups() if g) for m in re.finditer(find, text)))
            if found:
                args[field] = found[:MAX_FOUND] if kind == "array" else found[0]
        elif "enum" in schema:
            matches = _enum_matches(schema["enum"], schema.get("x-aliases", {}), text)
            if matches:
                args[field] = matches[0]
                if schema.get("x-fanout") and len(matches) > 1:
                    spreads.append((field, matches[:3]))
            elif other := _unknown_value(schema, text):  # "ROAS for TikTok": the tool says it has no such channel
                args[field] = other
        elif schema.get("x-share"):  # "15% of our ARR": the share asked for, in percent
            if m := _SHARE_RE.search(text):
                args[field] = float(m.group(1))
        elif kind in ("integer", "number"):
            number = _number_for(field, text)
            if number is not None:
                args[field] = int(number) if kind == "integer" else number
        elif kind == "string":
            lowered = field.lower()
            if "period" in lowered:
                if found_periods := find_periods(text):
                    args[field] = found_periods[0]
                    if len(found_periods) > 1:
                        spreads.append((field, found_periods[:3]))
            elif "expression" in lowered or "formula" in lowered:
                if expr := find_expression(text):
                    args[field] = expr
            elif lowered == "sql":
                if m := _SQL_RE.search(_ATTACHED_RE.sub("", text)):
                    args[field] = m.group(0).strip().rstrip("?")
            elif lowered == "file":
                if m := _ATTACHED_RE.search(text):
                    args[field] = m.group(1)
            elif lowered == "goal":
                if goal := find_goal(text):
                    args[field] = goal
            elif lowered in ("query", "question", "request", "text", "topic"):
                args[field] = text
            elif lowered in ("subject", "title", "summary"):  # "Open a ticket: <subject>"
                command = _COMMAND_PREFIX.match(text)
                subject = text[command.end() :].strip(" .") if command else ""
                if subject:
                    args[field] = subject[:1].upper() + subject[1:200]
    sets = [args]
    for field, values in spreads:
        sets = [{**one, field: value} for one in sets for value in values]
    return sets[:MAX_CALLS]
