"""The canonical vocabulary of the demo company Lumio (see `docs/demo-company.md`).

Plans, hardware SKUs, marketing channels and customer segments are used by the seed, the importer,
the queries and the analytics, so they live in one place. Prices are the published list prices in USD.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Channel = Literal["paid_search", "paid_social", "email", "content_seo", "events", "partners", "display"]
"""An acquisition / marketing channel."""

CHANNELS: Final[tuple[str, ...]] = (
    "paid_search",
    "paid_social",
    "email",
    "content_seo",
    "events",
    "partners",
    "display",
)
"""The marketing channels of the demo company, in display order."""

SEGMENTS: Final[tuple[str, ...]] = ("smb", "mid_market", "enterprise")
"""Customer segments, derived from company size (see `segment_for_size`)."""

COMPANY_SIZES: Final[tuple[str, ...]] = ("1-10", "11-50", "51-200", "201-1000", "1001+")
"""Company-size buckets (employees) of accounts and leads."""

PLANS: Final[tuple[str, ...]] = ("starter", "growth", "enterprise")
"""Lumio Cloud plans, cheapest first."""

PLAN_MONTHLY_PRICE: Final[dict[str, float]] = {"starter": 49.0, "growth": 199.0, "enterprise": 999.0}
"""Monthly list price per account; Enterprise is a floor ("from $999/month")."""

PLAN_ANNUAL_PRICE: Final[dict[str, float]] = {"starter": 490.0, "growth": 1990.0}
"""Annual price (two months free); Enterprise is always an annual contract priced per deal."""

EXTRA_SEAT_PRICE: Final[float] = 8.0
"""Extra seats on Starter and Growth, per seat per month."""

INCLUDED_SEATS: Final[dict[str, int]] = {"starter": 5, "growth": 25}
"""Seats included in a plan (Enterprise: unlimited)."""

NONPROFIT_DISCOUNT: Final[float] = 0.30
"""Discount on Starter and Growth for nonprofits and education."""


@dataclass(frozen=True)
class Product:
    """One row of the product catalogue."""

    sku: str
    """Stock-keeping unit, e.g. `LM-SENSE`."""
    name: str
    """Display name."""
    kind: Literal["hardware", "service", "plan"]
    """Hardware is sold once, services per day, plans are subscriptions."""
    category: str
    """A coarse grouping used in reports."""
    price: float
    """List price in USD (per unit; per month for plans)."""
    unit_cost: float | None
    """Cost of goods per unit in USD (None for subscription plans, whose cost is a margin assumption)."""


CATALOGUE: Final[tuple[Product, ...]] = (
    Product("LM-SENSE", "Lumio Sense", "hardware", "sensor", 129.0, 58.0),
    Product("LM-SENSE-PRO", "Lumio Sense Pro", "hardware", "sensor", 249.0, 112.0),
    Product("LM-AIR", "Lumio Air", "hardware", "sensor", 149.0, 67.0),
    Product("LM-HUB", "Lumio Hub", "hardware", "gateway", 299.0, 140.0),
    Product("LM-TAG", "Lumio Desk Tag", "hardware", "accessory", 19.0, 4.0),
    Product("LM-BATT4", "Battery pack (4 x CR123A)", "hardware", "consumable", 24.0, 9.0),
    Product("LM-MOUNT", "Mounting kit", "hardware", "accessory", 15.0, 4.0),
    Product("LM-INSTALL", "On-site installation service", "service", "service", 650.0, 380.0),
    Product("LC-STARTER", "Lumio Cloud Starter", "plan", "subscription", 49.0, None),
    Product("LC-GROWTH", "Lumio Cloud Growth", "plan", "subscription", 199.0, None),
    Product("LC-ENTERPRISE", "Lumio Cloud Enterprise", "plan", "subscription", 999.0, None),
)
"""Hardware, services and plans of `docs/demo-company.md` (unit costs are the demo's assumptions)."""

PRODUCTS_BY_SKU: Final[dict[str, Product]] = {p.sku: p for p in CATALOGUE}
"""The catalogue keyed by SKU."""


def segment_for_size(company_size: str) -> str:
    """The segment of a company-size bucket: up to 50 employees SMB, up to 1,000 mid-market, else enterprise.

    Args:
        company_size: one of `COMPANY_SIZES`.

    Returns:
        `smb`, `mid_market` or `enterprise`.

    Raises:
        ValueError: for an unknown bucket.
    """
    if company_size in ("1-10", "11-50"):
        return "smb"
    if company_size in ("51-200", "201-1000"):
        return "mid_market"
    if company_size == "1001+":
        return "enterprise"
    raise ValueError(f"unknown company size {company_size!r}; expected one of {', '.join(COMPANY_SIZES)}")


def check_channel(channel: str) -> str:
    """Validate a channel name (case-insensitive, spaces or dashes allowed) and return its canonical form.

    Raises:
        ValueError: naming the valid channels.
    """
    key = channel.strip().lower().replace(" ", "_").replace("-", "_")
    if key not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}")
    return key


def check_segment(segment: str) -> str:
    """Validate a segment name (case-insensitive; `mid-market` accepted) and return its canonical form.

    Raises:
        ValueError: naming the valid segments.
    """
    key = segment.strip().lower().replace(" ", "_").replace("-", "_")
    if key not in SEGMENTS:
        raise ValueError(f"unknown segment {segment!r}; expected one of {', '.join(SEGMENTS)}")
    return key


SOFTWARE_GROSS_MARGIN: Final[float] = 0.80
"""Gross margin assumed on subscription revenue: hosting, support and payment fees cost 20% of it.

Typical for B2B SaaS (75–85%). Used by the seed's ledger and by the unit-economics metrics.
"""

HARDWARE_GROSS_MARGIN_DEFAULT: Final[float] = 0.45
"""Gross margin assumed for orders without line items (imported transactions), whose unit costs are unknown.

Demo orders use the catalogue unit costs instead; 45% is close to the catalogue's blended hardware margin.
"""
