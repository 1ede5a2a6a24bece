"""Shared fixtures: one read-only seeded demo database per session, and fresh empty databases per test."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from app.data.db import get_engine, init_db
from app.data.seed import SeedReport, seed_demo

END = date(2025, 11, 24)
"""Last day of the seeded demo history used by the tests."""


@dataclass
class Demo:
    engine: Engine
    report: SeedReport
    wall_seconds: float


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """2,000 customers, seed 7, ending on END. Tests must not write to it."""
    path = tmp_path_factory.mktemp("demo") / "business.db"
    engine = get_engine(f"sqlite:///{path}")
    started = time.perf_counter()
    report = seed_demo(engine, customers=2000, seed=7, end_date=END)
    return Demo(engine, report, time.perf_counter() - started)


@pytest.fixture
def empty_engine(tmp_path: Path) -> Engine:
    """A fresh SQLite database with the business tables and no rows."""
    engine = get_engine(f"sqlite:///{tmp_path / 'db' / 'business.db'}")
    init_db(engine)
    return engine
