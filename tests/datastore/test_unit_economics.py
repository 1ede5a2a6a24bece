from __future__ import annotations

import json
import math
from datetime import date, timedelta

import pandas as pd
import pytest
import sqlalchemy as sa

from app.analytics import unit_economics as ue
from app.data.catalog import CHANNELS, HARDWARE_GROSS_MARGIN_DEFAULT, SOFTWARE_GROSS_MARGIN
from app.data.periods import Period, quarter_period

from .conftest import Demo
from .tiny import build_tiny

Q1 = quarter_period(2025, 1)
FEB15_MAR31 = Period.between(date(2025, 2, 15), date(2025, 3, 31))
# Hand-computed subscription revenue of the tiny database (see tiny.py)
SUB_Q1 = (49.0 * 3) + 49.0 * 22 / 31 + 49.0 * 9 / 28 + 199.0 * 19 / 28 + 199.0 * 24 / 28 + 199.0 + 199.0 * 4 / 31
SUB_FEB15 = (199.0 * 14 / 28 + 199.0) + (199.0 * 14 / 28 + 199.0 * 4 / 31) + (49.0 * 14 / 28 + 49.0)
COST = {"O1": 10 * 58 + 140, "O2": 4 * 67 + 2 * 9, "O3": 2 * 67 + 9}


@pytest.fixture
def tiny(empty_engine: sa.Engine) -> sa.Engine:
    build_tiny(empty_engine)
    return empty_engine


def _json(result: ue.MetricResult) -> dict:
    data = result.to_dict()
    json.dumps(data, allow_nan=False)  # strict JSON
    return data


# ----------------------------------------------------------------------------- tiny database, by hand
def test_cac_all_channel_and_segment(tiny: sa.Engine) -> None:
    result = ue.cac(tiny, Q1)
    assert result.result == pytest.approx((110 * 90 + 20 * 90) / 3)  # A, B and D signed up in Q1
    assert result.inputs["marketing_spend"].value == pytest.approx(11_700)
    assert result.inputs["new_customers"].value == 3
    assert result.steps[-1] == "CAC = $11,700.00 / 3 = $3,900.00 per customer"
    assert result.status == "watch" and "No previous period" in result.benchmark  # no spend before Q1
    assert ue.cac(tiny, Q1, channel="paid_search").result == pytest.approx(9900.0)
    assert ue.cac(tiny, Q1, channel="Paid Search").scope == "channel paid_search"
    # segment: targeted spend counts fully, untargeted (email, 'all') by share of new customers (1 of 3)
    assert ue.cac(tiny, Q1, segment="smb").result == pytest.approx(9900 + 1800 / 3)
    assert ue.cac(tiny, Q1, segment="mid-market").result == pytest.approx(1800 / 3)
    with pytest.raises(ue.MetricUnavailableError, match="no new customers"):
        ue.cac(tiny, Q1, segment="enterprise")
    _json(result)


def test_cac_compares_with_previous_period(tiny: sa.Engine) -> None:
    march = Period.between(date(2025, 3, 2), date(2025, 3, 31))  # D signed up 2025-03-01, in the previous 30 days
    with pytest.raises(ue.MetricUnavailableError):
        ue.cac(tiny, march)
    feb_mar = Period.between(date(2025, 2, 5), date(2025, 3, 31))  # previous 55 days: 2024-12-12..2025-02-04 (A)
    result = ue.cac(tiny, feb_mar)
    assert result.result == pytest.approx(130 * 55 / 2)
    assert "changed" in result.benchmark  # previous: (130 * 35 days) / 1 customer (A on 2025-01-10)
    prev = 130 * 35 / 1
    change = (130 * 55 / 2 - prev) / prev * 100
    assert f"{change:+.1f}%" in result.benchmark


def test_revenue_is_subscriptions_pro_rata_plus_hardware_against_the_quarter_before(tiny: sa.Engine) -> None:
    result = ue.revenue(tiny, Q1)
    hardware = 1589 + 644 + 322 + 500  # O1, O2, O3, O5
    assert result.result == pytest.approx(SUB_Q1 + hardware)
    assert result.inputs["subscription_revenue"].value == pytest.approx(SUB_Q1)
    assert result.inputs["hardware_revenue"].value == pytest.approx(hardware)
    previous = 49.0 + 720.0  # Q4 2024: C's December subscription and O4
    assert result.inputs["previous_revenue"].value == pytest.approx(previous)
    # the data starts on 1 December 2024: Q4 2024 holds one month of it, so there is no comparison (was +391.9%)
    assert result.benchmark.startswith("The data starts on 2024-12-01: no whole previous period (Q4 2024")
    assert result.status == "watch"
    march, feb = (
        ue.revenue(tiny, Period.between(date(2025, 3, 1), date(2025, 3, 31))),
        ue.revenue(tiny, Period.between(date(2025, 2, 1), date(2025, 2, 28))),
    )
    change = (march.result - feb.result) / feb.result * 100
    assert f"February 2025 (2025-02-01 to 2025-02-28): ${feb.result:,.2f}, so revenue changed {change:+.1f}%" in (
        march.benchmark
    )
    assert ue.compute_metric(tiny, "sales", Q1).result == result.result
    with pytest.raises(ue.MetricUnavailableError, match="no revenue"):
        ue.revenue(tiny, quarter_period(2023, 1))
    _json(result)


def test_mrr_on_a_day_and_over_a_period(tiny: sa.Engine) -> None:
    on_day = ue.mrr(tiny, Period.between(date(2025, 3, 31), date(2025, 3, 31)))
    assert on_day.result == pytest.approx(199.0 + 49.0)  # A on Growth, C on Starter; B cancelled on 5 March
    assert on_day.period == "as of 2025-03-31"
    assert on_day.inputs["starting_mrr"].value == pytest.approx(199.0 + 199.0 + 49.0)  # a month before: B still paid
    over_q1 = ue.mrr(tiny, Q1)
    assert over_q1.inputs["starting_mrr"].value == pytest.approx(49.0)  # 2024-12-31: C only
    assert "Net new MRR = $248.00 − $49.00 = $199.00; ARR = $2,976.00" in over_q1.steps
    _json(over_q1)


def test_roas(tiny: sa.Engine) -> None:
    result = ue.roas(tiny, Q1)
    assert result.result == pytest.approx((2177 + 3032) / 11_700)
    assert result.status == "concerning" and result.recommendation
    assert ue.roas(tiny, Q1, channel="email").result == pytest.approx(3032 / 1800)
    with pytest.raises(ValueError, match="per channel"):
        ue.roas(tiny, Q1, segment="smb")


def test_aov_and_gross_margin(tiny: sa.Engine) -> None:
    aov = ue.aov(tiny, Q1)
    assert aov.result == pytest.approx((1589 + 644 + 322 + 500) / 4)
    assert "+6.1%" in aov.benchmark and aov.status == "healthy"  # previous 90 days: O4 = 720
    gm = ue.gross_margin(tiny, Q1)
    hw_gp = (1589 + 644 + 322) - (COST["O1"] + COST["O2"] + COST["O3"]) + 500 * HARDWARE_GROSS_MARGIN_DEFAULT
    expected = (SUB_Q1 * SOFTWARE_GROSS_MARGIN + hw_gp) / (SUB_Q1 + 3055) * 100
    assert gm.result == pytest.approx(expected)
    assert gm.inputs["subscription_revenue"].value == pytest.approx(SUB_Q1)
    assert gm.inputs["hardware_cogs"].value == pytest.approx(COST["O1"] + COST["O2"] + COST["O3"])
    assert gm.unit == "%"
    assert ue.gross_margin(tiny, Q1, channel="email").inputs["hardware_revenue"].value == pytest.approx(644)


def test_nrr_expansion_and_churn(tiny: sa.Engine) -> None:
    up = ue.nrr(tiny, Period.between(date(2025, 2, 1), date(2025, 3, 31)))
    assert up.result == pytest.approx(248 / 98 * 100)  # A upgraded 49 -> 199, C stayed at 49
    assert up.inputs["expansion_mrr"].value == pytest.approx(150) and up.inputs["churned_mrr"].value == 0
    down = ue.nrr(tiny, FEB15_MAR31)
    assert down.result == pytest.approx(248 / 447 * 100)  # B (199) cancelled on 2025-03-05
    assert down.inputs["churned_mrr"].value == pytest.approx(199)
    assert down.status == "concerning"
    months = 45 / (365.25 / 12)
    assert f"{100 * (248 / 447) ** (12 / months):.1f}%" in down.steps[-1]
    with pytest.raises(ue.MetricUnavailableError):
        ue.nrr(tiny, Period.between(date(2024, 1, 1), date(2024, 6, 30)))


def _ltv_by_hand() -> tuple[float, float, float]:
    months = 45 / (365.25 / 12)
    revenue = SUB_FEB15 + 322 + 500
    gross_profit = SUB_FEB15 * SOFTWARE_GROSS_MARGIN + (322 - COST["O3"]) + 500 * HARDWARE_GROSS_MARGIN_DEFAULT
    arpa = revenue / ((3 + 2) / 2) / months
    monthly_churn = 1 - (1 - 1 / 3) ** (1 / months)
    gm = gross_profit / revenue
    return arpa * gm / monthly_churn, arpa, gm


def test_ltv_ltv_cac_and_payback(tiny: sa.Engine) -> None:
    ltv_value, arpa, gm = _ltv_by_hand()
    ltv = ue.ltv(tiny, FEB15_MAR31)
    assert ltv.result == pytest.approx(ltv_value)
    assert ltv.inputs["churned_accounts"].value == 1 and ltv.inputs["active_accounts_start"].value == 3
    cac = 130 * 45 / 1  # only D signed up between Feb 15 and Mar 31
    assert ue.cac(tiny, FEB15_MAR31).result == pytest.approx(cac)
    ratio = ue.ltv_cac(tiny, FEB15_MAR31)
    assert ratio.result == pytest.approx(ltv_value / cac) and ratio.unit == "ratio"
    payback = ue.payback(tiny, FEB15_MAR31)
    assert payback.result == pytest.approx(cac / (arpa * gm)) and payback.unit == "months"
    # no churn in the period: lifetime capped
    capped = ue.ltv(tiny, Period.between(date(2025, 2, 1), date(2025, 2, 28)))
    assert any("(capped)" in s for s in capped.steps)


def test_burn_and_runway_from_the_ledger(tiny: sa.Engine) -> None:
    burn = ue.burn(tiny, Q1)
    assert burn.result == pytest.approx((7050 - 6000) / 3)
    assert burn.inputs["net_new_arr"].value == pytest.approx((248 - 49) * 12)
    assert burn.status == "healthy" and "1050" not in burn.benchmark  # burn multiple 0.44
    assert "0.44" in burn.benchmark
    runway = ue.runway(tiny, Q1)
    assert runway.result == pytest.approx(10_200 / ((1250 + 350 - 550) / 3))
    feb = ue.runway(tiny, Period.between(date(2025, 2, 1), date(2025, 2, 28)))
    assert feb.result == pytest.approx(9650 / 800) and feb.status == "watch"
    march = ue.burn(tiny, Period.between(date(2025, 3, 2), date(2025, 3, 31)))
    assert march.result == pytest.approx(-550) and march.status == "healthy"
    with pytest.raises(ValueError, match="company-wide"):
        ue.compute_metric(tiny, "burn", Q1, channel="email")


def test_runway_when_not_burning(tiny: sa.Engine) -> None:
    with tiny.begin() as conn:
        conn.exec_driver_sql("UPDATE finance_ledger SET revenue = 10000")
    result = ue.runway(tiny, Q1)
    assert math.isinf(result.result) and result.status == "healthy"
    data = _json(result)
    assert data["result"] is None and "not limited" in data["result_text"]


def test_budget_variance(tiny: sa.Engine) -> None:
    result = ue.budget_variance(tiny, Q1)
    assert result.inputs["planned_budget"].value == pytest.approx(11_000)
    assert result.inputs["actual_spend"].value == pytest.approx(11_700)
    assert result.result == pytest.approx(700 / 11_000 * 100) and result.status == "watch"
    rows = {r["campaign_id"]: r for r in result.breakdown}
    assert rows["CMP-PS"]["variance_pct"] == pytest.approx(10.0) and rows["CMP-EM"]["variance_pct"] == -10.0
    feb = ue.budget_variance(tiny, Period.between(date(2025, 2, 1), date(2025, 2, 28)))
    assert feb.inputs["planned_budget"].value == pytest.approx(11_000 * 28 / 90)
    assert feb.inputs["actual_spend"].value == pytest.approx(130 * 28)
    assert ue.budget_variance(tiny, Q1, segment="smb").result == pytest.approx(10.0)
    with pytest.raises(ue.MetricUnavailableError):
        ue.budget_variance(tiny, quarter_period(2023, 1))


def test_cac_by_channel(tiny: sa.Engine) -> None:
    frame = ue.cac_by_channel(tiny, Q1).set_index("channel")
    assert list(frame.index) == list(CHANNELS)
    assert frame.loc["paid_search", "cac"] == pytest.approx(9900) and frame.loc["email", "cac"] == 1800
    assert frame.loc["email", "roas"] == pytest.approx(3032 / 1800)
    assert math.isnan(frame.loc["display", "cac"]) and frame.loc["display", "spend"] == 0


def test_compute_metric_dispatch_and_validation(tiny: sa.Engine) -> None:
    assert ue.compute_metric(tiny, "LTV:CAC", FEB15_MAR31).metric == "LTV:CAC"
    assert ue.compute_metric(tiny, "burn rate", Q1).metric == "Burn"
    assert ue.compute_metric(tiny, "customer acquisition cost", Q1, channel="email").result == 1800
    with pytest.raises(ValueError, match="unknown metric"):
        ue.compute_metric(tiny, "ebitda", Q1)
    with pytest.raises(ValueError, match="unknown channel"):
        ue.cac(tiny, Q1, channel="tv")
    with pytest.raises(ValueError, match="unknown segment"):
        ue.cac(tiny, Q1, segment="giant")
    with pytest.raises(ValueError, match="not both"):
        ue.cac(tiny, Q1, channel="email", segment="smb")


# ----------------------------------------------------------------------------- demo database, against raw SQL
def _sql(engine: sa.Engine, sql: str) -> float:
    with engine.connect() as conn:
        return float(conn.exec_driver_sql(sql).scalar_one() or 0.0)


def test_demo_cac_matches_sql(demo: Demo) -> None:
    q3 = quarter_period(2025, 3)
    spend = _sql(
        demo.engine, "select sum(spend) from channel_performance where date between '2025-07-01' and '2025-09-30'"
    )
    new = _sql(demo.engine, "select count(*) from customers where signup_date between '2025-07-01' and '2025-09-30'")
    assert ue.cac(demo.engine, q3).result == pytest.approx(spend / new)
    frame = ue.cac_by_channel(demo.engine, q3).set_index("channel")
    for channel in CHANNELS:
        ch_spend = _sql(
            demo.engine,
            f"select sum(spend) from channel_performance where channel = '{channel}' "
            "and date between '2025-07-01' and '2025-09-30'",
        )
        ch_new = _sql(
            demo.engine,
            f"select count(*) from customers where acquisition_channel = '{channel}' "
            "and signup_date between '2025-07-01' and '2025-09-30'",
        )
        ch_rev = _sql(
            demo.engine,
            f"select sum(attributed_revenue) from channel_performance where channel = '{channel}' "
            "and date between '2025-07-01' and '2025-09-30'",
        )
        assert frame.loc[channel, "cac"] == pytest.approx(ch_spend / ch_new)
        assert frame.loc[channel, "roas"] == pytest.approx(ch_rev / ch_spend)
        assert ue.roas(demo.engine, q3, channel=channel).result == pytest.approx(ch_rev / ch_spend)
    assert frame["cac"].max() > 3 * frame["cac"].min()


def test_demo_segment_cac_matches_sql(demo: Demo) -> None:
    q3 = quarter_period(2025, 3)
    where = "cp.date between '2025-07-01' and '2025-09-30'"
    direct = _sql(
        demo.engine,
        f"select sum(cp.spend) from channel_performance cp join campaigns c on c.id = cp.campaign_id "
        f"where {where} and c.segment = 'mid_market'",
    )
    shared = _sql(
        demo.engine,
        f"select sum(cp.spend) from channel_performance cp left join campaigns c on c.id = cp.campaign_id "
        f"where {where} and (c.segment is null or c.segment = 'all')",
    )
    n_seg = _sql(
        demo.engine,
        "select count(*) from customers where segment = 'mid_market' and signup_date between '2025-07-01' and '2025-09-30'",
    )
    n_all = _sql(demo.engine, "select count(*) from customers where signup_date between '2025-07-01' and '2025-09-30'")
    expected = (direct + shared * n_seg / n_all) / n_seg
    assert ue.cac(demo.engine, q3, segment="mid_market").result == pytest.approx(expected)


def test_demo_aov_gross_margin_and_ledger_metrics(demo: Demo) -> None:
    from app.data.queries import monthly_revenue

    q3 = quarter_period(2025, 3)
    between = "between '2025-07-01' and '2025-09-30'"
    hw = _sql(demo.engine, f"select sum(amount) from orders where order_date {between}")
    n = _sql(demo.engine, f"select count(*) from orders where order_date {between}")
    assert ue.aov(demo.engine, q3).result == pytest.approx(hw / n)
    cogs = _sql(
        demo.engine,
        "select sum(i.quantity * p.unit_cost) from order_items i join orders o on o.id = i.order_id "
        f"join products p on p.sku = i.sku where o.order_date {between}",
    )
    sub = monthly_revenue(demo.engine, "subscription")["2025-07-01":"2025-09-01"].sum()
    expected = (sub * SOFTWARE_GROSS_MARGIN + hw - cogs) / (sub + hw) * 100
    assert ue.gross_margin(demo.engine, q3).result == pytest.approx(expected)
    ledger = pd.read_sql("select * from finance_ledger order by month", demo.engine.connect())
    ledger["burn"] = ledger["cogs"] + ledger["marketing"] + ledger["payroll"] + ledger["other_opex"] - ledger["revenue"]
    q3_rows = ledger[ledger["month"].astype(str).between("2025-07-01", "2025-09-01")]
    assert ue.burn(demo.engine, q3).result == pytest.approx(q3_rows["burn"].mean())
    assert ue.runway(demo.engine, q3).result == pytest.approx(q3_rows["cash_balance"].iloc[-1] / q3_rows["burn"].mean())


def test_demo_nrr_matches_an_independent_computation(demo: Demo) -> None:
    subs = pd.read_sql("select customer_id, start_date, end_date, mrr from subscriptions", demo.engine.connect())
    subs["start_date"] = pd.to_datetime(subs["start_date"]).dt.date
    subs["end_date"] = pd.to_datetime(subs["end_date"]).dt.date

    def mrr_on(day: date) -> dict[str, float]:
        out: dict[str, float] = {}
        for row in subs.itertuples():
            if row.start_date <= day and (pd.isna(row.end_date) or row.end_date > day):
                out[row.customer_id] = out.get(row.customer_id, 0.0) + row.mrr
        return out

    q2 = quarter_period(2025, 2)
    before = mrr_on(q2.start - timedelta(days=1))
    after = mrr_on(q2.end)
    expected = sum(after.get(c, 0.0) for c in before) / sum(before.values()) * 100
    result = ue.nrr(demo.engine, q2)
    assert result.result == pytest.approx(expected)
    assert result.inputs["expansion_mrr"].value > 0 and result.inputs["churned_mrr"].value > 0


def test_demo_budget_variance_matches_pandas(demo: Demo) -> None:
    q3 = quarter_period(2025, 3)
    with demo.engine.connect() as conn:
        camp = pd.read_sql("select * from campaigns where channel = 'events'", conn)
        perf = pd.read_sql(
            "select campaign_id, sum(spend) spend from channel_performance "
            "where channel = 'events' and date between '2025-07-01' and '2025-09-30' group by campaign_id",
            conn,
        )
    camp = camp[
        (pd.to_datetime(camp["start_date"]) <= "2025-09-30") & (pd.to_datetime(camp["end_date"]) >= "2025-07-01")
    ]
    assert len(camp) == 1  # one flight per channel and quarter, fully inside Q3
    planned = float(camp["budget"].iloc[0])
    actual = float(perf["spend"].sum())
    result = ue.budget_variance(demo.engine, q3, channel="events")
    assert result.result == pytest.approx((actual - planned) / planned * 100)


def test_demo_every_metric_is_json_ready(demo: Demo) -> None:
    q3 = quarter_period(2025, 3)
    for name in ue.METRICS:
        result = ue.compute_metric(demo.engine, name, q3)
        data = _json(result)
        assert data["formula"] and data["steps"] and data["status"] in ("healthy", "watch", "concerning")
        assert data["benchmark"]
        if data["status"] == "concerning":
            assert data["recommendation"]
    events = ue.ltv_cac(demo.engine, q3, channel="events")
    email = ue.ltv_cac(demo.engine, q3, channel="email")
    assert email.result > 2 * events.result  # channels differ in unit economics
