"""Cohort retention: customers grouped by the month of their first purchase, active month by month.

Cell (cohort c, period k) counts the customers of cohort c who bought in the k-th month after their
first month (k = 0 is the first month, so its retention is 100%). Cells later than the last month of
data are not observed yet and are `None`, not 0. The average retention curve weights each cohort by
its size and, for period k, uses only the cohorts observed at k.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from app.analytics._validation import AnalyticsInputError, require_columns, to_datetime_column


def _month_label(month_index: int) -> str:
    """`YYYY-MM` of a month counted from year 0."""
    return f"{month_index // 12:04d}-{month_index % 12 + 1:02d}"


@dataclass(frozen=True)
class CohortResult:
    """A cohort retention matrix.

    Attributes:
        cohorts: Cohort months as `YYYY-MM`, oldest first.
        sizes: Customers per cohort.
        periods: Months since the first purchase, 0..n.
        counts: Active customers per cohort (rows) and period (columns); `None` where not observed.
        retention: `counts / size` per cell; `None` where not observed.
        average_curve: Size-weighted mean retention per period over the cohorts observed there.
        last_month: The last month with data (`YYYY-MM`); later cells are unobserved.
    """

    cohorts: list[str]
    sizes: list[int]
    periods: list[int]
    counts: list[list[int | None]]
    retention: list[list[float | None]]
    average_curve: list[float | None]
    last_month: str

    def to_frame(self, kind: Literal["retention", "counts"] = "retention") -> pd.DataFrame:
        """The matrix as a DataFrame (cohorts as rows, periods as columns, NaN where unobserved).

        Args:
            kind: `retention` (fractions) or `counts`.

        Returns:
            A float DataFrame.
        """
        data = self.retention if kind == "retention" else self.counts
        values = [[np.nan if v is None else float(v) for v in row] for row in data]
        return pd.DataFrame(values, index=pd.Index(self.cohorts, name="cohort"), columns=self.periods)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the matrix, sizes and the average curve."""
        return {
            "cohorts": self.cohorts,
            "sizes": self.sizes,
            "periods": self.periods,
            "counts": self.counts,
            "retention": self.retention,
            "average_curve": self.average_curve,
            "last_month": self.last_month,
        }


def cohort_retention(
    df: pd.DataFrame,
    *,
    customer_col: str = "customer_id",
    date_col: str = "order_date",
    end: str | dt.date | pd.Timestamp | None = None,
    max_periods: int | None = None,
) -> CohortResult:
    """Build the monthly cohort retention matrix.

    Args:
        df: One row per transaction.
        customer_col: Column with the customer id.
        date_col: Column with the transaction date.
        end: Last date to include; the last transaction when `None`. Its month is the last observed one.
        max_periods: Keep at most this many periods after period 0.

    Returns:
        The matrix, with counts and percentages, and the average curve.

    Raises:
        AnalyticsInputError: on missing columns, bad dates, or no transactions before `end`.
    """
    require_columns(df, [customer_col, date_col])
    if df.empty:
        raise AnalyticsInputError("the transactions are empty")
    dates = to_datetime_column(df[date_col], column=date_col)
    months = (dates.dt.year * 12 + dates.dt.month - 1).to_numpy(dtype=np.int64)
    if end is not None:
        end_ts = pd.Timestamp(end)
        keep = (dates <= end_ts.normalize() + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)).to_numpy()
        last = end_ts.year * 12 + end_ts.month - 1
    else:
        keep = np.ones(len(df), dtype=bool)
        last = int(months.max())
    if not keep.any():
        raise AnalyticsInputError(f"no transaction on or before {end}")
    frame = pd.DataFrame({"customer": df[customer_col].astype(str).to_numpy()[keep], "month": months[keep]})
    frame = frame.drop_duplicates()
    first = frame.groupby("customer")["month"].transform("min")
    frame["cohort"] = first
    frame["period"] = frame["month"] - first
    cohort_months = np.sort(frame["cohort"].unique())
    n_periods = int(last - cohort_months.min()) + 1
    if max_periods is not None:
        n_periods = min(n_periods, max_periods + 1)
    frame = frame[frame["period"] < n_periods]
    table = frame.groupby(["cohort", "period"]).size().unstack(fill_value=0)
    table = table.reindex(index=cohort_months, columns=range(n_periods), fill_value=0)
    sizes = table[0].to_numpy(dtype=np.int64)
    counts: list[list[int | None]] = []
    retention: list[list[float | None]] = []
    for row, cohort in enumerate(cohort_months):
        observed = int(last - cohort) + 1
        counts.append([int(table.iat[row, k]) if k < observed else None for k in range(n_periods)])
        retention.append([int(table.iat[row, k]) / sizes[row] if k < observed else None for k in range(n_periods)])
    average: list[float | None] = []
    for k in range(n_periods):
        rows = [i for i, cohort in enumerate(cohort_months) if cohort + k <= last]
        denominator = int(sizes[rows].sum()) if rows else 0
        average.append(float(sum(table.iat[i, k] for i in rows)) / denominator if denominator else None)
    return CohortResult(
        cohorts=[_month_label(int(m)) for m in cohort_months],
        sizes=[int(s) for s in sizes],
        periods=list(range(n_periods)),
        counts=counts,
        retention=retention,
        average_curve=average,
        last_month=_month_label(int(last)),
    )
