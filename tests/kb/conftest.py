"""Knowledge-base fixtures: the MiniLM embedder once per session, a counting wrapper, a tiny Lumio KB."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from app.embeddings import Embedder, get_embedder
from app.settings import Settings

TINY_KB: dict[str, str] = {
    "refund-policy.md": """# Refund policy

## Monthly plans
Monthly Starter and Growth plans are not refunded for partial months. Cancelling takes effect at the end
of the billing period and you keep access until then.

## Annual plans
Annual plans can be refunded pro rata within 30 days of the start or renewal date. After 30 days annual
plans are not refunded.

## Hardware
Unused hardware can be returned within 30 days of delivery for a full refund, in its original box.
""",
    "shipping-and-delivery.md": """# Shipping and delivery

Lumio ships from Austin (US, Canada) and Rotterdam (EU, UK).

## Options and prices
Standard shipping takes 3-5 business days and is free on orders over $500, otherwise $15. Express
shipping takes 1-2 business days and costs $35. We do not ship to PO boxes.

## Tracking
Every order gets a tracking link by email when it leaves the warehouse.
""",
    "sso-and-scim.md": """# Single sign-on and SCIM

Enterprise accounts can use SAML 2.0 single sign-on with Okta, Azure AD (Entra ID) or OneLogin, and
SCIM provisioning to create and remove users automatically. Growth accounts can sign in with Google
Workspace only.

## Enforcing SSO
An Owner can require SSO for everyone under Settings → Security. Keep one break-glass Owner account
with a password in case your identity provider is down.
""",
    "battery-life-and-replacement.md": """# Battery life and replacement

Lumio Sense and Lumio Air sensors run on CR123A batteries that last about two years. The battery pack
LM-BATT4 holds four CR123A cells and costs $24.

## Replacing a battery
Open the back cover, swap the battery and close the cover. The sensor reconnects to its hub by itself,
no re-pairing needed. Cold rooms below 5 °C shorten battery life.
""",
    "api-access-and-rate-limits.md": """# API access and rate limits

The REST API lives at api.lumio.io/v2. Create API keys per account under Settings → API.

## Rate limits
Starter allows 1,000 requests per day. Growth allows 10,000 requests per day with bursts of 10 requests
per second. Enterprise allows 100,000 requests per day and 50 requests per second. When you exceed the
limit the API answers HTTP 429; the header X-RateLimit-Remaining shows what is left.
""",
}
"""Five short documents about the demo company, written by the tests (independent of knowledge_base/)."""


class CountingEncoder:
    """Wraps the real embedder and counts the texts it encodes."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.texts: list[str] = []

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> NDArray[np.float32]:
        self.texts.extend(texts)
        return self.inner.encode(texts, batch_size=batch_size)

    def reset(self) -> None:
        self.texts.clear()


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real MiniLM model, loaded once per test session."""
    model = get_embedder()
    model.encode(["warm up"])
    return model


@pytest.fixture
def counting(embedder: Embedder) -> CountingEncoder:
    """The embedder with a counter of encoded texts."""
    return CountingEncoder(embedder)


def write_kb(folder: Path, docs: dict[str, str]) -> Path:
    """Write `docs` (name → markdown) under `folder`."""
    for name, text in docs.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def tiny_kb(tmp_path: Path) -> Path:
    """A fresh copy of the five-document Lumio KB."""
    return write_kb(tmp_path / "kb", TINY_KB)


@pytest.fixture
def kb_settings(tmp_path: Path, tiny_kb: Path) -> Settings:
    """Settings with their own home and the tiny KB."""
    return Settings(home=tmp_path / "home", kb_dir=tiny_kb, llm_provider="offline")
