"""Read helpers over the business database, returning pandas objects.

All functions are synchronous (SQLAlchemy Core); async callers wrap them in `asyncio.to_thread`.
Date columns come back as `datetime64[ns]`, money as `float`, identifiers as `str`.

Revenue definitions used everywhere:
- **Hardware revenue** of a month = the amounts of orders dated in that month (demo orders and imported
  transactions).
- **Subscription revenue** of a month = each subscription's MRR pro-rated by the days it was active in the
  month (subscriptions are half-open `[start_date, end_date)`), up to the last date in the data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from app.data.db import NoDataError
from app.data.schema import (
    ALL_TABLES,
    customers,
    leads,
    order_items,
    orders,
    products,
    subscriptions,
    tickets,
)
from app.data.schema import (
    channel_performance as channel_performance_table,
)

RevenueKind = Literal["total", "subscription", "hardware"]
"""Which revenue `monthly_revenue` returns."""

_CHUNK = 500


def _frame(engine: Engine, stmt: sa.Select[Any]) -> pd.DataFrame:
    with engine.connect() as conn:
        result = conn.execute(stmt)
        return pd.DataFrame(result.fetchall(), columns=[str(k) for k in result.keys()])


def _as_datetime(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series).astype("datetime64[ns]")


def _chunks(values: Sequence[str], size: int = _CHUNK) -> Iterable[list[str]]:
    for i in range(0, len(values), size):
        yield list(values[i : i + size])


def data_bounds(engine: Engine) -> tuple[date, date]:
    """First and last business date in the database (orders, signups, subscriptions, channel days).

    For the demo this is the seeded window; pass the last date as `today` to `parse_period`.

    Raises:
        NoDataError: when the database holds no business data.
    """
    columns = (
        orders.c.order_date,
        customers.c.signup_date,
        subscriptions.c.start_date,
        channel_performance_table.c.date,
    )
    lows: list[date] = []
    highs: list[date] = []
    with engine.connect() as conn:
        for col in columns:
            low, high = conn.execute(sa.select(sa.func.min(col), sa.func.max(col))).one()
            if low is not None:
                lows.append(_to_date(low))
                highs.append(_to_date(high))
    if not lows:
        raise NoDataError("the business database is empty: run `gtm data seed` or import transactions")
    return min(lows), max(highs)


def _to_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def transactions_frame(engine: Engine, start: date | None = None, end: date | None = None) -> pd.DataFrame:
    """Hardware orders and imported transactions, one row per order, oldest first.

    Args:
        engine: the business database.
        start: first order date to include (inclusive), or None for all.
        end: last order date to include (inclusive), or None for all.

    Returns:
        Exactly the columns customer_id (str), order_id (str), order_date (datetime64[ns]), amount (float).
    """
    stmt = sa.select(
        orders.c.customer_id, orders.c.id.label("order_id"), orders.c.order_date, orders.c.amount
    ).order_by(orders.c.order_date, orders.c.id)
    if start is not None:
        stmt = stmt.where(orders.c.order_date >= start)
    if end is not None:
        stmt = stmt.where(orders.c.order_date <= end)
    frame = _frame(engine, stmt)
    return pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype(str),
            "order_id": frame["order_id"].astype(str),
            "order_date": _as_datetime(frame["order_date"]),
            "amount": frame["amount"].astype(float),
        }
    )


def subscription_revenue_by_month(subs: pd.DataFrame, first_month: date, last_day: date) -> pd.Series:
    """Pro-rated subscription revenue per month from subscription rows.

    Args:
        subs: rows with `start_date`, `end_date` (exclusive; missing = running) and `mrr`.
        first_month: any day of the first month to report.
        last_day: the last day with revenue (the month containing it is the last month reported).

    Returns:
        Revenue per month, indexed by month start (freq `MS`), zeros where nothing was active.
    """
    months = pd.date_range(pd.Timestamp(first_month).replace(day=1), pd.Timestamp(last_day), freq="MS")
    total = np.zeros(len(months))
    if len(months) == 0 or subs.empty:
        return pd.Series(total, index=months, dtype=float)
    m_start = months.values.astype("datetime64[D]")
    m_next = (months + pd.offsets.MonthBegin(1)).values.astype("datetime64[D]")
    cap = np.minimum(m_next, np.datetime64(last_day + timedelta(days=1), "D"))
    month_days = (m_next - m_start).astype(float)
    start = pd.to_datetime(subs["start_date"]).values.astype("datetime64[D]")
    far = np.datetime64("9999-12-31", "D")
    end = pd.to_datetime(subs["end_date"]).values.astype("datetime64[D]")
    end = np.where(np.isnat(end), far, end)
    mrr = subs["mrr"].to_numpy(dtype=float)
    for i in range(0, len(start), 20_000):
        s, e, r = start[i : i + 20_000, None], end[i : i + 20_000, None], mrr[i : i + 20_000, None]
        overlap = (np.minimum(e, cap[None, :]) - np.maximum(s, m_start[None, :])).astype(float)
        total += (np.clip(overlap, 0.0, None) / month_days[None, :] * r).sum(axis=0)
    return pd.Series(total, index=months, dtype=float)


def monthly_revenue(engine: Engine, kind: RevenueKind = "total", include_partial: bool = False) -> pd.Series:
    """Revenue per calendar month over the whole history, without gaps.

    Args:
        engine: the business database.
        kind: `total`, `subscription` (pro-rated MRR) or `hardware` (orders).
        include_partial: keep the last month even when the data stops before its last day. Off by default so
            a forecast is not fed a half month.

    Returns:
        A float Series indexed by month start (DatetimeIndex with freq `MS`), named `revenue`.

    Raises:
        NoDataError: when the database holds no business data.
        ValueError: for an unknown kind.
    """
    if kind not in ("total", "subscription", "hardware"):
        raise ValueError(f"unknown revenue kind {kind!r}; expected total, subscription or hardware")
    first, last = data_bounds(engine)
    months = pd.date_range(pd.Timestamp(first).replace(day=1), pd.Timestamp(last), freq="MS")
    result = pd.Series(np.zeros(len(months)), index=months, dtype=float)
    if kind in ("total", "subscription"):
        subs = _frame(engine, sa.select(subscriptions.c.start_date, subscriptions.c.end_date, subscriptions.c.mrr))
        result += subscription_revenue_by_month(subs, first, last).reindex(months, fill_value=0.0)
    if kind in ("total", "hardware"):
        tx = _frame(engine, sa.select(orders.c.order_date, orders.c.amount))
        if not tx.empty:
            by_month = tx.groupby(pd.to_datetime(tx["order_date"]).dt.to_period("M").dt.to_timestamp())["amount"]
            result += by_month.sum().astype(float).reindex(months, fill_value=0.0)
    if not include_partial and len(result) and (last + timedelta(days=1)).day != 1:
        result = result.iloc[:-1]
    result.index = pd.DatetimeIndex(result.index.astype("datetime64[ns]"), freq="MS")
    result.name = "revenue"
    return result


def leads_frame(engine: Engine) -> pd.DataFrame:
    """Every lead with its features and outcome, oldest first.

    Returns:
        Columns lead_id, created_date (datetime64[ns]), source_channel, company_size, industry, country, region,
        pages_viewed, visited_pricing, demo_requested, webinar_attended, content_downloads, email_opens,
        email_clicks (features) and converted (bool), converted_customer_id, converted_date.
    """
    frame = _frame(engine, sa.select(leads).order_by(leads.c.created_date, leads.c.id))
    frame = frame.rename(columns={"id": "lead_id"})
    frame["created_date"] = _as_datetime(frame["created_date"])
    frame["converted_date"] = _as_datetime(frame["converted_date"])
    for col in ("visited_pricing", "demo_requested", "webinar_attended", "converted"):
        frame[col] = frame[col].astype(bool)
    return frame


def channel_performance(engine: Engine, start: date | None = None, end: date | None = None) -> pd.DataFrame:
    """Daily marketing rows per channel between two dates (inclusive), ordered by date and channel.

    Returns:
        Columns date (datetime64[ns]), channel, campaign_id, impressions, clicks, conversions, spend,
        attributed_revenue, new_customers.
    """
    t = channel_performance_table
    stmt = sa.select(
        t.c.date,
        t.c.channel,
        t.c.campaign_id,
        t.c.impressions,
        t.c.clicks,
        t.c.conversions,
        t.c.spend,
        t.c.attributed_revenue,
        t.c.new_customers,
    ).order_by(t.c.date, t.c.channel)
    if start is not None:
        stmt = stmt.where(t.c.date >= start)
    if end is not None:
        stmt = stmt.where(t.c.date <= end)
    frame = _frame(engine, stmt)
    frame["date"] = _as_datetime(frame["date"])
    for col in ("spend", "attributed_revenue"):
        frame[col] = frame[col].astype(float)
    for col in ("impressions", "clicks", "conversions", "new_customers"):
        frame[col] = frame[col].astype("int64")
    return frame


def mrr_by_customer(engine: Engine, on: date) -> pd.Series:
    """Each customer's MRR on a day (subscriptions with start ≤ day < end), indexed by customer id."""
    stmt = (
        sa.select(subscriptions.c.customer_id, sa.func.sum(subscriptions.c.mrr).label("mrr"))
        .where(subscriptions.c.start_date <= on)
        .where(sa.or_(subscriptions.c.end_date.is_(None), subscriptions.c.end_date > on))
        .group_by(subscriptions.c.customer_id)
    )
    frame = _frame(engine, stmt)
    return pd.Series(frame["mrr"].astype(float).to_numpy(), index=frame["customer_id"].astype(str), name="mrr")


def customers_frame(engine: Engine) -> pd.DataFrame:
    """Every account with its attributes and activity as of the last date in the data.

    Returns:
        The customers table columns (dates as datetime64[ns]) plus current_mrr, orders, hardware_revenue and
        last_order_date.
    """
    frame = _frame(engine, sa.select(customers).order_by(customers.c.id))
    for col in ("signup_date", "first_order_date", "churned_date"):
        frame[col] = _as_datetime(frame[col])
    if frame.empty:
        for col in ("current_mrr", "orders", "hardware_revenue"):
            frame[col] = pd.Series(dtype=float)
        frame["last_order_date"] = pd.Series(dtype="datetime64[ns]")
        return frame
    _, last = data_bounds(engine)
    frame["current_mrr"] = frame["id"].map(mrr_by_customer(engine, last)).fillna(0.0).astype(float)
    stats = _frame(
        engine,
        sa.select(
            orders.c.customer_id,
            sa.func.count().label("orders"),
            sa.func.sum(orders.c.amount).label("hardware_revenue"),
            sa.func.max(orders.c.order_date).label("last_order_date"),
        ).group_by(orders.c.customer_id),
    ).set_index("customer_id")
    frame["orders"] = frame["id"].map(stats["orders"]).fillna(0).astype("int64")
    frame["hardware_revenue"] = frame["id"].map(stats["hardware_revenue"]).fillna(0.0).astype(float)
    frame["last_order_date"] = _as_datetime(frame["id"].map(stats["last_order_date"]))
    return frame


def last_purchases(engine: Engine, customer_ids: Sequence[str]) -> pd.DataFrame:
    """What each customer bought last, for personalised emails.

    Args:
        engine: the business database.
        customer_ids: accounts to look up (unknown ids and customers without orders are left out).

    Returns:
        One row per customer, in the order given: customer_id, name, contact_name, email, last_order_date
        (datetime64[ns]), last_order_amount, last_product (the largest line of the last order), top_product
        (the product with the most revenue over all orders), orders, total_spent. Product names are None for
        imported transactions, which have no line items.
    """
    ids = list(dict.fromkeys(str(c) for c in customer_ids))
    columns = [
        "customer_id",
        "name",
        "contact_name",
        "email",
        "last_order_date",
        "last_order_amount",
        "last_product",
        "top_product",
        "orders",
        "total_spent",
    ]
    parts_orders, parts_items, parts_customers = [], [], []
    for chunk in _chunks(ids):
        parts_orders.append(
            _frame(
                engine,
                sa.select(orders.c.id, orders.c.customer_id, orders.c.order_date, orders.c.amount).where(
                    orders.c.customer_id.in_(chunk)
                ),
            )
        )
        parts_items.append(
            _frame(
                engine,
                sa.select(orders.c.customer_id, order_items.c.order_id, products.c.name, order_items.c.amount)
                .join(orders, orders.c.id == order_items.c.order_id)
                .join(products, products.c.sku == order_items.c.sku)
                .where(orders.c.customer_id.in_(chunk)),
            )
        )
        parts_customers.append(
            _frame(
                engine,
                sa.select(customers.c.id, customers.c.name, customers.c.contact_name, customers.c.email).where(
                    customers.c.id.in_(chunk)
                ),
            )
        )
    if not ids:
        return pd.DataFrame(columns=columns)
    ords = pd.concat(parts_orders, ignore_index=True)
    items = pd.concat(parts_items, ignore_index=True)
    custs = pd.concat(parts_customers, ignore_index=True).set_index("id")
    if ords.empty:
        return pd.DataFrame(columns=columns)
    ords["order_date"] = _as_datetime(ords["order_date"])
    ords = ords.sort_values(["customer_id", "order_date", "id"])
    last = ords.groupby("customer_id").tail(1).set_index("customer_id")
    totals = ords.groupby("customer_id")["amount"].agg(["count", "sum"])
    last_product: dict[str, str] = {}
    top_product: dict[str, str] = {}
    if not items.empty:
        items["amount"] = items["amount"].astype(float)
        last_lines = items[items["order_id"].isin(last["id"])]
        best = last_lines.sort_values(["amount", "name"], ascending=[False, True]).groupby("customer_id").head(1)
        last_product = dict(zip(best["customer_id"], best["name"], strict=True))
        rev = items.groupby(["customer_id", "name"], as_index=False)["amount"].sum()
        top = rev.sort_values(["amount", "name"], ascending=[False, True]).groupby("customer_id").head(1)
        top_product = dict(zip(top["customer_id"], top["name"], strict=True))
    rows = []
    for cid in ids:
        if cid not in last.index:
            continue
        rows.append(
            {
                "customer_id": cid,
                "name": custs.at[cid, "name"] if cid in custs.index else None,
                "contact_name": custs.at[cid, "contact_name"] if cid in custs.index else None,
                "email": custs.at[cid, "email"] if cid in custs.index else None,
                "last_order_date": last.at[cid, "order_date"],
                "last_order_amount": float(last.at[cid, "amount"]),
                "last_product": last_product.get(cid),
                "top_product": top_product.get(cid),
                "orders": int(totals.at[cid, "count"]),
                "total_spent": float(totals.at[cid, "sum"]),
            }
        )
    frame = pd.DataFrame(rows, columns=columns)
    frame["last_order_date"] = _as_datetime(frame["last_order_date"])
    for col in ("name", "contact_name", "email", "last_product", "top_product"):
        values = frame[col].astype(object)
        frame[col] = values.where(values.notna(), None)
    return frame


def co_purchase_recommendation(engine: Engine, customer_id: str) -> str | None:
    """A hardware product often bought together with what the customer bought, that they do not have yet.

    Scores each product the customer has never bought by the sum over their products `o` of
    P(product in an order | `o` in the order), measured over all demo orders.

    Returns:
        The product name, or None when the customer has no itemised orders or owns every co-purchased product.
    """
    return co_purchase_recommendations(engine, [customer_id]).get(str(customer_id))


def co_purchase_recommendations(engine: Engine, customer_ids: Sequence[str]) -> dict[str, str | None]:
    """`co_purchase_recommendation` for many customers, computing the co-purchase matrix once.

    Returns:
        Customer id → recommended product name (or None), for every id given.
    """
    ids = [str(c) for c in customer_ids]
    pairs = _frame(
        engine,
        sa.select(order_items.c.order_id, order_items.c.sku, orders.c.customer_id)
        .join(orders, orders.c.id == order_items.c.order_id)
        .join(products, products.c.sku == order_items.c.sku)
        .where(products.c.kind == "hardware")
        .distinct(),
    )
    out: dict[str, str | None] = dict.fromkeys(ids)
    if pairs.empty:
        return out
    basket = pd.crosstab(pairs["order_id"], pairs["sku"]).clip(upper=1)
    counts = basket.T @ basket
    support = np.diag(counts.to_numpy()).astype(float)
    conditional = counts.div(pd.Series(support, index=counts.index), axis=0)
    with engine.connect() as conn:
        names = dict(conn.execute(sa.select(products.c.sku, products.c.name)).all())
    owned_by = pairs.groupby(pairs["customer_id"].astype(str))["sku"].agg(lambda s: sorted(set(s)))
    for cid in ids:
        owned = owned_by.get(cid)
        if not owned:
            continue
        candidates = [s for s in conditional.columns if s not in owned]
        if not candidates:
            continue
        scores = conditional.loc[owned, candidates].sum(axis=0)
        scores = scores[scores > 0]
        if scores.empty:
            continue
        best = sorted(scores.items(), key=lambda kv: (-round(float(kv[1]), 12), kv[0]))[0][0]
        out[cid] = str(names[best])
    return out


def ticket_stats(engine: Engine, start: date, end: date) -> dict[str, Any]:
    """Support volume for tickets created between two dates (inclusive), plus the current open backlog.

    Returns:
        A dict with start, end, created, by_status, by_priority, by_category, by_channel, escalated (tickets
        with a review id), solved (solved or closed), median_resolution_hours (solved/closed tickets, created to
        last update), and open_backlog (open or pending tickets of any date).
    """
    lo = datetime.combine(start, datetime.min.time())
    hi = datetime.combine(end + timedelta(days=1), datetime.min.time())
    frame = _frame(
        engine,
        sa.select(
            tickets.c.created_at,
            tickets.c.updated_at,
            tickets.c.status,
            tickets.c.priority,
            tickets.c.category,
            tickets.c.channel,
            tickets.c.review_id,
        ).where(tickets.c.created_at >= lo, tickets.c.created_at < hi),
    )
    with engine.connect() as conn:
        backlog = conn.execute(
            sa.select(sa.func.count()).select_from(tickets).where(tickets.c.status.in_(("open", "pending")))
        ).scalar_one()

    def counts(col: str) -> dict[str, int]:
        if frame.empty:
            return {}
        return {str(k): int(v) for k, v in frame[col].value_counts().sort_index().items()}

    done = frame[frame["status"].isin(["solved", "closed"])] if not frame.empty else frame
    median_hours: float | None = None
    if not done.empty:
        hours = (_as_datetime(done["updated_at"]) - _as_datetime(done["created_at"])).dt.total_seconds() / 3600.0
        median_hours = round(float(hours.median()), 2)
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "created": len(frame),
        "by_status": counts("status"),
        "by_priority": counts("priority"),
        "by_category": counts("category"),
        "by_channel": counts("channel"),
        "escalated": int(frame["review_id"].notna().sum()) if not frame.empty else 0,
        "solved": len(done),
        "median_resolution_hours": median_hours,
        "open_backlog": int(backlog),
    }


def table_counts(engine: Engine) -> dict[str, int]:
    """Row count of every business table (0 for a table that does not exist yet)."""
    existing = set(sa.inspect(engine).get_table_names())
    out: dict[str, int] = {}
    with engine.connect() as conn:
        for table in ALL_TABLES:
            out[table.name] = (
                int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
                if table.name in existing
                else 0
            )
    return out
