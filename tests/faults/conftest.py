"""Fault-injection tests: the real graph and `ChatOpenAI` against `tests.fake_openai` on loopback.

A small seeded business database (once per session, copied per test), a one-document knowledge base
(so Support works without indexing the whole help centre), fast retry waits and a 1 s client timeout.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from app.monitoring import process_metrics
from app.runtime import Copilot
from app.services import build_services
from app.settings import Settings
from tests.fake_openai import FakeOpenAI

KB_DOC = """# Refunds

## Refund window
Hardware bought from us can be returned within 30 days for a full refund. Subscriptions are refunded
pro rata when cancelled within the first 14 days.
"""


@pytest.fixture(scope="session")
def fault_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A business database seeded once for the session."""
    from app.data.db import get_engine, init_db
    from app.data.seed import seed_demo

    path = tmp_path_factory.mktemp("fault-seed") / "business.db"
    engine = get_engine(f"sqlite:///{path}")
    init_db(engine)
    seed_demo(engine, customers=200, seed=11)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def fault_kb(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A one-document knowledge base, indexed once: (home, kb_dir)."""
    from app.kb.service import get_knowledge_base

    kb_dir = tmp_path_factory.mktemp("fault-kb-docs")
    (kb_dir / "refunds.md").write_text(KB_DOC, encoding="utf-8")
    home = tmp_path_factory.mktemp("fault-kb-home")
    get_knowledge_base(Settings(home=home, kb_dir=kb_dir)).ingest()
    return home, kb_dir


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    """The fake OpenAI-compatible server, scripted for a finance CAC question."""
    fake = FakeOpenAI().start()
    fake.route_json = {"route": "finance", "reason": "a unit-economics metric"}
    fake.tool_calls = {"compute_metric": {"metric": "cac", "period": "last quarter"}}
    yield fake
    fake.stop()


@pytest.fixture
def settings(tmp_path: Path, fault_db: Path, fault_kb: tuple[Path, Path], server: FakeOpenAI) -> Settings:
    """`ChatOpenAI` against the fake server; 3 attempts, waits of 0.05–0.2 s, a 1 s client timeout."""
    db = tmp_path / "business.db"
    shutil.copy(fault_db, db)
    home, kb_dir = fault_kb
    return Settings(
        home=home,
        kb_dir=kb_dir,
        database_url=f"sqlite:///{db}",
        checkpoint_url=str(tmp_path / "checkpoints.db"),
        llm_provider="openai",
        openai_api_key="sk-test-not-a-real-key",
        openai_base_url=server.base_url,
        llm_timeout_s=1.0,
        max_tool_attempts=3,
        retry_wait_min_s=0.05,
        retry_wait_max_s=0.2,
    )


@pytest.fixture
async def copilot(settings: Settings) -> AsyncIterator[Copilot]:
    """The real services and graph with an in-memory checkpointer."""
    async with Copilot.open(settings, services=build_services(settings), checkpointer=InMemorySaver()) as c:
        yield c


class MetricDelta:
    """Reads counters of the process's Prometheus registry relative to a starting snapshot."""

    def __init__(self) -> None:
        self.registry = process_metrics().registry
        self.start = {(s.name, tuple(sorted(s.labels.items()))): s.value for s in self._samples()}

    def _samples(self) -> list:
        return [s for m in self.registry.collect() for s in m.samples if s.name.endswith("_total")]

    def __call__(self, name: str, **labels: str) -> float:
        """How much `name{labels}` grew since the snapshot."""
        key = (name, tuple(sorted(labels.items())))
        now = self.registry.get_sample_value(name, labels) or 0.0
        return now - self.start.get(key, 0.0)

    def grown(self, prefix: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """Every counter starting with `prefix` that grew, with its growth."""
        out = {}
        for s in self._samples():
            key = (s.name, tuple(sorted(s.labels.items())))
            if s.name.startswith(prefix) and s.value - self.start.get(key, 0.0) > 0:
                out[key] = s.value - self.start.get(key, 0.0)
        return out


@pytest.fixture
def metrics() -> MetricDelta:
    """Counter growth during the test."""
    return MetricDelta()
