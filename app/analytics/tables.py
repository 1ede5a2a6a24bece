"""Reading a user's tabular file (CSV, TSV or XLSX with a header row) into a DataFrame."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pandas as pd

from app.analytics._validation import AnalyticsInputError

MAX_TABLE_BYTES = 200 * 1024 * 1024
"""Largest file read for analysis."""


def read_table(path: str | Path, *, text_columns: list[str] | None = None) -> pd.DataFrame:
    """Read a CSV/TSV/TXT file (delimiter sniffed among `, ; tab |`) or an XLSX workbook's first sheet.

    Args:
        path: The file; the first row holds the column names.
        text_columns: Columns to keep as text (ids with leading zeros, dates like `19970101`).

    Returns:
        The table.

    Raises:
        AnalyticsInputError: if the file is missing, too big, of an unknown type, not UTF-8, or malformed.
    """
    file = Path(path)
    if not file.is_file():
        raise AnalyticsInputError(f"file not found: {file}")
    if file.stat().st_size > MAX_TABLE_BYTES:
        raise AnalyticsInputError(f"{file.name} is larger than {MAX_TABLE_BYTES // (1024 * 1024)} MB")
    if file.stat().st_size == 0:
        raise AnalyticsInputError(f"{file.name} is empty")
    dtype: dict[str, Any] = {c: str for c in (text_columns or [])}
    suffix = file.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm"):
            try:
                return pd.read_excel(file, dtype=dtype, engine="openpyxl")
            except Exception as exc:  # noqa: BLE001 - a corrupt workbook fails in many ways (zip, XML, parts)
                detail = " ".join(str(exc).split())[:200] or type(exc).__name__
                raise AnalyticsInputError(f"{file.name} is not a valid XLSX workbook ({detail})") from exc
        if suffix not in (".csv", ".tsv", ".txt"):
            raise AnalyticsInputError(f"{file.name}: unsupported file type {suffix or '(none)'}; use CSV, TSV or XLSX")
        with file.open("r", encoding="utf-8-sig", newline="") as handle:
            head = handle.read(65536)
        try:
            delimiter = csv.Sniffer().sniff(head, delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = "\t" if suffix == ".tsv" else ","
        return pd.read_csv(file, sep=delimiter, dtype=dtype, encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AnalyticsInputError(f"{file.name} is not UTF-8 text; save it as 'CSV UTF-8'") from exc
    except AnalyticsInputError:
        raise
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, OSError) as exc:
        raise AnalyticsInputError(f"{file.name} could not be read: {' '.join(str(exc).split())}") from exc
