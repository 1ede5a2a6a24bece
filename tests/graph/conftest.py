"""Graph tests: a small seeded business database (once per session, copied per test), the real
router and tools, and a fresh checkpointer per test."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from app.runtime import Copilot
from app.services import build_services
from app.settings import REPO_ROOT, Settings

SEED_CUSTOMERS = 400


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A business database seeded once for the whole session."""
    from app.data.db import get_engine, init_db
    from app.data.seed import seed_demo

    path = tmp_path_factory.mktemp("seed") / "business.db"
    engine = get_engine(f"sqlite:///{path}")
    init_db(engine)
    seed_demo(engine, customers=SEED_CUSTOMERS, seed=7)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def kb_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home whose Chroma index holds the project's knowledge base (ingested once per session)."""
    from app.kb.service import get_knowledge_base

    home = tmp_path_factory.mktemp("kb-home")
    get_knowledge_base(Settings(home=home, kb_dir=REPO_ROOT / "knowledge_base")).ingest()
    return home


@pytest.fixture
def settings(tmp_path: Path, seeded_db: Path, kb_home: Path) -> Settings:
    """Settings for one test: the shared knowledge-base index, its own copy of the seeded database and
    its own checkpoint file."""
    return offline_settings(tmp_path, seeded_db, kb_home)


def offline_settings(tmp_path: Path, seeded_db: Path, home: Path) -> Settings:
    """Offline settings over `home`, with this test's own copy of the seeded database and checkpoint file."""
    db = tmp_path / "business.db"
    shutil.copy(seeded_db, db)
    return Settings(
        home=home,
        kb_dir=REPO_ROOT / "knowledge_base",
        database_url=f"sqlite:///{db}",
        checkpoint_url=str(tmp_path / "checkpoints.db"),
        llm_provider="offline",
        retry_wait_min_s=0.0,
        retry_wait_max_s=0.0,
    )


@pytest.fixture
async def copilot(settings: Settings) -> AsyncIterator[Copilot]:
    """The real services with an in-memory checkpointer."""
    async with Copilot.open(settings, services=build_services(settings), checkpointer=InMemorySaver()) as c:
        yield c
