"""Import a transactions file (CSV or XLSX) into the business database, all or nothing.

Each data row becomes one order (`source='import'`) of the customer in the customer-id column; customers the
database does not know are created (`source='import'`, signup date = their first transaction). Every row is
validated before anything is written; any bad row rejects the whole file with `ImportValidationError`, which
lists the problems with their 1-based line numbers in the file (the header is line 1; for XLSX, the sheet's
row numbers). A row dated after today is a bad row: every relative period ("last quarter") and the forecast
are computed from the data's last day, which a future date would move into months that never happened.
Blank rows are skipped. Re-importing a file that was already imported is refused, since each
file's orders carry its content fingerprint.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from app.cache.versions import bump_data_versions
from app.data.db import init_db
from app.data.schema import customers, orders

MAX_LISTED_PROBLEMS = 20
"""How many bad rows an `ImportValidationError` message lists (the total is always given)."""

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
"""File extensions read as delimited text."""
XLSX_SUFFIXES = (".xlsx", ".xlsm")
"""File extensions read as Excel workbooks."""


class DataImportError(ValueError):
    """The file cannot be imported as a whole: unreadable, empty, missing columns, already imported."""


@dataclass(frozen=True)
class RowProblem:
    """One invalid row."""

    line: int
    """1-based line (CSV) or row (XLSX) number in the file; the header is line 1."""
    message: str
    """What is wrong, e.g. `amount 'abc' is not a number`."""

    def __str__(self) -> str:
        """`line 4: amount 'abc' is not a number`."""
        return f"line {self.line}: {self.message}"


class ImportValidationError(DataImportError):
    """Some rows are invalid; nothing was imported."""

    def __init__(self, problems: list[RowProblem], path: str | Path) -> None:
        """Build the message from the first `MAX_LISTED_PROBLEMS` problems and the total count."""
        self.problems = problems
        self.total = len(problems)
        self.path = str(path)
        shown = "; ".join(str(p) for p in problems[:MAX_LISTED_PROBLEMS])
        more = f"; ... and {self.total - MAX_LISTED_PROBLEMS} more" if self.total > MAX_LISTED_PROBLEMS else ""
        noun = "bad row" if self.total == 1 else "bad rows"
        super().__init__(f"{self.total} {noun} in {Path(path).name}, nothing imported: {shown}{more}")


@dataclass
class ImportReport:
    """What `import_transactions` loaded."""

    path: str
    """The imported file."""
    batch: str
    """Fingerprint of the file content, stored on every imported order."""
    rows: int
    """Data rows read (blank rows excluded)."""
    orders_created: int
    """Orders written (one per row)."""
    customers_created: int
    """Customers that did not exist before."""
    customers_existing: int
    """Customers of the file already in the database."""
    first_date: date | None = None
    """Earliest transaction date."""
    last_date: date | None = None
    """Latest transaction date."""
    total_amount: float = 0.0
    """Sum of the amounts."""
    skipped_blank_rows: int = 0
    """Rows with no value at all."""
    warnings: list[str] = field(default_factory=list)
    """Non-fatal remarks (e.g. zero amounts)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "path": self.path,
            "batch": self.batch,
            "rows": self.rows,
            "orders_created": self.orders_created,
            "customers_created": self.customers_created,
            "customers_existing": self.customers_existing,
            "first_date": self.first_date.isoformat() if self.first_date else None,
            "last_date": self.last_date.isoformat() if self.last_date else None,
            "total_amount": round(self.total_amount, 2),
            "skipped_blank_rows": self.skipped_blank_rows,
            "warnings": list(self.warnings),
        }


@dataclass
class _Table:
    header: list[str]
    rows: list[list[Any]]
    lines: list[int]
    blank: int


def import_transactions(
    engine: Engine,
    path: str | Path,
    customer_col: str,
    date_col: str,
    amount_col: str,
    date_format: str | None = None,
    sheet: str | None = None,
    today: date | None = None,
) -> ImportReport:
    """Validate a transactions file and load it in one transaction.

    Args:
        engine: the business database (tables are created if missing).
        path: a `.csv`/`.tsv`/`.txt` (delimiter sniffed, UTF-8 or Latin-1) or `.xlsx` file; the first row is the
            header.
        customer_col: column holding the customer id (matched exactly, then ignoring case and spaces).
        date_col: column holding the transaction date.
        amount_col: column holding the transaction amount (non-negative; `$1,234.50` accepted).
        date_format: a `strptime` format such as `%d/%m/%Y`; without it ISO dates and pandas' inference are used
            (month first for ambiguous `1/2/2024`).
        sheet: worksheet name for XLSX files (default: the first sheet).
        today: the last date a transaction may have (default: the calendar's today); later rows are bad rows.

    Returns:
        Counts of what was loaded.

    Raises:
        DataImportError: unreadable or empty file, unknown sheet, missing columns, or a file already imported.
        ImportValidationError: invalid rows (with line numbers); nothing is written.
    """
    file = Path(path)
    if not file.is_file():
        raise DataImportError(f"file not found: {file}")
    content = file.read_bytes()
    if not content.strip():
        raise DataImportError(f"{file.name} is empty")
    table = _read(file, content, sheet)
    if not table.header or all(not str(h).strip() for h in table.header):
        raise DataImportError(f"{file.name} has no header row")
    idx = {
        role: _find_column(table.header, name, file.name)
        for role, name in (("customer", customer_col), ("date", date_col), ("amount", amount_col))
    }

    if not table.rows:
        raise DataImportError(f"{file.name} has a header but no data rows")

    latest_allowed = today or date.today()
    problems: list[RowProblem] = []
    ids: list[str] = []
    days: list[date] = []
    amounts: list[float] = []
    raw_dates = [row[idx["date"]] if idx["date"] < len(row) else None for row in table.rows]
    parsed_dates = _parse_dates(raw_dates, date_format)
    for row, line, raw_date, parsed in zip(table.rows, table.lines, raw_dates, parsed_dates, strict=True):
        row_problems: list[str] = []
        cid = _clean_id(row[idx["customer"]] if idx["customer"] < len(row) else None)
        if cid is None:
            row_problems.append(f"missing customer id in column '{table.header[idx['customer']]}'")
        elif len(cid) > 64:
            row_problems.append(f"customer id is longer than 64 characters: '{cid[:20]}...'")
        if _blank(raw_date):
            row_problems.append(f"missing date in column '{table.header[idx['date']]}'")
        elif parsed is None:
            expected = f"expected format {date_format}" if date_format else "expected e.g. 2024-03-31"
            row_problems.append(f"date '{_show(raw_date)}' cannot be read ({expected})")
        elif parsed > latest_allowed:
            row_problems.append(
                f"date {parsed.isoformat()} is in the future (today is {latest_allowed.isoformat()}): "
                "transactions must have happened"
            )
        raw_amount = row[idx["amount"]] if idx["amount"] < len(row) else None
        amount, amount_problem = _parse_amount(raw_amount)
        if amount_problem:
            row_problems.append(amount_problem)
        if row_problems:
            problems.append(RowProblem(line, "; ".join(row_problems)))
            continue
        assert cid is not None and parsed is not None and amount is not None
        ids.append(cid)
        days.append(parsed)
        amounts.append(amount)
    if problems:
        raise ImportValidationError(problems, file)

    batch = hashlib.sha256(content).hexdigest()[:16]
    init_db(engine)
    report = ImportReport(
        path=str(file),
        batch=batch,
        rows=len(ids),
        orders_created=len(ids),
        customers_created=0,
        customers_existing=0,
        first_date=min(days),
        last_date=max(days),
        total_amount=float(math.fsum(amounts)),
        skipped_blank_rows=table.blank,
    )
    zeros = sum(1 for a in amounts if a == 0)
    if zeros:
        report.warnings.append(f"{zeros} rows have a zero amount")
    first_seen: dict[str, date] = {}
    for cid, day in zip(ids, days, strict=True):
        if cid not in first_seen or day < first_seen[cid]:
            first_seen[cid] = day
    with engine.begin() as conn:
        already = conn.execute(
            sa.select(sa.func.count()).select_from(orders).where(orders.c.import_batch == batch)
        ).scalar_one()
        if already:
            raise DataImportError(f"{file.name} was already imported ({already} orders carry its fingerprint {batch})")
        wanted = sorted(first_seen)
        existing: set[str] = set()
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            existing.update(conn.execute(sa.select(customers.c.id).where(customers.c.id.in_(chunk))).scalars())
        new_customers = [
            {
                "id": cid,
                "name": cid,
                "signup_date": first_seen[cid],
                "first_order_date": first_seen[cid],
                "status": "active",
                "source": "import",
            }
            for cid in wanted
            if cid not in existing
        ]
        for i in range(0, len(new_customers), 10_000):
            conn.execute(customers.insert(), new_customers[i : i + 10_000])
        rows = [
            {
                "id": f"imp-{batch}-{line}",
                "customer_id": cid,
                "order_date": day,
                "amount": round(amount, 2),
                "source": "import",
                "import_batch": batch,
            }
            for cid, day, amount, line in zip(ids, days, amounts, _valid_lines(table.lines, problems), strict=True)
        ]
        for i in range(0, len(rows), 20_000):
            conn.execute(orders.insert(), rows[i : i + 20_000])
        bump_data_versions(conn, "transactions")
    report.customers_created = len(new_customers)
    report.customers_existing = len(existing)
    return report


def _valid_lines(lines: list[int], problems: list[RowProblem]) -> list[int]:
    bad = {p.line for p in problems}
    return [line for line in lines if line not in bad]


# ----------------------------------------------------------------------------- reading
def _read(file: Path, content: bytes, sheet: str | None) -> _Table:
    suffix = file.suffix.lower()
    is_zip = content[:4] == b"PK\x03\x04"
    if suffix in XLSX_SUFFIXES or (suffix not in CSV_SUFFIXES and is_zip):
        return _read_xlsx(file, content, sheet)
    if suffix == ".xls":
        raise DataImportError(f"{file.name}: the old .xls format is not supported; save it as .xlsx or .csv")
    if is_zip:
        raise DataImportError(f"{file.name} looks like a zip/Excel file, not text; use the .xlsx extension")
    if b"\x00" in content[:4096]:
        raise DataImportError(f"{file.name} is not a text file (binary content); expected CSV or XLSX")
    return _read_csv(file, content)


def _decode(file: Path, content: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise DataImportError(f"{file.name}: cannot decode the text (tried UTF-8, Windows-1252, Latin-1)")


def _read_csv(file: Path, content: bytes) -> _Table:
    text = _decode(file, content)
    sample = text[:65536]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel_tab if file.suffix.lower() == ".tsv" else csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    header: list[str] | None = None
    rows: list[list[Any]] = []
    lines: list[int] = []
    blank = 0
    try:
        for record in reader:
            line = reader.line_num - _record_line_span(record)
            if header is None:
                if not any(cell.strip() for cell in record):
                    continue
                header = [cell.strip() for cell in record]
                continue
            if not any(cell.strip() for cell in record):
                blank += 1
                continue
            rows.append(record)
            lines.append(line)
    except csv.Error as exc:
        raise DataImportError(f"{file.name}: malformed CSV near line {reader.line_num}: {exc}") from exc
    return _Table(header or [], rows, lines, blank)


def _record_line_span(record: list[str]) -> int:
    """Extra physical lines a CSV record spans (embedded newlines in quoted fields)."""
    return sum(cell.count("\n") for cell in record)


def _read_xlsx(file: Path, content: bytes, sheet: str | None) -> _Table:
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise DataImportError(f"{file.name} is not a readable XLSX workbook: {exc}") from exc
    try:
        if sheet is not None:
            if sheet not in book.sheetnames:
                raise DataImportError(f"{file.name} has no sheet '{sheet}'; sheets: {', '.join(book.sheetnames)}")
            ws = book[sheet]
        else:
            ws = book.worksheets[0]
        header: list[str] | None = None
        rows: list[list[Any]] = []
        lines: list[int] = []
        blank = 0
        for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
            cells = list(values)
            empty = all(_blank(v) for v in cells)
            if header is None:
                if empty:
                    continue
                header = ["" if v is None else str(v).strip() for v in cells]
                continue
            if empty:
                blank += 1
                continue
            rows.append(cells)
            lines.append(number)
    finally:
        book.close()
    return _Table(header or [], rows, lines, blank)


def _norm(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name.strip().lower())


def _find_column(header: list[str], wanted: str, filename: str) -> int:
    if wanted in header:
        return header.index(wanted)
    matches = [i for i, h in enumerate(header) if _norm(h) == _norm(wanted)]
    if len(matches) == 1:
        return matches[0]
    found = ", ".join(f"'{h}'" for h in header if h) or "none"
    raise DataImportError(f"column '{wanted}' not found in {filename}; columns found: {found}")


# ----------------------------------------------------------------------------- values
def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _show(value: Any) -> str:
    text = str(value).strip()
    return text if len(text) <= 40 else text[:37] + "..."


def _clean_id(value: Any) -> str | None:
    if _blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    if re.fullmatch(r"\d+\.0+", text):
        text = text.split(".")[0]
    return text


def _parse_dates(values: list[Any], date_format: str | None) -> list[date | None]:
    out: list[date | None] = [None] * len(values)
    texts: dict[int, str] = {}
    for i, v in enumerate(values):
        if isinstance(v, datetime):
            out[i] = v.date()
        elif isinstance(v, date):
            out[i] = v
        elif not _blank(v):
            texts[i] = str(v).strip()
    if not texts:
        return out
    series = pd.Series(list(texts.values()), index=list(texts.keys()), dtype=object)
    if date_format:
        parsed = _to_datetime(series, date_format)
    else:
        parsed = _to_datetime(series, "ISO8601")
        for fmt in (None, "mixed"):
            rest = parsed.isna()
            if not rest.any():
                break
            candidates = series[rest]
            if fmt == "mixed":  # per-value guessing: only for text that looks like a date
                candidates = candidates[candidates.str.contains(_DATE_LIKE, regex=True)]
            if not candidates.empty:
                parsed.loc[candidates.index] = _to_datetime(candidates, fmt)
    for i, ts in parsed.items():
        if not pd.isna(ts):
            out[int(i)] = pd.Timestamp(ts).date()
    return out


_DATE_LIKE = r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|[A-Za-z]{3}"


def _to_datetime(series: pd.Series, fmt: str | None) -> pd.Series:
    """Parse text to naive timestamps (NaT where unreadable), value by value if the batch parse fails.

    Microseconds, not nanoseconds: a nanosecond timestamp ends in 2262, and a date such as 2999-01-01 must reach
    the row checks (a date after today) instead of failing the whole import.
    """
    try:
        parsed = pd.to_datetime(series, format=fmt, errors="coerce")
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_localize(None)
        return parsed.astype("datetime64[us]")
    except (ValueError, TypeError, OverflowError):
        values = []
        for text in series:
            try:
                ts = pd.to_datetime(text, format=fmt)
                values.append(pd.NaT if ts is pd.NaT else pd.Timestamp(ts).tz_localize(None))
            except (ValueError, TypeError, OverflowError):
                values.append(pd.NaT)
        return pd.Series(values, index=series.index, dtype="datetime64[us]")


def _parse_amount(value: Any) -> tuple[float | None, str | None]:
    if _blank(value):
        return None, "missing amount"
    if isinstance(value, bool):
        return None, f"amount '{value}' is not a number"
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(value).strip().replace("\u00a0", "").replace(" ", "")
        negative = text.startswith("(") and text.endswith(")")
        text = text.strip("()")
        text = re.sub(r"^[$€£]|[$€£]$|^(USD|EUR|GBP)|(USD|EUR|GBP)$", "", text, flags=re.IGNORECASE)
        if re.fullmatch(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?", text):
            text = text.replace(",", "")
        try:
            number = float(text)
        except ValueError:
            return None, f"amount '{_show(value)}' is not a number"
        if negative:
            number = -number
    if math.isnan(number) or math.isinf(number):
        return None, f"amount '{_show(value)}' is not a finite number"
    if number < 0:
        return None, f"amount {number:g} is negative (refunds and returns are not transactions)"
    return number, None
