"""Read-only SQL over an uploaded CSV or XLSX sheet, in an in-memory SQLite database.

The file is parsed with pandas into typed columns (numbers written as `$1,200.50`, `(300)` or `12%`
become numbers; ISO and unambiguous US/European dates become ISO text) and loaded into a private
in-memory SQLite database: a CSV or a one-sheet workbook becomes the table `sheet`, the sheets of a
larger workbook become one table each, named after the sheet.

Queries are checked twice. First with sqlglot: exactly one statement, a SELECT (or UNION /
INTERSECT / EXCEPT of SELECTs, CTEs allowed), reading only the sheet tables, without functions that
touch files, extensions or memory (`load_extension`, `readfile`, `zeroblob`, ...). Then by SQLite
itself: the connection is `query_only`, an authorizer denies everything except reading the sheet
tables and calling ordinary functions, blobs and strings are capped in size, and a progress handler
stops a query after its time limit. At most `max_rows` rows come back, with a flag when there were
more. `describe_sheet` summarises the file (columns, types, row count, a sample and column totals)
so "total this spend sheet" needs no SQL.
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import threading
import time
import zipfile
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MAX_FILE_BYTES = 20 * 1024 * 1024
"""Largest accepted upload."""
MAX_ROWS_LOADED = 1_000_000
"""Most data rows loaded from one file."""
MAX_COLUMNS = 500
"""Most columns in one table."""
MAX_RESULT_ROWS = 1_000
"""Default cap on the rows a query returns."""
QUERY_TIMEOUT_S = 2.0
"""Default time limit of one query."""
MAX_SQL_CHARS = 10_000
"""Longest accepted SQL text."""
MAX_VALUE_BYTES = 10_000_000
"""Largest string or blob a query may build (SQLite's length limit)."""
MAX_FILTER_VALUES = 1_000
"""Most distinct values of a text column a question is matched against for a filter ("for February")."""

DENIED_FUNCTIONS = frozenset(
    {
        "load_extension",
        "readfile",
        "writefile",
        "edit",
        "fts3_tokenizer",
        "zeroblob",
        "randomblob",
        "sqlite_compileoption_get",
        "sqlite_compileoption_used",
        "sqlite_offset",
        "sqlite_source_id",
        "zipfile",
        "sqlar_compress",
        "sqlar_uncompress",
        "fsdir",
        "shell",
        "system",
    }
)
"""Functions refused by the validator and the authorizer."""

_RESERVED = frozenset(
    "select from where group order by limit offset table index join union values case when then else end and or "
    "not in is null as on having distinct all into create drop insert update delete default check primary key "
    "references transaction left right inner outer cross natural using between like glob exists with".split()
)
_CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
_EXCEL_SUFFIXES = {".xlsx", ".xlsm"}
_NUMBER = re.compile(r"^\(?[-+]?[$€£]?\s*[-+]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?([eE][-+]?\d+)?\s*%?\)?$")
_HEADERISH_NUMBER = re.compile(r"^[-+]?\d+([.,]\d+)*$")


class SheetError(ValueError):
    """The file or the query cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class ColumnInfo:
    """One column of a loaded table.

    Attributes:
        name: Column name in SQL.
        source_name: Header in the file.
        dtype: `integer`, `real`, `date` or `text`.
        non_null: Rows with a value.
        distinct: Distinct values.
        total: Sum (numeric columns).
        mean: Mean (numeric columns).
        min: Smallest value (numeric and date columns).
        max: Largest value (numeric and date columns).
        top_values: Most frequent values with counts (text columns).
        note: How values were converted, if they were.
    """

    name: str
    source_name: str
    dtype: str
    non_null: int
    distinct: int
    total: float | None = None
    mean: float | None = None
    min: Any = None
    max: Any = None
    top_values: list[tuple[str, int]] = field(default_factory=list)
    note: str | None = None


@dataclass(frozen=True)
class SheetColumn:
    """A column as questions name it.

    Attributes:
        name: Column name in SQL.
        source_name: Header in the file.
        dtype: `integer`, `real`, `date` or `text`.
        values: A text column's distinct values, for filters ("for February", "for Alice").
    """

    name: str
    source_name: str
    dtype: str
    values: tuple[str, ...] = field(default=(), compare=False, repr=False)
    """A text column's distinct values (at most `MAX_FILTER_VALUES`): what a question may filter on."""

    @property
    def numeric(self) -> bool:
        """Whether the column holds numbers."""
        return self.dtype in ("integer", "real")


@dataclass(frozen=True)
class TableInfo:
    """One table of a loaded sheet.

    Attributes:
        name: Table name in SQL.
        source: File (and worksheet) it came from.
        row_count: Data rows.
        columns: Column descriptions.
        sample: The first rows, as dicts keyed by column name.
    """

    name: str
    source: str
    row_count: int
    columns: list[ColumnInfo]
    sample: list[dict[str, Any]]


@dataclass(frozen=True)
class SheetDescription:
    """What an uploaded file holds.

    Attributes:
        file: File name.
        tables: One per table.
        warnings: Things changed or worth knowing (renamed headers, skipped empty sheets).
    """

    file: str
    tables: list[TableInfo]
    warnings: list[str]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class QueryResult:
    """Rows returned by a sheet query.

    Attributes:
        sql: The query as run.
        columns: Column names of the result.
        rows: Result rows (at most the row limit).
        row_count: Rows returned.
        truncated: Whether the query had more rows than returned.
        elapsed_ms: Query time.
    """

    sql: str
    columns: list[str]
    rows: list[list[Any]]
    row_count: int
    truncated: bool
    elapsed_ms: float

    def to_frame(self) -> pd.DataFrame:
        """The rows as a DataFrame."""
        return pd.DataFrame(self.rows, columns=self.columns)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


def sanitize_identifier(raw: str, position: int, taken: set[str]) -> str:
    """A safe, unique snake_case SQL identifier for a header or sheet name.

    Args:
        raw: The header text.
        position: 1-based position, used when the header is blank.
        taken: Names already used (updated).

    Returns:
        E.g. `Spend ($)` -> `spend`, `2024 Q1` -> `c_2024_q1`, `order` -> `order_`.
    """
    name = re.sub(r"[^0-9a-zA-Z]+", "_", str(raw)).strip("_").lower()
    if not name or name.startswith("unnamed_"):
        name = f"col_{position}"
    if name[0].isdigit():
        name = f"c_{name}"
    if name in _RESERVED:
        name = f"{name}_"
    base, suffix = name, 2
    while name in taken:
        name = f"{base}_{suffix}"
        suffix += 1
    taken.add(name)
    return name


def _parse_number(text: str) -> float:
    """`$1,200.50` -> 1200.5, `(300)` -> -300, `12%` -> 0.12."""
    negative = text.startswith("(") and text.endswith(")")
    cleaned = text.strip("()").replace("$", "").replace("€", "").replace("£", "").replace(",", "").replace(" ", "")
    percent = cleaned.endswith("%")
    value = float(cleaned.rstrip("%"))
    if percent:
        value /= 100.0
    return -value if negative else value


def _convert_text_column(values: pd.Series) -> tuple[pd.Series, str, str | None]:
    """Infer the type of a text column: numbers with money notation, dates, or text."""
    stripped = values.astype("string").str.strip()
    stripped = stripped.mask(stripped == "")
    present = stripped.dropna()
    if present.empty:
        return stripped.astype(object), "text", None
    leading_zero = present.str.match(r"^0\d").any()  # ZIP codes, account numbers: identifiers, not numbers
    if not leading_zero and present.str.match(_NUMBER).all() and present.str.contains(r"\d").all():
        numbers = present.map(_parse_number)
        full = pd.Series(np.nan, index=values.index, dtype="float64")
        full[present.index] = numbers.to_numpy(dtype="float64")
        notes = []
        if present.str.contains(r"[$€£]").any():
            notes.append("currency signs removed")
        if present.str.contains(",").any():
            notes.append("thousands separators removed")
        if present.str.contains("%").any():
            notes.append("percentages as fractions (12% = 0.12)")
        if present.str.startswith("(").any():
            notes.append("(x) read as -x")
        integral = bool(np.all(np.mod(full.dropna(), 1) == 0)) and not present.str.contains(r"[.%eE]").any()
        if integral:
            return full.astype("Int64"), "integer", "; ".join(notes) or None
        return full, "real", "; ".join(notes) or None
    if present.str.contains(r"[-/]").all() and present.str.contains(r"\d").all():
        for fmt, note in (("ISO8601", None), ("%m/%d/%Y", "read as month/day/year"), ("%d/%m/%Y", "day/month/year")):
            parsed = pd.to_datetime(present, format=fmt, errors="coerce")
            if parsed.notna().all():
                if fmt == "%m/%d/%Y" and pd.to_datetime(present, format="%d/%m/%Y", errors="coerce").notna().all():
                    return stripped.astype(object), "text", "dates left as text: day/month order is ambiguous"
                has_time = bool((parsed.dt.normalize() != parsed).any())
                text = parsed.dt.strftime("%Y-%m-%d %H:%M:%S" if has_time else "%Y-%m-%d")
                full_dates = pd.Series(None, index=values.index, dtype=object)
                full_dates[present.index] = text.to_numpy()
                return full_dates, "date", note and f"dates {note}, stored as ISO text"
    return stripped.astype(object), "text", None


def _convert_frame(raw: pd.DataFrame, source: str, warnings: list[str]) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Typed columns with safe names, and per-column metadata."""
    headers = [str(c) for c in raw.columns]
    if len(headers) > MAX_COLUMNS:
        raise SheetError(f"{source} has {len(headers):,} columns; the limit is {MAX_COLUMNS}")
    if headers and all(_HEADERISH_NUMBER.match(h.strip()) for h in headers):
        raise SheetError(
            f"{source}: the first row ({', '.join(headers[:5])}) looks like data, not column names; "
            "add a header row with a name for each column"
        )
    taken: set[str] = set()
    out: dict[str, pd.Series] = {}
    meta: list[dict[str, Any]] = []
    for position, (header, column) in enumerate(zip(headers, raw.columns, strict=True), start=1):
        name = sanitize_identifier(header, position, taken)
        if header.startswith("Unnamed:") or not header.strip():
            warnings.append(f"{source}: column {position} has no header; named it {name!r}")
        series = raw[column]
        converted: pd.Series
        dtype: str
        note: str | None
        if pd.api.types.is_bool_dtype(series):
            converted, dtype, note = series.astype("Int64"), "integer", "true/false as 1/0"
        elif pd.api.types.is_numeric_dtype(series):
            numeric = pd.to_numeric(series, errors="coerce")
            integral = bool(np.all(np.mod(numeric.dropna(), 1) == 0))
            converted, dtype, note = (numeric.astype("Int64"), "integer", None) if integral else (numeric, "real", None)
        elif pd.api.types.is_datetime64_any_dtype(series):
            has_time = bool((series.dropna().dt.normalize() != series.dropna()).any())
            converted = series.dt.strftime("%Y-%m-%d %H:%M:%S" if has_time else "%Y-%m-%d").astype(object)
            converted = converted.where(series.notna(), None)
            dtype, note = "date", "stored as ISO text"
        else:
            as_text = series.map(lambda v: v if v is None or isinstance(v, str) or pd.isna(v) else str(v))
            converted, dtype, note = _convert_text_column(as_text)
        out[name] = converted
        meta.append({"name": name, "source_name": header, "dtype": dtype, "note": note})
    return pd.DataFrame(out, index=raw.index), meta


def _decode(data: bytes, encoding: str | None, name: str) -> str:
    """Bytes to text, with a clear error for binary or non-UTF-8 files."""
    if b"\x00" in data[:8192]:
        raise SheetError(f"{name} is not a text CSV file (it contains binary data); upload a CSV or XLSX file")
    try:
        return data.decode(encoding or "utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = data[exc.start : exc.start + 1].hex()
        raise SheetError(
            f"{name} is not valid {encoding or 'UTF-8'} text (byte 0x{bad} at position {exc.start:,}); "
            "save it as 'CSV UTF-8' or give its encoding (e.g. cp1252)"
        ) from exc
    except LookupError as exc:
        raise SheetError(f"unknown encoding {encoding!r}") from exc


def _read_csv(path: Path, encoding: str | None) -> pd.DataFrame:
    """Parse a CSV/TSV file as text columns."""
    text = _decode(path.read_bytes(), encoding, path.name)
    if not text.strip():
        raise SheetError(f"{path.name} is empty: it has no header and no rows")
    head = text[:65536]
    try:
        delimiter = csv.Sniffer().sniff(head, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=True,
            nrows=MAX_ROWS_LOADED + 1,
        )
    except pd.errors.EmptyDataError as exc:
        raise SheetError(f"{path.name} has no columns") from exc
    except pd.errors.ParserError as exc:
        detail = " ".join(str(exc).split())
        raise SheetError(f"{path.name} is not a well-formed CSV: {detail}") from exc
    if len(frame) > MAX_ROWS_LOADED:
        raise SheetError(f"{path.name} has more than {MAX_ROWS_LOADED:,} rows; the limit is {MAX_ROWS_LOADED:,}")
    return frame


def _read_excel(path: Path) -> dict[str, pd.DataFrame]:
    """Parse every worksheet of an XLSX file."""
    try:
        sheets: dict[str, pd.DataFrame] = pd.read_excel(path, sheet_name=None, engine="openpyxl")
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise SheetError(
            f"{path.name} is not a valid XLSX workbook ({type(exc).__name__}); re-save it from Excel"
        ) from exc
    except ValueError as exc:
        raise SheetError(f"{path.name} could not be read as XLSX: {' '.join(str(exc).split())}") from exc
    for name, frame in sheets.items():
        if len(frame) > MAX_ROWS_LOADED:
            raise SheetError(f"worksheet {name!r} has more than {MAX_ROWS_LOADED:,} rows")
    return sheets


def _authorizer() -> Any:
    """An SQLite authorizer that allows only SELECT, reading tables and calling ordinary functions.

    The only real tables in the database are the sheet tables; reads of SQLite's own schema tables
    (`sqlite_*`) and of pragma table-valued functions are denied. Reads of CTE names are allowed.
    """
    recursive = getattr(sqlite3, "SQLITE_RECURSIVE", 33)

    def check(action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None) -> int:
        if action in (sqlite3.SQLITE_SELECT, recursive):
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_READ:
            table = (arg1 or "").lower()
            return sqlite3.SQLITE_DENY if table.startswith(("sqlite_", "pragma_")) else sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_FUNCTION:
            name = (arg2 or "").lower()
            return sqlite3.SQLITE_DENY if name in DENIED_FUNCTIONS or name.startswith("pragma") else sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY

    return check


def validate_sql(sql: str, tables: Collection[str]) -> str:
    """Check that `sql` is one read-only SELECT over the given tables.

    Args:
        sql: The query.
        tables: Table names it may read.

    Returns:
        The query, stripped of surrounding whitespace and a trailing semicolon.

    Raises:
        SheetError: naming what is not allowed.
    """
    import sqlglot
    from sqlglot import exp

    text = sql.strip().rstrip(";").strip() if isinstance(sql, str) else ""
    if not text:
        raise SheetError("the query is empty")
    if len(text) > MAX_SQL_CHARS:
        raise SheetError(f"the query is {len(text):,} characters; the limit is {MAX_SQL_CHARS:,}")
    try:
        statements = [s for s in sqlglot.parse(text, read="sqlite") if s is not None]
    except sqlglot.errors.SqlglotError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SheetError(f"SQL syntax error: {first}") from exc
    if len(statements) != 1:
        raise SheetError(f"send exactly one SQL statement (got {len(statements)})")
    root = statements[0]
    if not isinstance(root, exp.Select | exp.SetOperation):
        kind = root.key.upper() if not isinstance(root, exp.Command) else str(root.this).upper()
        raise SheetError(f"only SELECT queries are allowed, not {kind}")
    allowed = {t.lower() for t in tables}
    ctes = {cte.alias_or_name.lower() for cte in root.find_all(exp.CTE)}
    forbidden = (
        exp.Insert,
        exp.Update,
        exp.Delete,
        exp.Drop,
        exp.Create,
        exp.Alter,
        exp.Command,
        exp.Pragma,
        exp.Attach,
        exp.Detach,
        exp.Into,
        exp.Transaction,
        exp.Commit,
        exp.Rollback,
        exp.Set,
    )
    for node in root.walk():
        if isinstance(node, forbidden):
            raise SheetError(f"{node.key.upper()} is not allowed in a sheet query; only SELECT reads are")
        if isinstance(node, exp.Func):
            name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
            if name in DENIED_FUNCTIONS or name.startswith("pragma"):
                raise SheetError(f"function {name}() is not allowed in a sheet query")
        if isinstance(node, exp.Table):
            if not isinstance(node.this, exp.Identifier):
                raise SheetError("table-valued functions are not allowed; select from the sheet tables")
            if node.args.get("db") or node.args.get("catalog"):
                raise SheetError(f"qualified table names ({node.sql(dialect='sqlite')}) are not allowed")
            if node.name.lower() not in allowed | ctes:
                raise SheetError(f"unknown table {node.name!r}; the sheet tables are: {', '.join(sorted(allowed))}")
    return text


def _distinct_text(column: pd.Series) -> tuple[str, ...]:
    """A text column's distinct values, in order of first appearance (at most `MAX_FILTER_VALUES`)."""
    present = column.dropna().astype(str)
    return tuple(present[present.str.strip() != ""].unique()[:MAX_FILTER_VALUES].tolist())


class SheetDatabase:
    """An uploaded sheet loaded into a private in-memory SQLite database, queried read-only.

    Safe to share between threads (queries are serialised). Close it when done, or use it as a
    context manager.
    """

    def __init__(
        self, tables: dict[str, tuple[pd.DataFrame, list[dict[str, Any]], str]], file: str, warnings: list[str]
    ):
        """Load typed frames; use `load_sheet` to build one from a file.

        Args:
            tables: Table name -> (typed frame, column metadata, source description).
            file: File name, for messages.
            warnings: Notes gathered while reading.
        """
        self.file = file
        self.warnings = list(warnings)
        self._meta = {name: (meta, source) for name, (_, meta, source) in tables.items()}
        self._values = {
            name: {c["name"]: _distinct_text(frame[c["name"]]) for c in meta if c["dtype"] == "text"}
            for name, (frame, meta, _) in tables.items()
        }
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(":memory:", check_same_thread=False)
        for name, (frame, _, _) in tables.items():
            frame.to_sql(name, self._conn, index=False)
        self._conn.commit()
        self._conn.execute("PRAGMA query_only = ON")
        self._conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
        self._conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        self._conn.set_authorizer(_authorizer())

    @property
    def tables(self) -> list[str]:
        """Names of the tables."""
        return list(self._meta)

    def columns(self, table: str) -> list[SheetColumn]:
        """The columns of `table`: SQL name, header in the file and type."""
        meta, _ = self._meta[table]
        values = self._values.get(table, {})
        return [SheetColumn(c["name"], c["source_name"], c["dtype"], values.get(c["name"], ())) for c in meta]

    def query(self, sql: str, *, max_rows: int = MAX_RESULT_ROWS, timeout_s: float = QUERY_TIMEOUT_S) -> QueryResult:
        """Run one validated, read-only SELECT.

        Args:
            sql: The query.
            max_rows: Most rows returned; `truncated` says when there were more.
            timeout_s: Time limit; the query is interrupted after it.

        Returns:
            The columns and rows.

        Raises:
            SheetError: if the query is not allowed, fails, or takes too long.
        """
        text = validate_sql(sql, self.tables)
        deadline = time.monotonic() + timeout_s
        started = time.perf_counter()
        with self._lock:
            self._conn.set_progress_handler(lambda: int(time.monotonic() > deadline), 1000)
            try:
                cursor = self._conn.execute(text)
                rows = cursor.fetchmany(max_rows + 1)
                columns = [d[0] for d in cursor.description or []]
                cursor.close()
            except sqlite3.DatabaseError as exc:
                message = str(exc)
                if "interrupted" in message:
                    raise SheetError(
                        f"the query stopped after {timeout_s:g} s (time limit); filter or aggregate more"
                    ) from exc
                if "not authorized" in message or "prohibited" in message:
                    raise SheetError("the query tried something that is not allowed on a sheet (read-only)") from exc
                if message.startswith("no such column"):
                    known = "; ".join(f"{t}: {', '.join(c['name'] for c in m)}" for t, (m, _) in self._meta.items())
                    raise SheetError(f"the query failed: {message}; the columns are {known}") from exc
                raise SheetError(f"the query failed: {message}") from exc
            except sqlite3.Warning as exc:
                raise SheetError(f"the query failed: {exc}") from exc
            finally:
                self._conn.set_progress_handler(None, 0)
        truncated = len(rows) > max_rows
        kept = [list(r) for r in rows[:max_rows]]
        return QueryResult(
            sql=text,
            columns=columns,
            rows=kept,
            row_count=len(kept),
            truncated=truncated,
            elapsed_ms=(time.perf_counter() - started) * 1000.0,
        )

    def describe(self, *, sample_rows: int = 5) -> SheetDescription:
        """Columns, types, row counts, a sample and totals of every table.

        Args:
            sample_rows: Rows in each sample.

        Returns:
            The description.
        """
        infos: list[TableInfo] = []
        with self._lock:
            self._conn.set_authorizer(None)
            try:
                for name, (meta, source) in self._meta.items():
                    infos.append(self._describe_table(name, meta, source, sample_rows))
            finally:
                self._conn.set_authorizer(_authorizer())
        return SheetDescription(file=self.file, tables=infos, warnings=list(self.warnings))

    def _describe_table(self, name: str, meta: list[dict[str, Any]], source: str, sample_rows: int) -> TableInfo:
        """Describe one table (called with the lock held)."""
        row_count = int(self._conn.execute(f'SELECT COUNT(*) FROM "{name}"').fetchone()[0])
        columns: list[ColumnInfo] = []
        for col in meta:
            quoted = f'"{col["name"]}"'
            non_null, distinct = self._conn.execute(
                f'SELECT COUNT({quoted}), COUNT(DISTINCT {quoted}) FROM "{name}"'
            ).fetchone()
            extra: dict[str, Any] = {}
            if col["dtype"] in ("integer", "real"):
                total, mean, low, high = self._conn.execute(
                    f'SELECT SUM({quoted}), AVG({quoted}), MIN({quoted}), MAX({quoted}) FROM "{name}"'
                ).fetchone()
                extra = {"total": total, "mean": mean, "min": low, "max": high}
            elif col["dtype"] == "date":
                low, high = self._conn.execute(f'SELECT MIN({quoted}), MAX({quoted}) FROM "{name}"').fetchone()
                extra = {"min": low, "max": high}
            else:
                top = self._conn.execute(
                    f'SELECT {quoted}, COUNT(*) AS n FROM "{name}" WHERE {quoted} IS NOT NULL '
                    f"GROUP BY {quoted} ORDER BY n DESC, {quoted} LIMIT 3"
                ).fetchall()
                extra = {"top_values": [(str(v), int(n)) for v, n in top]}
            columns.append(
                ColumnInfo(
                    name=col["name"],
                    source_name=col["source_name"],
                    dtype=col["dtype"],
                    non_null=int(non_null),
                    distinct=int(distinct),
                    note=col["note"],
                    **extra,
                )
            )
        cursor = self._conn.execute(f'SELECT * FROM "{name}" LIMIT {int(sample_rows)}')
        names = [d[0] for d in cursor.description]
        sample = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        return TableInfo(name=name, source=source, row_count=row_count, columns=columns, sample=sample)

    def close(self) -> None:
        """Release the database."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SheetDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_sheet(path: str | Path, *, max_bytes: int = MAX_FILE_BYTES, encoding: str | None = None) -> SheetDatabase:
    """Load a CSV/TSV or XLSX file into a read-only in-memory database.

    Args:
        path: The uploaded file.
        max_bytes: Largest accepted file size.
        encoding: Text encoding of a CSV (UTF-8, with or without BOM, by default).

    Returns:
        The database; a CSV or one-sheet workbook is the table `sheet`.

    Raises:
        SheetError: if the file is missing, empty, too big, of an unsupported type, not decodable,
            malformed, or has no header row.
    """
    file = Path(path)
    if not file.is_file():
        raise SheetError(f"file not found: {file.name}")
    size = file.stat().st_size
    if size == 0:
        raise SheetError(f"{file.name} is empty (0 bytes)")
    if size > max_bytes:
        raise SheetError(f"{file.name} is {size / 1e6:,.1f} MB; the limit is {max_bytes / 1e6:,.1f} MB")
    suffix = file.suffix.lower()
    warnings: list[str] = []
    raw_tables: list[tuple[str, pd.DataFrame, str]] = []
    if suffix in _CSV_SUFFIXES:
        raw_tables.append(("sheet", _read_csv(file, encoding), file.name))
    elif suffix in _EXCEL_SUFFIXES:
        sheets = _read_excel(file)
        non_empty = {k: v for k, v in sheets.items() if not (v.empty and len(v.columns) == 0)}
        for skipped in sheets.keys() - non_empty.keys():
            warnings.append(f"worksheet {skipped!r} is empty and was skipped")
        if not non_empty:
            raise SheetError(f"{file.name} has no data in any worksheet")
        taken: set[str] = set()
        for position, (sheet, frame) in enumerate(non_empty.items(), start=1):
            name = "sheet" if len(non_empty) == 1 else sanitize_identifier(sheet, position, taken)
            raw_tables.append((name, frame, f"{file.name} [{sheet}]"))
    elif suffix == ".xls":
        raise SheetError(f"{file.name} is an old .xls workbook; save it as .xlsx or CSV")
    else:
        raise SheetError(f"{file.name}: unsupported file type {suffix or '(none)'}; upload CSV, TSV or XLSX")
    tables: dict[str, tuple[pd.DataFrame, list[dict[str, Any]], str]] = {}
    for name, raw, source in raw_tables:
        frame, meta = _convert_frame(raw, source, warnings)
        tables[name] = (frame, meta, source)
    return SheetDatabase(tables, file.name, warnings)


def query_sheet(
    path: str | Path, sql: str, *, max_rows: int = MAX_RESULT_ROWS, timeout_s: float = QUERY_TIMEOUT_S
) -> QueryResult:
    """Load a sheet and run one read-only query on it.

    Args:
        path: The uploaded CSV/XLSX file.
        sql: One SELECT over the table `sheet` (or the worksheet tables).
        max_rows: Most rows returned.
        timeout_s: Time limit of the query.

    Returns:
        The result rows.

    Raises:
        SheetError: for a bad file or a query that is not allowed or fails.
    """
    with load_sheet(path) as db:
        return db.query(sql, max_rows=max_rows, timeout_s=timeout_s)


def describe_sheet(path: str | Path, *, sample_rows: int = 5) -> SheetDescription:
    """Describe an uploaded sheet: columns, types, row count, sample and column totals.

    Args:
        path: The uploaded CSV/XLSX file.
        sample_rows: Rows in each sample.

    Returns:
        The description.

    Raises:
        SheetError: for a bad file.
    """
    with load_sheet(path) as db:
        return db.describe(sample_rows=sample_rows)


# ----------------------------------------------------------------------------- questions in words
_ATTACHED = re.compile(r"\(attached:[^)]*\)", re.IGNORECASE)
_MOST = r"highest|largest|biggest|greatest|most|max(?:imum)?|top"
_LEAST = r"lowest|smallest|least|fewest|min(?:imum)?|bottom"
_SUPERLATIVE = re.compile(rf"\b(?:(?P<most>{_MOST})|(?P<least>{_LEAST}))\b")
_TOP_N = re.compile(r"\b(?:top|bottom|first|last)\s+(\d{1,3})\b")
_TOTAL = re.compile(r"\b(?:total|sum|add up|added up)\b")
_AVERAGE = re.compile(r"\b(?:average|avg|mean)\b")
_OVER_BUDGET = re.compile(r"\b(?P<dir>over|under|above|below)\s+(?:the\s+|their\s+|its\s+)?(?:budget|plan|target)\b")
_WHICH = re.compile(r"\b(?:which|what)\s+([a-z][a-z0-9_]*)")
_ASKS_ROWS = re.compile(r"\b(?:which|who|what|list|show)\b")
_GROUP = re.compile(r"\b(?:by|per|for each|each)\s+([a-z][a-z0-9_]*)")
_IDENTIFIER = re.compile(r"(?<![a-z0-9_])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![a-z0-9_])")
"""A word that can only be a column name (`q3_actual`)."""
_TARGET = r"(?:\s+(?:of|the|column|for|in)\b)*\s+([a-z0-9_ ]+?)(?=\s+(?:in|for|by|per|of|from|across|on|and|over|under)\b|[?.!,;]|$)"
"""The words after "total" or "highest" that name what to add up or rank ("total q3 budget in the sheet")."""
_GENERIC = frozenset(
    "the this that these a an sheet spreadsheet file csv xlsx table it all everything column columns row rows "
    "value values number numbers data uploaded attached please amount amounts figure figures".split()
)
"""Words after "total" that name no column ("total this sheet")."""
BUDGET_WORDS = frozenset({"budget", "budgeted", "plan", "planned", "target"})
"""Tokens of a column holding the plan in an "over budget" question."""
ACTUAL_WORDS = frozenset({"actual", "actuals", "spend", "spent", "cost", "costs"})
"""Tokens of a column holding what happened in an "over budget" question."""


_OVERALL = re.compile(r"\b(?:in total|overall|combined|altogether|all together|in all|all told|cumulative(?:ly)?)\b")
"""Words that ask for the rows of a group added up ("which rep closed the most deals in total?")."""
_HOW_MANY = re.compile(r"\bhow (?:many|much)\b")
"""A count or an amount of a numeric column: its total ("how many deals did Alice close?")."""
_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
"""Month names and abbreviations, as a question or a sheet writes them."""
_MONTH = re.compile(rf"\b({'|'.join(sorted(_MONTHS, key=len, reverse=True))})\b")
_MONTH_CONTEXT = re.compile(r"(?:\b(?:in|for|during|of|from|since|until|through)\s+(?:the\s+month\s+of\s+)?)$")
"""Before "may" or "march" as a month ("for May"): without it they are the verb ("which rep may...")."""
_YEAR = re.compile(r"\b((?:19|20)\d\d)\b")
_NOT_VALUES = frozenset(
    "a an and or the of in on at to for by per with from is are was were be it its this that which what who how "
    "total sum average mean most least top bottom highest lowest sheet file row rows column columns".split()
)
"""Words never read as a value to filter on, whatever the sheet holds."""


@dataclass(frozen=True)
class _Filter:
    """A condition on one column that a question names a value of ("for February": `month = 'February'`)."""

    column: SheetColumn
    sql: str
    words: str
    tokens: frozenset[str]


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _month_of(value: str) -> int | None:
    """The month a value names ("February", "Feb", "feb 2026"), or None."""
    first = _tokens(value)[:1]
    return _MONTHS.get(first[0]) if first else None


def _question_months(text: str) -> dict[int, tuple[int, int]]:
    """The months a question names, with the span of each mention ("for May" counts, "may I" does not)."""
    months: dict[int, tuple[int, int]] = {}
    for m in _MONTH.finditer(text):
        word = m.group(1)
        if word in ("may", "mar", "march") and not _MONTH_CONTEXT.search(text[: m.start()]):
            continue
        months.setdefault(_MONTHS[word], m.span())
    return months


def _filters(text: str, columns: list[SheetColumn]) -> list[_Filter]:
    """The conditions a question puts on the rows: the values of text columns it names, the months of a date column.

    "for February" keeps the rows whose text column holds "February" (or "Feb"), or, with no such column,
    whose date column falls in February (of the year the question names, if it names one); "for Alice or
    Bob" keeps both. A value is matched as whole words, longest first, never inside a column's name.
    """
    taken = [m.span() for c in columns for p in _column_patterns(c) for m in p.finditer(text)]
    months = _question_months(text)

    def free(start: int, end: int) -> bool:
        return not any(a < end and start < b for a, b in taken)

    chosen: dict[str, tuple[SheetColumn, list[str]]] = {}
    candidates: list[tuple[int, int, SheetColumn, str]] = []
    for column in columns:
        for value in column.values:
            key = " ".join(value.lower().split())
            if len(key) < 2 or key in _NOT_VALUES or key in _GENERIC:
                continue
            for m in re.finditer(rf"(?<![a-z0-9]){re.escape(key)}(?![a-z0-9])", text):
                candidates.append((m.start(), m.end(), column, value))
            month = _month_of(value)
            if month in months and len(_tokens(value)) == 1:  # "Feb" in the sheet, "February" in the question
                candidates.append((*months[month], column, value))
    matched: set[tuple[int, int]] = set()
    for start, end, column, value in sorted(candidates, key=lambda c: (c[0] - c[1], c[0])):  # longest first
        if (start, end) not in matched and not free(start, end):
            continue  # inside a column's name, or a longer value
        taken.append((start, end))
        matched.add((start, end))
        entry = chosen.setdefault(column.name, (column, []))
        if value not in entry[1]:
            entry[1].append(value)
    out: list[_Filter] = []
    for column, values in chosen.values():
        condition = (
            f"{_quote(column.name)} = {_literal(values[0])}"
            if len(values) == 1
            else f"{_quote(column.name)} IN ({', '.join(map(_literal, values))})"
        )
        tokens = frozenset(t for v in values for t in _tokens(v)) | frozenset(
            w for v in values if (n := _month_of(v)) for w, k in _MONTHS.items() if k == n
        )
        out.append(_Filter(column, condition, f"{column.name} {' or '.join(values)}", tokens))
    unused = {n: span for n, span in months.items() if free(*span)}
    dates = [c for c in columns if c.dtype == "date"]
    if unused and len(dates) == 1:  # "in February": the rows dated in February
        column = dates[0]
        numbers = sorted(unused)
        of = f"CAST(strftime('%m', {_quote(column.name)}) AS INTEGER)"
        condition = f"{of} = {numbers[0]}" if len(numbers) == 1 else f"{of} IN ({', '.join(map(str, numbers))})"
        names = [next(w for w, k in _MONTHS.items() if k == n).capitalize() for n in numbers]
        year = _YEAR.search(text)
        if year:
            condition += f" AND strftime('%Y', {_quote(column.name)}) = '{year.group(1)}'"
            names = [f"{name} {year.group(1)}" for name in names]
        tokens = frozenset(w for w, k in _MONTHS.items() if k in unused)
        out.append(_Filter(column, condition, f"{column.name} in {' or '.join(names)}", tokens))
    return out


def _ratio(text: str, numbers: list[SheetColumn]) -> tuple[SheetColumn, SheetColumn] | None:
    """The two numeric columns of "<a> per <b>" ("revenue per deal"), or None."""
    for a in numbers:
        for b in numbers:
            if a is b:
                continue
            for pa in _column_patterns(a):
                for pb in _column_patterns(b):
                    if re.search(rf"{pa.pattern}\s+(?:per|for each|for every|a|an)\s+{pb.pattern}", text):
                        return a, b
    return None


@dataclass(frozen=True)
class SheetQuestion:
    """A question in words about a sheet, as one SELECT.

    Attributes:
        sql: The query.
        asks: What the query answers, in words ("department with the highest q1_actual").
    """

    sql: str
    asks: str


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _tokens(text: str) -> list[str]:
    return [t for t in re.split(r"[^a-z0-9]+", text.lower()) if t]


_SEPARATOR = r"[\s_-]*"
"""Between the words of a column name as a question writes it ("q1 actual", "q1_actual", "q1-actual")."""


def _column_patterns(column: SheetColumn) -> list[re.Pattern[str]]:
    """How a question may write a column: `q1_actual`, `Q1 actual`, `q1-actual`, its header, a plural."""
    names = {tuple(_tokens(column.name)), tuple(_tokens(column.source_name))}
    if column.name.startswith("c_"):  # "2024 Q1" was named c_2024_q1
        names.add(tuple(_tokens(column.name[2:])))
    return [re.compile(rf"(?<![a-z0-9]){_name_pattern(words)}(?![a-z0-9])") for words in names if words]


def _name_pattern(words: tuple[str, ...]) -> str:
    """A column name's words as a pattern, its last word singular or plural (`deals`: "deal", "deals")."""
    *head, last = words
    if len(last) > 3 and last.endswith("s") and not last.endswith("ss"):
        last_pattern = f"{re.escape(last[:-1])}(?:es|s)?"  # "deals" → deal, deals
    else:
        last_pattern = f"{re.escape(last)}s?"
    return _SEPARATOR.join([*map(re.escape, head), last_pattern])


def _mentions(text: str, columns: list[SheetColumn]) -> list[SheetColumn]:
    """The columns `text` names, in order (a name inside a longer one counts once: `q1_budget`, not `budget`).

    Raises:
        SheetError: for a word that can only be a column name (`q3_actual`) and is none of the columns.
    """
    spans = [(m.start(), m.end(), c) for c in columns for p in _column_patterns(c) for m in p.finditer(text)]
    kept = [
        s
        for s in spans
        if not any(o is not s and o[0] <= s[0] and s[1] <= o[1] and o[1] - o[0] > s[1] - s[0] for o in spans)
    ]
    for m in _IDENTIFIER.finditer(text):
        if any(s <= m.start() < e for s, e, _ in kept):
            continue
        close = _closest(m.group(0), columns)
        if close is None:
            raise SheetError(f"the sheet has no column {m.group(0)!r}; its columns are: {_listing(columns)}")
        kept.append((m.start(), m.end(), close))
    ordered: list[SheetColumn] = []
    for _, _, column in sorted(kept, key=lambda s: (s[0], -s[1])):
        if column not in ordered:
            ordered.append(column)
    return ordered


def _closest(word: str, columns: list[SheetColumn]) -> SheetColumn | None:
    """The column a misspelt or reworded name means (`q1_actaul`, `actual_q1`), if one is close enough."""
    import difflib

    key = "_".join(_tokens(word))
    for column in columns:
        if sorted(_tokens(column.name)) == sorted(_tokens(key)):
            return column
    digits = re.findall(r"\d+", key)  # q3 is not a misspelt q1
    same = [c.name for c in columns if re.findall(r"\d+", c.name) == digits]
    match = difflib.get_close_matches(key, same, n=1, cutoff=0.8)
    return next(c for c in columns if c.name == match[0]) if match else None


def _listing(columns: list[SheetColumn]) -> str:
    return ", ".join(c.name if c.name == c.source_name else f"{c.name} ({c.source_name})" for c in columns)


def _check_target(
    text: str,
    keyword: re.Pattern[str],
    columns: list[SheetColumn],
    named: list[SheetColumn],
    values: Collection[str] = (),
) -> None:
    """Raise when the words after `keyword` ("total q3 budget") name something that is not a column.

    Words of the values the question filters on ("in total for February") are no column names.

    Raises:
        SheetError: naming the words and listing the columns.
    """
    if (found := keyword.search(text)) is None:
        return
    target = re.match(_TARGET, text[found.end() :])
    if target is None:
        return
    words = [w for w in _tokens(target.group(1)) if w not in _GENERIC and w not in values]
    phrase = " ".join(words)
    if not words or any(p.search(phrase) for c in named for p in _column_patterns(c)):
        return
    if _closest(phrase, columns) is None:
        raise SheetError(f"the sheet has no column {phrase!r}; its columns are: {_listing(columns)}")


def _label_column(text: str, columns: list[SheetColumn], named: list[SheetColumn]) -> SheetColumn | None:
    """The column that names the rows: the one after "which", a named text column, else the first text column."""
    texts = [c for c in columns if not c.numeric]
    if which := _WHICH.search(text):
        word = which.group(1)
        for column in texts:
            if any(p.fullmatch(word) for p in _column_patterns(column)):
                return column
    return next((c for c in named if not c.numeric), texts[0] if texts else None)


def _budget_pair(text: str, columns: list[SheetColumn]) -> tuple[str, str, str]:
    """The actual and budget expressions of an "over budget" question, and their name in words.

    Columns pair up by their other tokens (`q2_actual` with `q2_budget`); a question that names one of those
    tokens ("in Q2") takes that pair, otherwise all pairs are added up.

    Raises:
        SheetError: when the sheet has no budget and actual columns.
    """
    numeric = [c for c in columns if c.numeric]
    budgets = [c for c in numeric if BUDGET_WORDS & set(_tokens(c.name))]
    actuals = [c for c in numeric if ACTUAL_WORDS & set(_tokens(c.name))]
    pairs = [
        (a, b, rest)
        for b in budgets
        for a in actuals
        if (rest := set(_tokens(a.name)) - ACTUAL_WORDS) == set(_tokens(b.name)) - BUDGET_WORDS
    ]
    if not pairs:
        raise SheetError(
            "an over-budget question needs a budget column and an actual column (e.g. q2_budget and q2_actual); "
            f"the sheet's columns are: {_listing(columns)}"
        )
    words = set(_tokens(text))
    chosen = [p for p in pairs if p[2] and p[2] <= words] or pairs
    actual = " + ".join(_quote(a.name) for a, _, _ in chosen)
    budget = " + ".join(_quote(b.name) for _, b, _ in chosen)
    if len(chosen) > 1:
        actual, budget = f"({actual})", f"({budget})"
    label = ", ".join(f"{a.name} − {b.name}" for a, b, _ in chosen)
    return actual, budget, label


def question_to_sql(question: str, columns: list[SheetColumn], table: str = "sheet") -> SheetQuestion | None:
    """Turn a plain-language question about a sheet into one SELECT over its columns.

    Understood: "which <label> had the highest/lowest <column>" (and "top 3"), the same "in total" or
    "overall" (the label's rows added up: `SUM … GROUP BY`), "total <column>" (and "by <label>"), "average
    <column>", "how many <column>", "<a> per <b>" (`SUM(a) / SUM(b)`, per label with "which" or "by"),
    "<a> over <b>" and "most over/under budget" (actual − budget, the pair a period word such as "Q2" picks).
    A value of a text column the question names ("for February", "Alice or Bob"), or a month of the
    sheet's date column, filters the rows. Column names are matched as written, with spaces for
    underscores, singular or plural, by their header, or by a close spelling.

    Args:
        question: The request.
        columns: The table's columns (with their values, from `SheetDatabase.columns`, for filters).
        table: The table name.

    Returns:
        The query, or None when the question asks for nothing more specific than the sheet's description.

    Raises:
        SheetError: when the question names a column the sheet does not have (the message lists the columns).
    """
    text = " ".join(_ATTACHED.sub(" ", question).lower().split())
    named = _mentions(text, columns)
    filters = _filters(text, columns)
    filtered = {f.column.name for f in filters}
    value_words = frozenset(t for f in filters for t in f.tokens)
    where = " AND ".join(f.sql for f in filters)
    where_sql = f" WHERE {where}" if where else ""
    only = f" ({', '.join(f.words for f in filters)})" if filters else ""
    numbers = [c for c in named if c.numeric]
    label = _label_column(text, [c for c in columns if c.name not in filtered] or columns, named)
    superlatives = list(_SUPERLATIVE.finditer(text))
    sup = superlatives[0] if superlatives else None
    lowest = any(m.group("least") for m in superlatives)  # "top 2 by lowest cost" ranks from the bottom
    n = int(top.group(1)) if (top := _TOP_N.search(text)) else 1
    source = _quote(table)
    by = next(  # "revenue per deal by rep": the first "by"/"per"/"each" that names a text column
        (
            c
            for group in _GROUP.finditer(text)
            for c in columns
            if not c.numeric and any(p.fullmatch(group.group(1)) for p in _column_patterns(c))
        ),
        None,
    )
    asks_rows = label is not None and (sup is not None or by is not None or _ASKS_ROWS.search(text) is not None)
    label_sql = f"{_quote(label.name)}, " if label is not None else ""

    pair: tuple[str, str, str] | None = None
    over = _OVER_BUDGET.search(text)
    under = over is not None and over.group("dir") in ("under", "below")
    if over:
        pair = _budget_pair(text, columns)
    elif len(numbers) >= 2 and re.search(r"(?:^|\s)(?:over|minus|less)\s", text):
        a, b = numbers[0], numbers[1]  # "q2_actual over q2_budget": the first minus the second
        pair = (_quote(a.name), _quote(b.name), f"{a.name} − {b.name}")
    if pair is not None:
        actual, budget, what = pair
        diff = f"{actual} - {budget}"
        if asks_rows:
            order = "ASC" if under else "DESC"
            conditions = [c for c in (where, "" if sup else f"{diff} {'<' if under else '>'} 0") if c]
            condition = f" WHERE {' AND '.join(conditions)}" if conditions else ""
            limit = f" LIMIT {n}" if sup else ""
            sql = (
                f"SELECT {label_sql}{actual} AS actual, {budget} AS budget, {diff} AS over_budget "
                f"FROM {source}{condition} ORDER BY over_budget {order}{limit}"
            )
            kind = "most under" if under and sup else "most over" if sup else "under" if under else "over"
            return SheetQuestion(sql, f"{label.name if label else 'row'} {kind} budget ({what}){only}")
        sql = (
            f"SELECT SUM({actual}) AS actual, SUM({budget}) AS budget, SUM({diff}) AS over_budget "
            f"FROM {source}{where_sql}"
        )
        return SheetQuestion(sql, f"total over budget ({what}){only}")

    ratio = _ratio(text, numbers)
    if ratio is not None:  # "revenue per deal": the one added up over the other, never an average of row ratios
        a, b = ratio
        alias = f"{a.name}_per_{b.name}"
        value = f"SUM({_quote(a.name)}) * 1.0 / NULLIF(SUM({_quote(b.name)}), 0)"
        key_column = by or (label if sup else None)
        if key_column is not None:
            key = _quote(key_column.name)
            order = f"{alias} {'ASC' if lowest else 'DESC'} LIMIT {n}" if sup else key
            sql = f"SELECT {key}, {value} AS {alias} FROM {source}{where_sql} GROUP BY {key} ORDER BY {order}"
            return SheetQuestion(sql, f"{a.name} per {b.name} by {key_column.name}{only}")
        return SheetQuestion(f"SELECT {value} AS {alias} FROM {source}{where_sql}", f"{a.name} per {b.name}{only}")

    if sup:
        _check_target(text, _SUPERLATIVE, columns, named, value_words)
    if sup and numbers:
        column = _quote(numbers[0].name)
        order = "ASC" if lowest else "DESC"
        extreme = "highest" if order == "DESC" else "lowest"
        grouped = by or label
        function, word = (
            ("AVG", "average") if _AVERAGE.search(text) else ("SUM", "total") if _adds_up(text) else (None, "")
        )
        if function is not None and grouped is not None:  # "which rep closed the most deals in total?"
            key, alias = _quote(grouped.name), f"{word}_{numbers[0].name}"
            sql = (
                f"SELECT {key}, {function}({column}) AS {alias} FROM {source} WHERE {column} IS NOT NULL"
                f"{f' AND {where}' if where else ''} GROUP BY {key} ORDER BY {alias} {order} LIMIT {n}"
            )
            return SheetQuestion(sql, f"{grouped.name} with the {extreme} {word} {numbers[0].name}{only}")
        sql = (
            f"SELECT {label_sql}{column} FROM {source} WHERE {column} IS NOT NULL{f' AND {where}' if where else ''} "
            f"ORDER BY {column} {order} LIMIT {n}"
        )
        return SheetQuestion(sql, f"{label.name if label else 'row'} with the {extreme} {numbers[0].name}{only}")

    for keyword, function, word in (
        (_AVERAGE, "AVG", "average"),
        (_TOTAL, "SUM", "total"),
        (_HOW_MANY, "SUM", "total"),
    ):
        if not keyword.search(text):
            continue
        _check_target(text, keyword, columns, named, value_words)
        if not numbers:
            if named and not all(c.name in filtered for c in named):
                raise SheetError(
                    f"{named[0].name} holds text, not numbers; the numeric columns are: "
                    f"{_listing([c for c in columns if c.numeric])}"
                )
            continue
        parts = ", ".join(f"{function}({_quote(c.name)}) AS {word}_{c.name}" for c in numbers)
        if by is not None:
            key = _quote(by.name)
            sql = f"SELECT {key}, {parts} FROM {source}{where_sql} GROUP BY {key} ORDER BY {key}"
        else:
            sql = f"SELECT {parts} FROM {source}{where_sql}"
        what = ", ".join(c.name for c in numbers)
        return SheetQuestion(sql, f"{word} {what}" + (f" by {by.name}" if by else "") + only)
    return None


def _adds_up(text: str) -> bool:
    """Whether the question asks for rows added up ("in total", "overall", "total deals", "combined")."""
    return bool(_OVERALL.search(text) or _TOTAL.search(text))


def sheet_columns(path: str | Path) -> list[str]:
    """The SQL column names of an uploaded sheet, read from its header row only (cheap; empty if unreadable).

    Args:
        path: The uploaded CSV/XLSX file.

    Returns:
        The names, as `load_sheet` would give them.
    """
    file = Path(path)
    headers: list[str] = []
    try:
        if file.suffix.lower() in _CSV_SUFFIXES:
            with file.open("rb") as handle:
                head = handle.read(65536).decode("utf-8-sig", errors="ignore")
            try:
                delimiter = csv.Sniffer().sniff(head, delimiters=",;\t|").delimiter
            except csv.Error:
                delimiter = "\t" if file.suffix.lower() == ".tsv" else ","
            headers = next(csv.reader(io.StringIO(head), delimiter=delimiter), [])
        elif file.suffix.lower() in _EXCEL_SUFFIXES:
            from openpyxl import load_workbook

            book = load_workbook(file, read_only=True, data_only=True)
            try:
                for worksheet in book.worksheets:
                    first = next(worksheet.iter_rows(max_row=1, values_only=True), ())
                    headers += ["" if v is None else str(v) for v in first]
            finally:
                book.close()
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return []
    taken: set[str] = set()
    return [sanitize_identifier(h, i, taken) for i, h in enumerate(headers[:MAX_COLUMNS], start=1)]
