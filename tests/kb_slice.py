"""The knowledge-base slice that the web, browser and durability tests serve: quick to index, and the
white-label question still escalates."""

from __future__ import annotations

import shutil
from pathlib import Path

from app.settings import REPO_ROOT

KB_DOCS = (
    "returns-and-warranty.md",
    "refund-policy.md",
    "plans-and-pricing.md",
    "shipping-and-delivery.md",
    "support-hours-and-contact.md",
    "integrations-overview.md",
    "getting-started.md",
)
"""The documents of the slice, from `knowledge_base/`."""


def copy_kb(target: Path) -> Path:
    """Copy the slice into `target` (created if needed) and return it."""
    target.mkdir(parents=True, exist_ok=True)
    for name in KB_DOCS:
        shutil.copy(REPO_ROOT / "knowledge_base" / name, target / name)
    return target
