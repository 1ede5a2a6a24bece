from __future__ import annotations

import json
import math
from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa

from app.analytics.channels import channel_report
from app.data.catalog import CHANNELS
from app.data.periods import Period, quarter_period

from .conftest import Demo
from .tiny import build_tiny


def test_tiny_channel_report_by_hand(empty_engine: sa.Engine) -> None:
    build_tiny(empty_engine)
    feb = Period.between(date(2025, 2, 1), date(2025, 2, 28))
    report = channel_report(empty_engine, feb)
    assert (report.previous.start, report.previous.end) == (date(2025, 1, 1), date(2025, 1, 31))  # January
    rows = {r.channel: r for r in report.rows}
    assert [r.channel for r in report.rows] == list(CHANNELS)
    ps, em = rows["paid_search"], rows["email"]
    assert ps.current["spend"] == pytest.approx(110 * 28) and ps.current["impressions"] == 28_000
    assert ps.current["ctr"] == pytest.approx(30 / 1000) and ps.current["conversion_rate"] == pytest.approx(3 / 30)
    assert math.isnan(ps.current["cac"])  # no paid-search signup in February
    assert ps.previous["cac"] == pytest.approx(110 * 31)  # A signed up on 2025-01-10
    assert em.current["cac"] == pytest.approx(20 * 28) and em.current["roas"] == pytest.approx(3032 / 560)
    assert em.change("spend") == pytest.approx(
        100 * (28 / 31 - 1)
    )  # per cent: the same daily spend over a shorter month
    assert rows["display"].current["spend"] == 0 and math.isnan(rows["display"].current["ctr"])
    assert report.total.current["spend"] == pytest.approx(130 * 28)
    assert report.total.current["new_customers"] == 1
    data = report.to_dict()
    json.dumps(data, allow_nan=False)
    assert data["channels"][0]["cac"] is None and data["channels"][0]["cac_previous"] == pytest.approx(3410)
    assert data["channels"][0]["cac_change_pct"] is None


def test_demo_channel_report_matches_sql(demo: Demo) -> None:
    q3 = quarter_period(2025, 3)
    report = channel_report(demo.engine, q3)
    with demo.engine.connect() as conn:
        now = pd.read_sql(
            "select channel, sum(spend) spend, sum(impressions) imp, sum(clicks) clicks, sum(conversions) conv, "
            "sum(new_customers) n, sum(attributed_revenue) rev from channel_performance "
            "where date between '2025-07-01' and '2025-09-30' group by channel",
            conn,
        ).set_index("channel")
        before = pd.read_sql(
            "select channel, sum(spend) spend from channel_performance "
            "where date between '2025-04-01' and '2025-06-30' group by channel",  # Q2
            conn,
        ).set_index("channel")
    frame = report.frame()
    for ch in CHANNELS:
        row = frame.loc[ch]
        assert row["spend"] == pytest.approx(now.loc[ch, "spend"])
        assert row["ctr"] == pytest.approx(now.loc[ch, "clicks"] / now.loc[ch, "imp"])
        assert row["conversion_rate"] == pytest.approx(now.loc[ch, "conv"] / now.loc[ch, "clicks"])
        assert row["cac"] == pytest.approx(now.loc[ch, "spend"] / now.loc[ch, "n"])
        assert row["roas"] == pytest.approx(now.loc[ch, "rev"] / now.loc[ch, "spend"])
        expected_change = (now.loc[ch, "spend"] - before.loc[ch, "spend"]) / before.loc[ch, "spend"] * 100
        assert row["spend_change_pct"] == pytest.approx(expected_change, abs=0.01)
    assert frame.loc["total", "spend"] == pytest.approx(now["spend"].sum())
    assert frame.loc["display", "ctr"] < frame.loc["paid_search", "ctr"]  # channels have distinct profiles
    assert any(note.startswith("Best ROAS") for note in report.notes)
    cheapest = frame.drop(index="total")["cac"].idxmin()
    best_conversion = frame.drop(index="total")["conversion_rate"].idxmax()
    assert f"Cheapest customers: {cheapest} (CAC $" in "\n".join(report.notes)
    assert f"Best conversion: {best_conversion} (conversion " in "\n".join(report.notes)


def test_empty_period_reports_zeros(demo: Demo) -> None:
    report = channel_report(demo.engine, Period.between(date(2020, 1, 1), date(2020, 1, 31)))
    assert report.total.current["spend"] == 0
    assert any("No channel data" in n for n in report.notes)
