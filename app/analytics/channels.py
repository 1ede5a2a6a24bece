"""Channel analytics: spend, impressions, CTR, conversion rate, CPL, CAC and ROAS by channel for a period.

Each metric is compared with the previous period of the same length (e.g. the 92 days before Q3). Everything
comes from the daily `channel_performance` table:

- CTR = clicks / impressions
- conversion rate = conversions (leads) / clicks
- lead-to-customer rate = new customers / conversions
- CPL (cost per lead) = spend / conversions (leads)
- CAC = spend / new customers
- ROAS = attributed revenue / spend
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from app.data.catalog import CHANNELS
from app.data.periods import Period
from app.data.queries import channel_performance

METRIC_COLUMNS: tuple[str, ...] = (
    "spend",
    "impressions",
    "clicks",
    "conversions",
    "new_customers",
    "attributed_revenue",
    "ctr",
    "conversion_rate",
    "lead_to_customer_rate",
    "cpl",
    "cac",
    "roas",
)
"""Metrics reported per channel, each with a previous value and a change."""

_SUMS = ("spend", "impressions", "clicks", "conversions", "new_customers", "attributed_revenue")


def _ratio(num: float, den: float) -> float:
    return num / den if den else math.nan


def _metrics(sums: dict[str, float]) -> dict[str, float]:
    out = {k: float(sums.get(k, 0.0)) for k in _SUMS}
    out["ctr"] = _ratio(out["clicks"], out["impressions"])
    out["conversion_rate"] = _ratio(out["conversions"], out["clicks"])
    out["lead_to_customer_rate"] = _ratio(out["new_customers"], out["conversions"])
    out["cpl"] = _ratio(out["spend"], out["conversions"])
    out["cac"] = _ratio(out["spend"], out["new_customers"])
    out["roas"] = _ratio(out["attributed_revenue"], out["spend"])
    return out


def _pct_change(current: float, previous: float) -> float | None:
    if not (math.isfinite(current) and math.isfinite(previous)) or previous == 0:
        return None
    return (current - previous) / abs(previous) * 100.0


def _clean(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return float(value)


@dataclass
class ChannelRow:
    """One channel's metrics for the period and the previous one."""

    channel: str
    """Channel name (or `total`)."""
    current: dict[str, float]
    """Metric → value in the period (NaN when undefined, e.g. CAC without new customers)."""
    previous: dict[str, float]
    """Metric → value in the previous period."""

    def change(self, metric: str) -> float | None:
        """Percentage change of a metric vs the previous period (None when undefined)."""
        return _pct_change(self.current[metric], self.previous[metric])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: `{metric: value, metric_previous: value, metric_change_pct: value}` (None for undefined)."""
        out: dict[str, Any] = {"channel": self.channel}
        for m in METRIC_COLUMNS:
            out[m] = _clean(self.current[m])
            out[f"{m}_previous"] = _clean(self.previous[m])
            change = self.change(m)
            out[f"{m}_change_pct"] = None if change is None else round(change, 2)
        return out


@dataclass
class ChannelReport:
    """Channel performance for a period with period-over-period change."""

    period: Period
    """The period analysed."""
    previous: Period
    """The previous period of the same length."""
    rows: list[ChannelRow]
    """One row per channel, in catalogue order."""
    total: ChannelRow
    """All channels together."""
    notes: list[str] = field(default_factory=list)
    """Observations worth stating (best/worst ROAS, biggest CAC change)."""

    def frame(self) -> pd.DataFrame:
        """The report as a DataFrame: one row per channel plus `total`, with `_previous` and `_change_pct` columns."""
        return pd.DataFrame([r.to_dict() for r in [*self.rows, self.total]]).set_index("channel")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "period": self.period.to_dict(),
            "previous_period": self.previous.to_dict(),
            "definitions": {
                "ctr": "clicks / impressions",
                "conversion_rate": "conversions (leads) / clicks",
                "lead_to_customer_rate": "new customers / conversions",
                "cpl": "spend / conversions (leads): cost per lead",
                "cac": "spend / new customers",
                "roas": "attributed revenue / spend",
            },
            "channels": [r.to_dict() for r in self.rows],
            "total": self.total.to_dict(),
            "notes": list(self.notes),
        }


def _sums_by_channel(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    if frame.empty:
        return {}
    grouped = frame.groupby("channel")[list(_SUMS)].sum()
    return {str(ch): {k: float(v) for k, v in row.items()} for ch, row in grouped.iterrows()}


def _cpl_notes(rows: list[ChannelRow], total: ChannelRow) -> list[str]:
    """Cost per lead of every channel with leads, cheapest first, and the blended CPL."""
    with_leads = sorted((r for r in rows if math.isfinite(r.current["cpl"])), key=lambda r: r.current["cpl"])
    if not with_leads:
        return []
    listed = ", ".join(
        f"{r.channel} ${r.current['cpl']:,.0f} ({r.current['conversions']:,.0f} leads)" for r in with_leads
    )
    return [f"Cost per lead (CPL = spend / leads), cheapest first: {listed}; blended ${total.current['cpl']:,.0f}"]


def channel_report(engine: Engine, period: Period, previous: Period | None = None) -> ChannelReport:
    """Spend, impressions, CTR, conversion rate, CPL, CAC and ROAS by channel, vs the previous period.

    Args:
        engine: the business database.
        period: the period to analyse.
        previous: the comparison period (default: the same number of days just before `period`).

    Returns:
        A `ChannelReport` with one row per channel (every catalogue channel, plus any other found in the data)
        and a total row.
    """
    prev = previous or period.previous()
    now_frame = channel_performance(engine, period.start, period.end)
    prev_frame = channel_performance(engine, prev.start, prev.end)
    now, before = _sums_by_channel(now_frame), _sums_by_channel(prev_frame)
    channels = list(CHANNELS) + sorted(c for c in set(now) | set(before) if c not in CHANNELS)
    rows = [ChannelRow(ch, _metrics(now.get(ch, {})), _metrics(before.get(ch, {}))) for ch in channels]
    total = ChannelRow(
        "total",
        _metrics({k: sum(v.get(k, 0.0) for v in now.values()) for k in _SUMS}),
        _metrics({k: sum(v.get(k, 0.0) for v in before.values()) for k in _SUMS}),
    )
    notes: list[str] = []
    with_roas = [r for r in rows if math.isfinite(r.current["roas"])]
    if with_roas:
        best = max(with_roas, key=lambda r: r.current["roas"])
        worst = min(with_roas, key=lambda r: r.current["roas"])
        notes.append(
            f"Best ROAS: {best.channel} ({best.current['roas']:.2f}x); worst: {worst.channel} "
            f"({worst.current['roas']:.2f}x)"
        )
    for metric, label, fmt in (("conversion_rate", "conversion", "{:.2%}"), ("cac", "CAC", "${:,.0f}")):
        ranked = [r for r in rows if math.isfinite(r.current[metric]) and r.current[metric] > 0]
        if ranked:
            pick = min if metric == "cac" else max
            best = pick(ranked, key=lambda r, m=metric: r.current[m])  # type: ignore[misc]
            wording = "Cheapest customers" if metric == "cac" else "Best conversion"
            notes.append(f"{wording}: {best.channel} ({label} {fmt.format(best.current[metric])})")
    notes += _cpl_notes(rows, total)
    cac_changes = [(r, r.change("cac")) for r in rows]
    moved = [(r, c) for r, c in cac_changes if c is not None]
    if moved:
        r, c = max(moved, key=lambda rc: abs(rc[1]))
        notes.append(f"Largest CAC change: {r.channel} {c:+.1f}% vs the previous period")
    if now_frame.empty:
        notes.append(f"No channel data between {period.start} and {period.end}")
    return ChannelReport(period=period, previous=prev, rows=rows, total=total, notes=notes)
