"""Security tests reuse the web tests' fixtures: a seeded database, a small knowledge base, the real app."""

from __future__ import annotations

from tests.web.conftest import (  # noqa: F401 - fixtures
    fast_bcrypt,
    shared_kb,
    start_web,
    web,
    web_seeded_db,
    web_settings,
)
