"""The demo company generator: a reproducible, realistic Lumio over about two years.

What is planted, so the analytics have something real to find:
- **Seasonality and growth**: daily activity follows `MONTH_SEASONALITY` (Q4 and September strong,
  July/August soft), weekdays over weekends, and `ANNUAL_GROWTH` year over year.
- **Leads → customers**: about five leads per customer with engagement features driven by a latent intent;
  conversion depends on channel, company size, industry, the intent and a demo request, plus logistic noise
  (a logistic model on the observable features reaches an AUC of about 0.8).
- **Channel mix**: each channel has its own lead share, conversion propensity, CAC, CTR and click-to-lead
  rate (`CHANNEL_PROFILES`); daily spend is the channel's CAC times its expected new customers, so CAC and
  ROAS differ by channel; impressions, clicks, conversions and new customers agree with the leads and
  customers tables.
- **Hardware re-orders (BG/NBD-like)**: each account buys at a Poisson rate drawn from a gamma distribution
  (thinned by seasonality) and, after each repeat purchase, drops out with a probability drawn from a beta
  distribution; cancelling the subscription also ends purchasing. Baskets have co-purchase structure
  (Air + batteries, Sense + mounting kits, Hub + installation...).
- **Subscriptions**: plan mix by company size, monthly/annual billing, nonprofit discount, extra seats,
  upgrades, expansions, downgrades and cancellations (hazards by plan, channel and a per-account frailty),
  so MRR, NRR and churn are computable.
- **Campaigns** per channel and quarter with budgets that actual spend over- or under-runs; **tickets**
  with more volume around onboarding and before churn; a monthly **finance ledger** with operating costs,
  a fundraise and the cash balance.

Everything derives from one `numpy` generator seeded with `seed`, so the same arguments give the same rows.
"""

from __future__ import annotations

import calendar
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from app.cache.versions import ALL_DOMAINS, bump_data_versions
from app.data import schema
from app.data.catalog import (
    CATALOGUE,
    CHANNELS,
    COMPANY_SIZES,
    EXTRA_SEAT_PRICE,
    INCLUDED_SEATS,
    NONPROFIT_DISCOUNT,
    PLAN_ANNUAL_PRICE,
    PLAN_MONTHLY_PRICE,
    PRODUCTS_BY_SKU,
    SOFTWARE_GROSS_MARGIN,
    segment_for_size,
)
from app.data.db import init_db
from app.data.periods import add_months
from app.data.queries import subscription_revenue_by_month

MONTH_SEASONALITY: tuple[float, ...] = (0.95, 0.97, 1.05, 1.0, 1.0, 0.92, 0.70, 0.74, 1.28, 1.25, 1.32, 1.12)
"""Relative activity by calendar month (January first): Q4 and September strong, July/August soft."""

WEEKDAY_FACTOR: tuple[float, ...] = (1.0, 1.05, 1.05, 1.0, 0.9, 0.3, 0.25)
"""Relative activity by weekday (Monday first): a B2B business is quiet at weekends."""

ANNUAL_GROWTH = 0.40
"""Year-over-year growth of new-business volume (leads, signups, spend)."""

LEADS_PER_CUSTOMER = 5
"""Leads generated per converted customer (overall lead-to-customer rate 20%)."""

# Finance ledger assumptions for 2,000 accounts (scaled linearly with the number of accounts simulated).
OPENING_CASH = 9_500_000.0
"""Cash at the start of the history (USD)."""
PAYROLL_START = 520_000.0
"""Monthly payroll in the first month (USD)."""
PAYROLL_GROWTH = 0.02
"""Monthly payroll growth (hiring)."""
OTHER_OPEX_START = 140_000.0
"""Monthly rent, tools and G&A in the first month (USD)."""
OTHER_OPEX_GROWTH = 0.008
"""Monthly growth of other operating costs."""
FUNDING_MONTH = 8
"""Index of the month (from the start) in which a funding round closes."""
FUNDING_AMOUNT = 15_000_000.0
"""Size of that round (USD)."""


@dataclass(frozen=True)
class ChannelProfile:
    """How one marketing channel behaves in the simulation."""

    lead_share: float
    """Share of all leads that come from the channel."""
    conversion_effect: float
    """Additive effect on the lead-conversion logit."""
    cac: float
    """Target customer acquisition cost in USD (spend per new customer)."""
    ctr: float
    """Clicks per impression."""
    click_to_lead: float
    """Leads per click."""
    churn_multiplier: float
    """Multiplier on subscription-cancellation hazards of customers acquired through the channel."""
    spend_noise: float
    """Log-normal sigma of daily spend (events are lumpy)."""


CHANNEL_PROFILES: dict[str, ChannelProfile] = {
    "paid_search": ChannelProfile(0.24, 0.25, 4600.0, 0.035, 0.045, 1.0, 0.15),
    "paid_social": ChannelProfile(0.17, -0.30, 5800.0, 0.009, 0.020, 1.25, 0.20),
    "email": ChannelProfile(0.10, 0.45, 1300.0, 0.030, 0.030, 0.9, 0.25),
    "content_seo": ChannelProfile(0.20, 0.0, 1900.0, 0.022, 0.025, 0.95, 0.10),
    "events": ChannelProfile(0.07, 0.85, 10400.0, 0.10, 0.15, 0.8, 0.60),
    "partners": ChannelProfile(0.09, 0.95, 3600.0, 0.04, 0.08, 0.75, 0.30),
    "display": ChannelProfile(0.13, -0.85, 8200.0, 0.0015, 0.008, 1.35, 0.20),
}
"""Per-channel behaviour: blended CAC is about $4,400; first-year ROAS runs from about 0.6 (display) to 7 (email)."""

_SIZE_PROBS = (0.24, 0.33, 0.25, 0.12, 0.06)
_SIZE_EFFECT = (-0.55, 0.0, 0.3, 0.35, 0.2)
_SIZE_EMPLOYEES = ((2, 11), (11, 51), (51, 201), (201, 1001), (1001, 20001))
_PLAN_BY_SIZE = (
    (0.80, 0.20, 0.00),
    (0.55, 0.42, 0.03),
    (0.30, 0.62, 0.08),
    (0.10, 0.62, 0.28),
    (0.00, 0.40, 0.60),
)
_INDUSTRIES = (
    ("Technology", 0.22, 0.25),
    ("Financial Services", 0.12, 0.10),
    ("Healthcare", 0.09, 0.0),
    ("Education", 0.07, -0.25),
    ("Manufacturing", 0.08, -0.05),
    ("Retail", 0.06, -0.15),
    ("Professional Services", 0.14, 0.15),
    ("Real Estate", 0.10, 0.35),
    ("Government", 0.05, -0.35),
    ("Nonprofit", 0.07, -0.2),
)
_COUNTRIES = (
    ("United States", 0.52, "North America", "com", "Inc."),
    ("Canada", 0.06, "North America", "ca", "Inc."),
    ("United Kingdom", 0.10, "Europe", "co.uk", "Ltd"),
    ("Germany", 0.09, "Europe", "de", "GmbH"),
    ("Netherlands", 0.08, "Europe", "nl", "B.V."),
    ("France", 0.05, "Europe", "fr", "SAS"),
    ("Spain", 0.03, "Europe", "es", "S.L."),
    ("Ireland", 0.03, "Europe", "ie", "Ltd"),
    ("Sweden", 0.02, "Europe", "se", "AB"),
    ("Belgium", 0.02, "Europe", "be", "BV"),
)
_NAME_A = (
    "Northwind Acme Bluefin Cedar Summit Harbor Granite Maple Silverline Brightpath Ironwood Clearwater Redstone "
    "Oakridge Pinecrest Lakeshore Westfield Eastgate Highland Riverbend Stonebridge Goldleaf Bluewave Sunridge "
    "Crescent Evergreen Falcon Horizon Keystone Lighthouse Meridian Nimbus Orchard Pioneer Quantum Radiant Sequoia "
    "Tidewater Vantage Willow Zephyr Atlas Beacon Copper Delta Ember Fjord Glacier Hearth Juniper Kestrel Lumen "
    "Mosaic Nova Onyx Polaris Quill Rowan Sable Terra"
).split()
_NAME_B = (
    "Analytics Labs Group Partners Health Capital Logistics Systems Works Studio Properties Foods Media Realty "
    "Consulting Bank Insurance Robotics Energy Pharma Design Academy Networks Holdings Ventures Software Clinics "
    "Motors Legal Architects Builders Apparel Hotels Dynamics Foundation Schools Bio Retail Office"
).split()
_FIRST = (
    "Alex Sam Jordan Taylor Morgan Casey Jamie Riley Avery Quinn Maria Anna Lena Sofia Emma Olivia Noah Liam Lucas "
    "Mateo David Daniel Sarah Laura Julia Chloe Priya Ravi Wei Mei Kenji Aiko Fatima Omar Lars Ingrid Pieter Sanne "
    "Hugo Camille"
).split()
_LAST = [
    name.replace("_", " ")
    for name in (
        "Smith Johnson Brown Garcia Miller Davis Martinez Lopez Wilson Anderson Clark Lewis Walker Young King Wright "
        "Hill Green Baker Adams Nelson Carter Mitchell Roberts Turner Phillips Campbell Evans Muller Schmidt de_Vries "
        "van_Dijk Jansen Dubois Moreau Rossi Novak Larsen Nilsson Murphy Kelly"
    ).split()
]
"""Surnames ("de Vries" is one: split on spaces it gave contacts called "Hugo de" and "Olivia Vries")."""

_TICKET_TEMPLATES: dict[str, tuple[tuple[str, str], ...]] = {
    "hardware": (
        (
            "Sense sensor offline after battery change",
            "One of our Lumio Sense sensors on floor {n} shows offline "
            "since we replaced the batteries yesterday. The LED blinks twice and stops.",
        ),
        (
            "Hub not connecting to Wi-Fi",
            "Our Lumio Hub does not join the office Wi-Fi after the router upgrade. "
            "Ethernet works. Which Wi-Fi security modes are supported?",
        ),
        (
            "Air sensor CO2 readings look too high",
            "Lumio Air in meeting room {n} reports CO2 above 2,000 ppm "
            "while the room is empty. Does it need calibration?",
        ),
        (
            "Return unused sensors",
            "We ordered {n} more Sense sensors than we need. They are unused in the "
            "original box. How do we return them?",
        ),
    ),
    "billing": (
        (
            "Question about our invoice",
            "Our invoice for this month is higher than expected. Can you explain the extra seats line?",
        ),
        (
            "Refund for annual plan",
            "We renewed the annual plan {n} days ago but want to switch to monthly. Can we get a pro-rata refund?",
        ),
        ("Add seats to our plan", "We need {n} more seats for our facilities team. What does that cost?"),
        ("VAT on our invoice", "Our invoice from Lumio B.V. includes VAT but we gave our VAT ID. Please correct it."),
    ),
    "integrations": (
        ("Slack notifications stopped", "Occupancy alerts no longer arrive in our Slack channel since {n} days."),
        ("Microsoft Teams integration setup", "How do we connect Lumio Cloud to Microsoft Teams for room alerts?"),
        ("Google Calendar sync missing rooms", "{n} meeting rooms do not appear in the Google Calendar sync."),
    ),
    "account": (
        ("SSO setup with Okta", "We want to enable SAML SSO with Okta and SCIM provisioning. What do we need?"),
        ("Reset admin access", "Our only admin left the company. How can we regain admin access to our account?"),
        ("Export our data before cancelling", "We plan to cancel. How do we export {n} months of occupancy data?"),
    ),
    "api": (
        (
            "Getting HTTP 429 from the API",
            "Our integration gets HTTP 429 responses after about {n} requests. What is our rate limit?",
        ),
        ("API key rotation", "How do we rotate our API key without downtime for our dashboards?"),
    ),
    "shipping": (
        ("Where is my order?", "We ordered {n} sensors last week and have no tracking email yet."),
        ("Express shipping to the UK", "Can you ship {n} Lumio Air sensors to London with express delivery?"),
    ),
    "analytics": (
        ("Occupancy dashboard shows zero", "The occupancy dashboard shows zero for floor {n} on Monday."),
        ("Export reports to Power BI", "How can we pull weekly occupancy reports into Power BI?"),
    ),
}
_TICKET_CATEGORY_PROBS = {
    "hardware": 0.28,
    "billing": 0.18,
    "integrations": 0.15,
    "account": 0.12,
    "api": 0.08,
    "shipping": 0.09,
    "analytics": 0.10,
}


@dataclass
class SeedReport:
    """What `seed_demo` wrote."""

    seed: int
    """Random seed used."""
    start: date
    """First day of the simulated history."""
    end: date
    """Last day of the simulated history."""
    counts: dict[str, int] = field(default_factory=dict)
    """Rows written per table."""
    seconds: float = 0.0
    """Wall time of the seed."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "seed": self.seed,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "counts": dict(self.counts),
            "seconds": round(self.seconds, 3),
        }


def seed_demo(engine: Engine, customers: int = 2000, seed: int = 42, end_date: date | None = None) -> SeedReport:
    """Replace the business data with a freshly simulated demo company.

    Creates missing tables, clears every business table, then writes products, customers, leads,
    subscriptions, orders and items, campaigns, daily channel performance, tickets and the finance ledger,
    all in one transaction.

    Args:
        engine: the business database.
        customers: number of accounts to simulate (leads are five times as many).
        seed: random seed; the same arguments give the same data.
        end_date: last day of the history (default: today); history starts on the first day of the month
            two years earlier.

    Returns:
        Row counts per table and timing.

    Raises:
        ValueError: if `customers` is below 1.
    """
    if customers < 1:
        raise ValueError(f"customers must be at least 1, got {customers}")
    started = time.perf_counter()
    end = end_date or date.today()
    start = date(end.year - 2, end.month, 1)
    sim = _Simulation(np.random.default_rng(seed), customers, start, end)
    rows = sim.run()
    init_db(engine)
    with engine.begin() as conn:
        _clear(conn)
        counts = {}
        for table in schema.ALL_TABLES:
            table_rows = rows.get(table.name, [])
            _insert(conn, table, table_rows)
            counts[table.name] = len(table_rows)
        bump_data_versions(conn, *ALL_DOMAINS)
    return SeedReport(seed=seed, start=start, end=end, counts=counts, seconds=time.perf_counter() - started)


def _clear(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        names = ", ".join(conn.dialect.identifier_preparer.quote(t.name) for t in schema.ALL_TABLES)
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY"))
        return
    for table in reversed(schema.ALL_TABLES):
        conn.execute(table.delete())


def _insert(conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]], chunk: int = 20_000) -> None:
    for i in range(0, len(rows), chunk):
        conn.execute(table.insert(), list(rows[i : i + chunk]))


def _records(frame: pd.DataFrame, table: sa.Table) -> list[dict[str, Any]]:
    """Rows of `frame` for `table`'s columns as dicts of plain Python values (None for missing)."""
    columns = [c for c in table.columns if c.name in frame.columns]
    data: dict[str, list[Any]] = {}
    for col in columns:
        series = frame[col.name]
        if isinstance(col.type, sa.Date) and not isinstance(col.type, sa.DateTime):
            if pd.api.types.is_datetime64_any_dtype(series):
                values = [None if pd.isna(v) else v.date() for v in series]
            else:
                values = [None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in series]
        elif isinstance(col.type, sa.DateTime):
            values = [None if pd.isna(v) else pd.Timestamp(v).to_pydatetime() for v in series]
        else:
            values = [None if _missing(v) else v for v in series.astype(object).tolist()]
        data[col.name] = values
    names = list(data)
    return [dict(zip(names, row, strict=True)) for row in zip(*data.values(), strict=True)]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


class _Simulation:
    """One run of the generator (holds the random generator and the calendar)."""

    def __init__(self, rng: np.random.Generator, n_customers: int, start: date, end: date) -> None:
        self.rng = rng
        self.n = n_customers
        self.start = start
        self.end = end
        self.days = pd.date_range(start, end, freq="D")
        self.day_dates = [d.date() for d in self.days]
        self.intensity = self._intensity(self.days)
        self.p_day = self.intensity / self.intensity.sum()

    # ----------------------------------------------------------------- calendar
    def _intensity(self, days: pd.DatetimeIndex) -> np.ndarray:
        season = np.array(MONTH_SEASONALITY)[days.month.to_numpy() - 1]
        weekday = np.array(WEEKDAY_FACTOR)[days.weekday.to_numpy()]
        years = (days - pd.Timestamp(self.start)).days.to_numpy() / 365.25
        return season * weekday * (1.0 + ANNUAL_GROWTH) ** years

    def _seasonal_factor(self, day: date) -> float:
        return MONTH_SEASONALITY[day.month - 1] * WEEKDAY_FACTOR[day.weekday()]

    # ----------------------------------------------------------------- run
    def run(self) -> dict[str, list[dict[str, Any]]]:
        leads = self._leads()
        cust = self._customers(leads)
        subs, cust = self._subscriptions(cust)
        orders, items = self._orders(cust)
        perf, campaigns = self._marketing(cust, leads)
        tickets = self._tickets(cust)
        ledger = self._ledger(subs, orders, items, perf)
        products = [
            {
                "sku": p.sku,
                "name": p.name,
                "kind": p.kind,
                "category": p.category,
                "price": p.price,
                "unit_cost": p.unit_cost,
            }
            for p in CATALOGUE
        ]
        frames = {
            "customers": cust,
            "leads": leads,
            "subscriptions": subs,
            "orders": orders,
            "order_items": items,
            "campaigns": campaigns,
            "channel_performance": perf,
            "tickets": tickets,
            "finance_ledger": ledger,
        }
        out: dict[str, list[dict[str, Any]]] = {"products": products}
        for name, frame in frames.items():
            out[name] = _records(frame, schema.metadata.tables[name])
        return out

    # ----------------------------------------------------------------- leads
    def _leads(self) -> pd.DataFrame:
        rng, n_leads = self.rng, LEADS_PER_CUSTOMER * self.n
        channels = np.array(CHANNELS)
        shares = np.array([CHANNEL_PROFILES[c].lead_share for c in CHANNELS])
        ch_idx = rng.choice(len(channels), size=n_leads, p=shares / shares.sum())
        size_idx = rng.choice(len(COMPANY_SIZES), size=n_leads, p=_SIZE_PROBS)
        ind_w = np.array([w for _, w, _ in _INDUSTRIES])
        ind_idx = rng.choice(len(_INDUSTRIES), size=n_leads, p=ind_w / ind_w.sum())
        cty_w = np.array([w for _, w, *_ in _COUNTRIES])
        cty_idx = rng.choice(len(_COUNTRIES), size=n_leads, p=cty_w / cty_w.sum())

        intent = rng.normal(size=n_leads)
        is_email = channels[ch_idx] == "email"
        pages = 1 + rng.poisson(np.exp(1.1 + 0.45 * intent))
        pricing = rng.random(n_leads) < _sigmoid(-0.4 + 0.9 * intent)
        demo = rng.random(n_leads) < _sigmoid(-1.6 + 0.9 * intent + 0.3 * (size_idx >= 2))
        webinar = rng.random(n_leads) < _sigmoid(-2.3 + 0.6 * intent)
        downloads = rng.poisson(np.exp(-0.6 + 0.4 * intent))
        opens = rng.poisson(np.exp(0.9 + 0.35 * intent + 0.6 * is_email))
        clicks = rng.binomial(opens, _sigmoid(-1.5 + 0.5 * intent))

        ch_eff = np.array([CHANNEL_PROFILES[c].conversion_effect for c in CHANNELS])[ch_idx]
        logit = (
            ch_eff
            + np.array(_SIZE_EFFECT)[size_idx]
            + np.array([e for *_, e in _INDUSTRIES])[ind_idx]
            + 1.6 * intent
            + 0.6 * demo
        )
        score = logit + rng.logistic(size=n_leads)
        converted = np.zeros(n_leads, dtype=bool)
        converted[np.argsort(-score, kind="stable")[: self.n]] = True

        # Dates: converted leads sign up on a seasonal day and were created 1-8 weeks before;
        # the others are created on a seasonal day of the window.
        created = np.empty(n_leads, dtype="datetime64[D]")
        signup = np.full(n_leads, np.datetime64("NaT"), dtype="datetime64[D]")
        day_values = self.days.values.astype("datetime64[D]")
        conv_days = day_values[rng.choice(len(day_values), size=self.n, p=self.p_day)]
        lag = (1 + rng.gamma(2.0, 9.0, size=self.n)).astype(int)
        signup[converted] = conv_days
        created[converted] = conv_days - lag.astype("timedelta64[D]")
        n_other = n_leads - self.n
        created[~converted] = day_values[rng.choice(len(day_values), size=n_other, p=self.p_day)]

        frame = pd.DataFrame(
            {
                "created_date": created,
                "source_channel": channels[ch_idx],
                "company_size": np.array(COMPANY_SIZES)[size_idx],
                "industry": np.array([name for name, *_ in _INDUSTRIES])[ind_idx],
                "country": np.array([name for name, *_ in _COUNTRIES])[cty_idx],
                "region": np.array([c[2] for c in _COUNTRIES])[cty_idx],
                "pages_viewed": pages.astype(int),
                "visited_pricing": pricing,
                "demo_requested": demo,
                "webinar_attended": webinar,
                "content_downloads": downloads.astype(int),
                "email_opens": opens.astype(int),
                "email_clicks": clicks.astype(int),
                "converted": converted,
                "converted_date": signup,
                "_cty": cty_idx,
            }
        )
        frame = frame.sort_values(["created_date", "source_channel", "pages_viewed"], kind="stable")
        frame = frame.reset_index(drop=True)
        frame["id"] = [f"L{i + 1:06d}" for i in range(len(frame))]
        frame["converted_customer_id"] = None
        return frame

    # ----------------------------------------------------------------- customers
    def _customers(self, leads: pd.DataFrame) -> pd.DataFrame:
        rng = self.rng
        conv = leads[leads["converted"]].sort_values(["converted_date", "id"], kind="stable").copy()
        n = len(conv)
        ids = [f"C{i + 1:05d}" for i in range(n)]
        leads.loc[conv.index, "converted_customer_id"] = ids
        conv["id"] = ids

        pairs = [(a, b) for a in _NAME_A for b in _NAME_B]
        order = rng.permutation(len(pairs))
        names, domains = [], []
        for i in range(n):
            a, b = pairs[order[i % len(pairs)]]
            round_no = i // len(pairs)
            base = f"{a} {b}" + (f" {round_no + 1}" if round_no else "")
            names.append(base)
            domains.append(base.lower().replace(" ", ""))
        cty = conv["_cty"].to_numpy()
        conv["name"] = [f"{nm} {_COUNTRIES[c][4]}" for nm, c in zip(names, cty, strict=True)]
        first = rng.choice(len(_FIRST), size=n)
        last = rng.choice(len(_LAST), size=n)
        conv["contact_name"] = [f"{_FIRST[f]} {_LAST[la]}" for f, la in zip(first, last, strict=True)]
        conv["email"] = [
            f"{_FIRST[f].lower()}.{_LAST[la].lower().replace(' ', '')}@{d}.{_COUNTRIES[c][3]}"
            for f, la, d, c in zip(first, last, domains, cty, strict=True)
        ]
        size_idx = conv["company_size"].map({s: i for i, s in enumerate(COMPANY_SIZES)}).to_numpy()
        lo = np.array([_SIZE_EMPLOYEES[i][0] for i in size_idx])
        hi = np.array([_SIZE_EMPLOYEES[i][1] for i in size_idx])
        conv["employees"] = np.floor(np.exp(rng.uniform(np.log(lo), np.log(hi)))).astype(int)
        conv["segment"] = [segment_for_size(s) for s in conv["company_size"]]
        conv["acquisition_channel"] = conv["source_channel"]
        conv["signup_date"] = [d.date() for d in pd.to_datetime(conv["converted_date"])]
        gap = rng.integers(0, 8, size=n)
        conv["first_order_date"] = [
            min(s + timedelta(days=int(g)), self.end) for s, g in zip(conv["signup_date"], gap, strict=True)
        ]
        probs = np.array(_PLAN_BY_SIZE)[size_idx]
        u = rng.random(n)[:, None]
        plan_idx = (u > np.cumsum(probs, axis=1)).sum(axis=1).clip(0, 2)
        conv["plan"] = np.array(["starter", "growth", "enterprise"])[plan_idx]
        conv["frailty"] = rng.gamma(2.0, 0.5, size=n)
        conv["status"] = "active"
        conv["churned_date"] = None
        conv["source"] = "demo"
        return conv.reset_index(drop=True)

    # ----------------------------------------------------------------- subscriptions
    def _initial_mrr(self, plan: str, annual: bool, discount: bool) -> tuple[int | None, float]:
        rng = self.rng
        if plan == "enterprise":
            price = max(999.0, round(999.0 * math.exp(rng.normal(0.3, 0.4)) / 50.0) * 50.0)
            return None, price
        seats = INCLUDED_SEATS[plan]
        if rng.random() < (0.15 if plan == "starter" else 0.3):
            seats += int(rng.integers(1, 6 if plan == "starter" else 21))
        base = PLAN_ANNUAL_PRICE[plan] / 12.0 if annual else PLAN_MONTHLY_PRICE[plan]
        if discount:
            base *= 1.0 - NONPROFIT_DISCOUNT
        return seats, round(base + EXTRA_SEAT_PRICE * (seats - INCLUDED_SEATS[plan]), 2)

    def _subscriptions(self, cust: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        rng = self.rng
        rows: list[dict[str, Any]] = []
        base_cancel = {"starter": 0.032, "growth": 0.018, "enterprise": 0.007}
        status, churned, plans, first_value = [], [], [], []
        for rec in cust.itertuples(index=False):
            plan = str(rec.plan)
            annual = plan == "enterprise" or rng.random() < (0.25 if plan == "starter" else 0.35)
            discount = rec.industry in ("Education", "Nonprofit")
            seats, mrr = self._initial_mrr(plan, annual, discount)
            first_value.append(12.0 * mrr)
            sub_start: date = rec.signup_date
            change_type = "new"
            hazard_mult = float(rec.frailty) * CHANNEL_PROFILES[str(rec.acquisition_channel)].churn_multiplier
            churn_day: date | None = None
            k = 0
            while True:
                k += 1
                when = add_months(rec.signup_date, k)
                if when > self.end:
                    break
                h_cancel = base_cancel[plan] * hazard_mult * (1.6 if k <= 3 else 1.0)
                if annual:
                    h_cancel = (1.0 - (1.0 - h_cancel) ** 12) if k % 12 == 0 else 0.0
                up = {"starter": 0.022, "growth": 0.006 * (2.0 if rec.segment != "smb" else 1.0)}.get(plan, 0.0)
                expand = 0.02 if plan != "enterprise" else 0.015
                down = {"growth": 0.004, "enterprise": 0.005}.get(plan, 0.0)
                u = rng.random()
                new_plan, new_seats, new_mrr, kind = plan, seats, mrr, ""
                if u < h_cancel:
                    kind = "cancel"
                elif u < h_cancel + up:
                    new_plan = "growth" if plan == "starter" else "enterprise"
                    new_seats, new_mrr = self._initial_mrr(new_plan, annual, discount)
                    kind = "upgrade"
                elif u < h_cancel + up + expand:
                    if plan == "enterprise":
                        new_mrr = round(mrr * rng.uniform(1.1, 1.4) / 50.0) * 50.0
                    else:
                        extra = int(rng.integers(2, 11))
                        new_seats = (seats or 0) + extra
                        new_mrr = round(mrr + EXTRA_SEAT_PRICE * extra, 2)
                    kind = "expansion"
                elif u < h_cancel + up + expand + down:
                    if plan == "growth":
                        new_plan = "starter"
                        new_seats, new_mrr = self._initial_mrr("starter", annual, discount)
                    else:
                        new_mrr = max(999.0, round(mrr * 0.8 / 50.0) * 50.0)
                    kind = "downgrade"
                if not kind:
                    continue
                rows.append(
                    {
                        "customer_id": rec.id,
                        "plan": plan,
                        "billing_period": "annual" if annual else "monthly",
                        "seats": seats,
                        "mrr": mrr,
                        "start_date": sub_start,
                        "end_date": when,
                        "status": "cancelled" if kind == "cancel" else "changed",
                        "change_type": change_type,
                    }
                )
                if kind == "cancel":
                    churn_day = when
                    break
                plan, seats, mrr, sub_start, change_type = new_plan, new_seats, new_mrr, when, kind
            if churn_day is None:
                rows.append(
                    {
                        "customer_id": rec.id,
                        "plan": plan,
                        "billing_period": "annual" if annual else "monthly",
                        "seats": seats,
                        "mrr": mrr,
                        "start_date": sub_start,
                        "end_date": None,
                        "status": "active",
                        "change_type": change_type,
                    }
                )
            status.append("churned" if churn_day else "active")
            churned.append(churn_day)
            plans.append(plan)
        cust = cust.copy()
        cust["status"] = status
        cust["churned_date"] = churned
        cust["plan"] = plans
        cust["first_year_subscription"] = first_value
        subs = pd.DataFrame(rows).sort_values(["start_date", "customer_id"], kind="stable").reset_index(drop=True)
        subs.insert(0, "id", [f"S{i + 1:06d}" for i in range(len(subs))])
        return subs, cust

    # ----------------------------------------------------------------- hardware orders
    def _initial_basket(self, plan: str) -> list[tuple[str, int]]:
        rng = self.rng
        lo, hi = {"starter": (3, 11), "growth": (10, 41), "enterprise": (40, 161)}[plan]
        sensors = int(rng.integers(lo, hi))
        basket: list[tuple[str, int]] = [("LM-HUB", max(1, math.ceil(sensors / int(rng.integers(40, 101)))))]
        air = round(sensors * rng.uniform(0.1, 0.3)) if rng.random() < 0.5 else 0
        pro = int(rng.integers(1, max(2, sensors // 10) + 1)) if rng.random() < 0.35 else 0
        sense = max(1, sensors - air - pro)
        basket.append(("LM-SENSE", sense))
        if air:
            basket.append(("LM-AIR", air))
            if rng.random() < 0.6:
                basket.append(("LM-BATT4", math.ceil(air / 2)))
        if pro:
            basket.append(("LM-SENSE-PRO", pro))
        if rng.random() < 0.6:
            basket.append(("LM-MOUNT", sense + pro))
        if rng.random() < 0.3:
            basket.append(("LM-TAG", int(rng.integers(10, 101))))
        if rng.random() < {"starter": 0.05, "growth": 0.35, "enterprise": 0.8}[plan]:
            basket.append(("LM-INSTALL", math.ceil(sensors / 40)))
        return basket

    def _repeat_basket(self, scale: int) -> list[tuple[str, int]]:
        rng = self.rng
        kind = rng.choice(6, p=[0.30, 0.18, 0.12, 0.12, 0.23, 0.05])
        basket: list[tuple[str, int]] = []
        if kind == 0:  # more occupancy sensors
            q = int(rng.integers(3, 16)) * scale
            basket.append(("LM-SENSE", q))
            if rng.random() < 0.7:
                basket.append(("LM-MOUNT", q))
            if rng.random() < 0.2:
                basket.append(("LM-TAG", int(rng.integers(10, 41))))
        elif kind == 1:  # air quality
            q = int(rng.integers(3, 13)) * scale
            basket.append(("LM-AIR", q))
            if rng.random() < 0.75:
                basket.append(("LM-BATT4", math.ceil(q / 2)))
            if rng.random() < 0.5:
                basket.append(("LM-MOUNT", q))
        elif kind == 2:  # doorways
            q = int(rng.integers(1, 6)) * scale
            basket.append(("LM-SENSE-PRO", q))
            if rng.random() < 0.8:
                basket.append(("LM-MOUNT", q))
        elif kind == 3:  # desk booking
            basket.append(("LM-TAG", int(rng.integers(20, 81)) * scale))
            if rng.random() < 0.6:
                basket.append(("LM-SENSE", int(rng.integers(2, 11)) * scale))
        elif kind == 4:  # maintenance
            basket.append(("LM-BATT4", int(rng.integers(2, 13)) * scale))
            if rng.random() < 0.15:
                basket.append(("LM-MOUNT", int(rng.integers(1, 6))))
        else:  # a new floor
            q = int(rng.integers(10, 41)) * scale
            basket.extend([("LM-HUB", max(1, math.ceil(q / 100))), ("LM-SENSE", q)])
            if rng.random() < 0.6:
                basket.append(("LM-INSTALL", math.ceil(q / 40)))
            if rng.random() < 0.5:
                basket.append(("LM-MOUNT", q))
        return basket

    def _orders(self, cust: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        rng = self.rng
        peak = max(MONTH_SEASONALITY) * max(WEEKDAY_FACTOR)
        raw: list[tuple[str, date, list[tuple[str, int]]]] = []
        first_amount: list[float] = []
        for rec in cust.itertuples(index=False):
            basket = self._initial_basket(str(rec.plan) if rec.plan else "starter")
            raw.append((rec.id, rec.first_order_date, basket))
            first_amount.append(sum(PRODUCTS_BY_SKU[s].price * q for s, q in basket))
            scale = {"smb": 1, "mid_market": 2, "enterprise": 4}[str(rec.segment)]
            rate = rng.gamma(1.3, 0.36 / 1.3) * (1.5 if rec.segment == "enterprise" else 1.0)  # orders / month
            dropout = rng.beta(1.2, 4.0)
            stop = rec.churned_date if rec.churned_date else self.end + timedelta(days=1)
            t = float((rec.first_order_date - self.start).days)
            horizon = float((min(stop, self.end + timedelta(days=1)) - self.start).days)
            while rate > 0:
                t += rng.exponential(30.44 / (rate * peak))
                if t >= horizon:
                    break
                day = self.start + timedelta(days=int(t))
                if rng.random() >= self._seasonal_factor(day) / peak:
                    continue
                raw.append((rec.id, day, self._repeat_basket(scale)))
                if rng.random() < dropout:
                    break
        cust["first_order_amount"] = first_amount
        raw.sort(key=lambda r: (r[1], r[0]))
        order_rows, item_rows = [], []
        for i, (cid, day, basket) in enumerate(raw):
            oid = f"O{i + 1:07d}"
            total = 0.0
            for sku, qty in basket:
                price = PRODUCTS_BY_SKU[sku].price
                item_rows.append(
                    {"order_id": oid, "sku": sku, "quantity": qty, "unit_price": price, "amount": price * qty}
                )
                total += price * qty
            order_rows.append(
                {
                    "id": oid,
                    "customer_id": cid,
                    "order_date": day,
                    "amount": round(total, 2),
                    "source": "demo",
                    "import_batch": None,
                }
            )
        return pd.DataFrame(order_rows), pd.DataFrame(item_rows)

    # ----------------------------------------------------------------- marketing
    def _marketing(self, cust: pd.DataFrame, leads: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        rng = self.rng
        n_days = len(self.days)
        cust = cust.assign(value=cust["first_order_amount"] + cust["first_year_subscription"])
        signup = pd.to_datetime(cust["signup_date"])
        in_window = leads[pd.to_datetime(leads["created_date"]) >= pd.Timestamp(self.start)]
        frames = []
        for ch in CHANNELS:
            prof = CHANNEL_PROFILES[ch]
            mine = cust[cust["acquisition_channel"] == ch]
            day_idx = (signup[mine.index] - pd.Timestamp(self.start)).dt.days.to_numpy()
            new_c = np.bincount(day_idx, minlength=n_days)
            value = np.bincount(day_idx, weights=mine["value"].to_numpy(), minlength=n_days)
            ch_leads = in_window[in_window["source_channel"] == ch]
            lead_idx = (pd.to_datetime(ch_leads["created_date"]) - pd.Timestamp(self.start)).dt.days.to_numpy()
            conv = np.bincount(lead_idx, minlength=n_days)
            expected_new = len(mine) * self.p_day
            sigma = prof.spend_noise
            spend = prof.cac * expected_new * rng.lognormal(-(sigma**2) / 2, sigma, size=n_days)
            expected_leads = len(ch_leads) * self.p_day
            clicks = np.maximum(conv, rng.poisson(expected_leads / prof.click_to_lead))
            impressions = np.maximum(clicks, rng.poisson(clicks / prof.ctr))
            frames.append(
                pd.DataFrame(
                    {
                        "date": self.day_dates,
                        "channel": ch,
                        "impressions": impressions.astype(int),
                        "clicks": clicks.astype(int),
                        "conversions": conv.astype(int),
                        "spend": np.round(spend, 2),
                        "attributed_revenue": np.round(value, 2),
                        "new_customers": new_c.astype(int),
                    }
                )
            )
        perf = pd.concat(frames, ignore_index=True)
        perf, campaigns = self._campaigns(perf)
        perf = perf.sort_values(["date", "channel"], kind="stable").reset_index(drop=True)
        return perf, campaigns

    def _campaigns(self, perf: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        rng = self.rng
        themes = {
            1: "New-year workplace planning",
            2: "Hybrid office insights",
            3: "Back to office",
            4: "Budget season: smarter buildings",
        }
        abbr = {"paid_search": "PS", "paid_social": "SO", "email": "EM", "content_seo": "SEO"}
        abbr.update({"events": "EV", "partners": "PA", "display": "DI"})
        perf = perf.copy()
        perf["campaign_id"] = None
        rows: list[dict[str, Any]] = []
        q_start = date(self.start.year, 3 * ((self.start.month - 1) // 3) + 1, 1)
        dates = pd.to_datetime(perf["date"])
        last_budget: dict[str, float] = {}
        while q_start <= self.end:
            q_end = add_months(q_start, 3) - timedelta(days=1)
            quarter = (q_start.month - 1) // 3 + 1
            flight_start, flight_end = max(q_start, self.start), q_end
            for ch in CHANNELS:
                cid = f"CMP-{q_start.year}Q{quarter}-{abbr[ch]}"
                mask = (perf["channel"] == ch) & (dates >= pd.Timestamp(flight_start)) & (dates <= pd.Timestamp(q_end))
                perf.loc[mask, "campaign_id"] = cid
                spent = float(perf.loc[mask, "spend"].sum())
                elapsed = (min(self.end, q_end) - flight_start).days + 1
                full = (q_end - flight_start).days + 1
                factor = float(np.clip(rng.normal(1.03, 0.09), 0.8, 1.35))
                budget = round(spent * full / elapsed / factor, -2)
                last_budget[ch] = budget
                if ch in ("events", "content_seo"):
                    segment = str(rng.choice(["enterprise", "mid_market", "all"], p=[0.4, 0.3, 0.3]))
                else:
                    segment = str(rng.choice(["all", "smb", "mid_market", "enterprise"], p=[0.4, 0.25, 0.2, 0.15]))
                rows.append(
                    {
                        "id": cid,
                        "name": f"Q{quarter} {q_start.year} {ch.replace('_', ' ').title()}: {themes[quarter]}",
                        "channel": ch,
                        "start_date": flight_start,
                        "end_date": flight_end,
                        "budget": budget,
                        "segment": segment,
                        "status": "completed" if q_end <= self.end else "active",
                    }
                )
            q_start = add_months(q_start, 3)
        quarter = (q_start.month - 1) // 3 + 1
        q_end = add_months(q_start, 3) - timedelta(days=1)
        for ch in CHANNELS:  # next quarter's plan: budgets only
            rows.append(
                {
                    "id": f"CMP-{q_start.year}Q{quarter}-{abbr[ch]}",
                    "name": f"Q{quarter} {q_start.year} {ch.replace('_', ' ').title()}: {themes[quarter]}",
                    "channel": ch,
                    "start_date": q_start,
                    "end_date": q_end,
                    "budget": round(last_budget[ch] * 1.08, -2),
                    "segment": "all",
                    "status": "planned",
                }
            )
        return perf, pd.DataFrame(rows)

    # ----------------------------------------------------------------- tickets
    def _tickets(self, cust: pd.DataFrame) -> pd.DataFrame:
        rng = self.rng
        cats = list(_TICKET_CATEGORY_PROBS)
        cat_p = np.array([_TICKET_CATEGORY_PROBS[c] for c in cats])
        end_dt = datetime.combine(self.end, datetime.min.time()) + timedelta(hours=23, minutes=59)
        seg_mult = {"smb": 1.0, "mid_market": 1.3, "enterprise": 2.0}
        rows: list[dict[str, Any]] = []
        for rec in cust.itertuples(index=False):
            last = rec.churned_date or self.end
            active_days = max(1, (last - rec.signup_date).days)
            rate = 0.07 * float(rec.frailty) ** 0.7 * seg_mult[str(rec.segment)]
            offsets = list(rng.uniform(0, active_days, size=rng.poisson(rate * active_days / 30.44)))
            offsets += list(rng.uniform(0, min(30, active_days), size=rng.poisson(0.5)))
            if rec.churned_date:
                offsets += list(rng.uniform(max(0, active_days - 60), active_days, size=rng.poisson(0.8)))
            for off in offsets:
                day = rec.signup_date + timedelta(days=int(off))
                if day > self.end:
                    continue
                created = datetime.combine(day, datetime.min.time()) + timedelta(minutes=int(rng.integers(480, 1200)))
                cat = cats[int(rng.choice(len(cats), p=cat_p))]
                subject, body = _TICKET_TEMPLATES[cat][int(rng.integers(len(_TICKET_TEMPLATES[cat])))]
                priority = str(rng.choice(["low", "normal", "high", "urgent"], p=[0.25, 0.5, 0.2, 0.05]))
                hours = float(rng.lognormal({"urgent": 1.0, "high": 2.2, "normal": 3.0, "low": 3.6}[priority], 0.9))
                resolved = created + timedelta(hours=hours)
                if resolved > end_dt:
                    status = str(rng.choice(["open", "pending"], p=[0.6, 0.4]))
                    updated = min(end_dt, created + timedelta(hours=float(rng.uniform(0, 4))))
                else:
                    status = "closed" if resolved < end_dt - timedelta(days=7) else "solved"
                    updated = resolved
                text = body.format(n=int(rng.integers(2, 12)))
                rows.append(
                    {
                        "created_at": created,
                        "updated_at": updated,
                        "customer_id": rec.id,
                        "subject": subject,
                        "body": f"Hi Lumio team,\n\n{text}\n\nThanks,\n{rec.contact_name}\n{rec.name}",
                        "status": status,
                        "priority": priority,
                        "category": cat,
                        "channel": str(rng.choice(["email", "chat", "web", "phone"], p=[0.5, 0.3, 0.15, 0.05])),
                        "review_id": None,
                        "thread_id": None,
                    }
                )
        rows.sort(key=lambda r: (r["created_at"], r["customer_id"]))
        return pd.DataFrame(rows)

    # ----------------------------------------------------------------- finance ledger
    def _ledger(
        self, subs: pd.DataFrame, orders: pd.DataFrame, items: pd.DataFrame, perf: pd.DataFrame
    ) -> pd.DataFrame:
        rng = self.rng
        last_closed = (
            self.end
            if self.end.day == calendar.monthrange(self.end.year, self.end.month)[1]
            else (self.end.replace(day=1) - timedelta(days=1))
        )
        months = pd.date_range(self.start, last_closed, freq="MS")
        if len(months) == 0:
            return pd.DataFrame(columns=[c.name for c in schema.finance_ledger.columns])
        sub_rev = subscription_revenue_by_month(subs, months[0].date(), last_closed)
        order_month = pd.to_datetime(orders["order_date"]).dt.to_period("M").dt.to_timestamp()
        hw_rev = orders.groupby(order_month)["amount"].sum().reindex(months, fill_value=0.0)
        cost = items["sku"].map({p.sku: p.unit_cost or 0.0 for p in CATALOGUE}) * items["quantity"]
        item_month = items["order_id"].map(dict(zip(orders["id"], order_month, strict=True)))
        hw_cogs = cost.groupby(item_month).sum().reindex(months, fill_value=0.0)
        perf_month = pd.to_datetime(perf["date"]).dt.to_period("M").dt.to_timestamp()
        marketing = perf.groupby(perf_month)["spend"].sum().reindex(months, fill_value=0.0)
        revenue = sub_rev.reindex(months, fill_value=0.0) + hw_rev
        cogs = hw_cogs + sub_rev.reindex(months, fill_value=0.0) * (1.0 - SOFTWARE_GROSS_MARGIN)
        steps = np.arange(len(months))
        scale = self.n / 2000.0  # company costs and cash scale with the number of accounts simulated
        payroll = np.round(
            PAYROLL_START * scale * (1 + PAYROLL_GROWTH) ** steps * rng.normal(1.0, 0.01, len(months)), 2
        )
        other = np.round(
            OTHER_OPEX_START * scale * (1 + OTHER_OPEX_GROWTH) ** steps * rng.normal(1.0, 0.05, len(months)), 2
        )
        financing = np.zeros(len(months))
        financing[min(FUNDING_MONTH, len(months) - 1)] = round(FUNDING_AMOUNT * scale, 2)
        cash = OPENING_CASH * scale + np.cumsum(
            revenue.to_numpy() - cogs.to_numpy() - marketing.to_numpy() - payroll - other + financing
        )
        return pd.DataFrame(
            {
                "month": [m.date() for m in months],
                "revenue": np.round(revenue.to_numpy(), 2),
                "cogs": np.round(cogs.to_numpy(), 2),
                "marketing": np.round(marketing.to_numpy(), 2),
                "payroll": payroll,
                "other_opex": other,
                "financing": financing,
                "cash_balance": np.round(cash, 2),
            }
        )
