"""Input checks shared by the transaction-based analytics (RFM, BG/NBD, cohorts)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


class AnalyticsInputError(ValueError):
    """The data handed to an analytics function cannot be used; the message says why and what to fix."""


def require_columns(df: pd.DataFrame, columns: Sequence[str | None], *, what: str = "transactions") -> None:
    """Check that every named column is present in `df`.

    Args:
        df: The frame to check.
        columns: Column names; `None` entries (optional columns not given) are skipped.
        what: What the frame holds, for the message.

    Raises:
        AnalyticsInputError: naming the missing columns and the columns that exist.
    """
    missing = [c for c in columns if c is not None and c not in df.columns]
    if missing:
        available = ", ".join(map(str, df.columns[:20]))
        raise AnalyticsInputError(f"the {what} have no column {', '.join(map(repr, missing))} (columns: {available})")


def to_datetime_column(values: pd.Series, *, column: str, date_format: str | None = None) -> pd.Series:
    """Parse a column of dates, naming the first bad value when parsing fails.

    Args:
        values: The raw column.
        column: Its name, for the message.
        date_format: An explicit `strftime` format such as `%Y%m%d`; inferred when `None`.

    Returns:
        The column as `datetime64` (timezone-naive).

    Raises:
        AnalyticsInputError: if a value is missing or is not a date.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    else:
        parsed = pd.to_datetime(values, format=date_format, errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        raise AnalyticsInputError(
            f"column {column!r} has {int(bad.sum()):,} value(s) that are not dates, "
            f"first at row {position + 1}: {values.iloc[position]!r}"
            + (f" (expected format {date_format!r})" if date_format else "")
        )
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_localize(None)
    return parsed


def to_amount_column(values: pd.Series, *, column: str) -> np.ndarray:
    """Parse a column of money amounts as floats.

    Args:
        values: The raw column.
        column: Its name, for the message.

    Returns:
        A float64 array.

    Raises:
        AnalyticsInputError: if a value is missing or not a number.
    """
    numeric = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
    bad = ~np.isfinite(numeric)
    if bad.any():
        position = int(np.flatnonzero(bad)[0])
        raise AnalyticsInputError(
            f"column {column!r} has {int(bad.sum()):,} value(s) that are not numbers, "
            f"first at row {position + 1}: {values.iloc[position]!r}"
        )
    return numeric


def as_float_array(values: object, *, name: str) -> np.ndarray:
    """Turn a sequence, Series or scalar into a 1-D float64 array of finite values.

    Args:
        values: Numbers.
        name: What they are, for the message.

    Returns:
        A 1-D float64 array.

    Raises:
        AnalyticsInputError: if any value is not a finite number.
    """
    array = np.atleast_1d(np.asarray(values, dtype="float64"))
    if array.ndim != 1:
        raise AnalyticsInputError(f"{name} must be one-dimensional, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise AnalyticsInputError(f"{name} contains missing or infinite values")
    return array
