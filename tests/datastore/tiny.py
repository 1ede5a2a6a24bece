"""A tiny hand-made business database whose metrics can be computed by hand."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa

from app.data.catalog import CATALOGUE
from app.data.schema import (
    campaigns,
    channel_performance,
    customers,
    finance_ledger,
    order_items,
    orders,
    products,
    subscriptions,
    tickets,
)

Q1_START, Q1_END = date(2025, 1, 1), date(2025, 3, 31)
PS_DAILY_SPEND, EM_DAILY_SPEND = 110.0, 20.0
ORDERS = {  # id: (customer, date, [(sku, qty)], amount)
    "O1": ("A", date(2025, 1, 10), [("LM-SENSE", 10), ("LM-HUB", 1)], 1589.0),
    "O2": ("B", date(2025, 2, 6), [("LM-AIR", 4), ("LM-BATT4", 2)], 644.0),
    "O3": ("A", date(2025, 3, 15), [("LM-AIR", 2), ("LM-BATT4", 1)], 322.0),
    "O4": ("C", date(2024, 12, 2), [("LM-SENSE", 5), ("LM-MOUNT", 5)], 720.0),
    "O5": ("D", date(2025, 3, 2), [], 500.0),
}


def build_tiny(engine: sa.Engine) -> None:
    """Four customers, five orders, four subscriptions, Q1 2025 of channel rows, campaigns, ledger and tickets."""
    price = {p.sku: p.price for p in CATALOGUE}
    with engine.begin() as conn:
        conn.execute(
            products.insert(),
            [
                {
                    "sku": p.sku,
                    "name": p.name,
                    "kind": p.kind,
                    "category": p.category,
                    "price": p.price,
                    "unit_cost": p.unit_cost,
                }
                for p in CATALOGUE
            ],
        )
        cust_defaults = {
            "contact_name": None,
            "email": None,
            "segment": None,
            "acquisition_channel": None,
            "plan": None,
            "status": "active",
            "churned_date": None,
            "source": "demo",
        }
        conn.execute(
            customers.insert(),
            [
                cust_defaults | row
                for row in [
                    {
                        "id": "A",
                        "name": "Alpha",
                        "contact_name": "Ann",
                        "email": "ann@alpha.com",
                        "segment": "smb",
                        "acquisition_channel": "paid_search",
                        "signup_date": date(2025, 1, 10),
                        "plan": "growth",
                    },
                    {
                        "id": "B",
                        "name": "Beta",
                        "contact_name": "Bob",
                        "email": "bob@beta.com",
                        "segment": "mid_market",
                        "acquisition_channel": "email",
                        "signup_date": date(2025, 2, 5),
                        "plan": "growth",
                        "status": "churned",
                        "churned_date": date(2025, 3, 5),
                    },
                    {
                        "id": "C",
                        "name": "Gamma",
                        "segment": "smb",
                        "acquisition_channel": "paid_search",
                        "signup_date": date(2024, 12, 1),
                        "plan": "starter",
                    },
                    {"id": "D", "name": "D", "signup_date": date(2025, 3, 1), "source": "import"},
                ]
            ],
        )
        conn.execute(
            orders.insert(),
            [
                {
                    "id": oid,
                    "customer_id": c,
                    "order_date": d,
                    "amount": amount,
                    "source": "demo" if lines else "import",
                }
                for oid, (c, d, lines, amount) in ORDERS.items()
            ],
        )
        conn.execute(
            order_items.insert(),
            [
                {"order_id": oid, "sku": sku, "quantity": q, "unit_price": price[sku], "amount": price[sku] * q}
                for oid, (_, _, lines, _) in ORDERS.items()
                for sku, q in lines
            ],
        )
        sub = {"billing_period": "monthly", "seats": 5}
        conn.execute(
            subscriptions.insert(),
            [
                {
                    **sub,
                    "id": "S1",
                    "customer_id": "A",
                    "plan": "starter",
                    "mrr": 49.0,
                    "start_date": date(2025, 1, 10),
                    "end_date": date(2025, 2, 10),
                    "status": "changed",
                    "change_type": "new",
                },
                {
                    **sub,
                    "id": "S2",
                    "customer_id": "A",
                    "plan": "growth",
                    "mrr": 199.0,
                    "start_date": date(2025, 2, 10),
                    "end_date": None,
                    "status": "active",
                    "change_type": "upgrade",
                },
                {
                    **sub,
                    "id": "S3",
                    "customer_id": "B",
                    "plan": "growth",
                    "mrr": 199.0,
                    "start_date": date(2025, 2, 5),
                    "end_date": date(2025, 3, 5),
                    "status": "cancelled",
                    "change_type": "new",
                },
                {
                    **sub,
                    "id": "S4",
                    "customer_id": "C",
                    "plan": "starter",
                    "mrr": 49.0,
                    "start_date": date(2024, 12, 1),
                    "end_date": None,
                    "status": "active",
                    "change_type": "new",
                },
            ],
        )
        conn.execute(
            campaigns.insert(),
            [
                {
                    "id": "CMP-PS",
                    "name": "PS",
                    "channel": "paid_search",
                    "start_date": Q1_START,
                    "end_date": Q1_END,
                    "budget": 9000.0,
                    "segment": "smb",
                    "status": "completed",
                },
                {
                    "id": "CMP-EM",
                    "name": "EM",
                    "channel": "email",
                    "start_date": Q1_START,
                    "end_date": Q1_END,
                    "budget": 2000.0,
                    "segment": "all",
                    "status": "completed",
                },
            ],
        )
        rows = []
        day = Q1_START
        while day <= Q1_END:
            rows.append(
                {
                    "date": day,
                    "channel": "paid_search",
                    "campaign_id": "CMP-PS",
                    "impressions": 1000,
                    "clicks": 30,
                    "conversions": 3,
                    "spend": PS_DAILY_SPEND,
                    "attributed_revenue": 1589.0 + 12 * 49.0 if day == date(2025, 1, 10) else 0.0,
                    "new_customers": 1 if day == date(2025, 1, 10) else 0,
                }
            )
            rows.append(
                {
                    "date": day,
                    "channel": "email",
                    "campaign_id": "CMP-EM",
                    "impressions": 500,
                    "clicks": 10,
                    "conversions": 1,
                    "spend": EM_DAILY_SPEND,
                    "attributed_revenue": 644.0 + 12 * 199.0 if day == date(2025, 2, 5) else 0.0,
                    "new_customers": 1 if day == date(2025, 2, 5) else 0,
                }
            )
            day += timedelta(days=1)
        conn.execute(channel_performance.insert(), rows)
        conn.execute(
            finance_ledger.insert(),
            [
                {
                    "month": date(2025, 1, 1),
                    "revenue": 1000.0,
                    "cogs": 100.0,
                    "marketing": 50.0,
                    "payroll": 2000.0,
                    "other_opex": 100.0,
                    "financing": 0.0,
                    "cash_balance": 10_000.0,
                },
                {
                    "month": date(2025, 2, 1),
                    "revenue": 2000.0,
                    "cogs": 200.0,
                    "marketing": 50.0,
                    "payroll": 2000.0,
                    "other_opex": 100.0,
                    "financing": 0.0,
                    "cash_balance": 9_650.0,
                },
                {
                    "month": date(2025, 3, 1),
                    "revenue": 3000.0,
                    "cogs": 300.0,
                    "marketing": 50.0,
                    "payroll": 2000.0,
                    "other_opex": 100.0,
                    "financing": 0.0,
                    "cash_balance": 10_200.0,
                },
            ],
        )
        base = {
            "subject": "s",
            "body": "b",
            "priority": "normal",
            "category": "hardware",
            "channel": "email",
            "review_id": None,
        }
        conn.execute(
            tickets.insert(),
            [
                {
                    **base,
                    "created_at": datetime(2025, 1, 20, 9),
                    "updated_at": datetime(2025, 1, 20, 10),
                    "customer_id": "A",
                    "status": "pending",
                },
                {
                    **base,
                    "created_at": datetime(2025, 2, 10, 9),
                    "updated_at": datetime(2025, 2, 10, 19),
                    "customer_id": "A",
                    "status": "solved",
                },
                {
                    **base,
                    "created_at": datetime(2025, 2, 20, 9),
                    "updated_at": datetime(2025, 2, 20, 9),
                    "customer_id": "B",
                    "status": "open",
                    "category": "billing",
                    "priority": "high",
                },
                {
                    **base,
                    "created_at": datetime(2025, 3, 31, 12),
                    "updated_at": datetime(2025, 4, 1, 18),
                    "customer_id": "C",
                    "status": "closed",
                    "review_id": "R-00001",
                    "channel": "chat",
                },
            ],
        )
