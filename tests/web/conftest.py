"""Web tests: the real app (`create_app`) over httpx's ASGI transport, in the test's own event loop.

Shared once per session: a seeded business database and a small copy of the knowledge base with its
Chroma index. Each test gets its own copy of the database (accounts, reviews, tickets) and its own
checkpoint file; a test that adds to the knowledge base asks for `fresh_kb` instead.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.settings import Settings
from tests.kb_slice import copy_kb

SEED_CUSTOMERS = 300
UNANSWERABLE = "Do you offer a white-label version of Lumio that resellers can rebrand?"


@pytest.fixture(scope="session")
def web_seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from app.data.db import get_engine, init_db
    from app.data.seed import seed_demo

    path = tmp_path_factory.mktemp("web-seed") / "business.db"
    engine = get_engine(f"sqlite:///{path}")
    init_db(engine)
    seed_demo(engine, customers=SEED_CUSTOMERS, seed=11)
    engine.dispose()
    return path


def _ingest(home: Path, kb_dir: Path) -> None:
    from app.kb.service import get_knowledge_base

    get_knowledge_base(Settings(home=home, kb_dir=kb_dir)).ingest()


@pytest.fixture(scope="session")
def shared_kb(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(home with the index, KB folder) shared by tests that do not change the knowledge base."""
    root = tmp_path_factory.mktemp("web-kb")
    kb_dir = copy_kb(root / "kb")
    _ingest(root / "home", kb_dir)
    return root / "home", kb_dir


@pytest.fixture
def fresh_kb(tmp_path: Path) -> tuple[Path, Path]:
    """(home, KB folder) of this test only: it may add documents."""
    kb_dir = copy_kb(tmp_path / "kb")
    _ingest(tmp_path / "kb-home", kb_dir)
    return tmp_path / "kb-home", kb_dir


def make_settings(tmp_path: Path, db: Path, home: Path, kb_dir: Path) -> Settings:
    copy = tmp_path / "business.db"
    shutil.copy(db, copy)
    return Settings(
        home=home,
        kb_dir=kb_dir,
        database_url=f"sqlite:///{copy}",
        checkpoint_url=str(tmp_path / "checkpoints.db"),
        history_url=f"sqlite+aiosqlite:///{tmp_path / 'chainlit.db'}",
        llm_provider="offline",
        retry_wait_min_s=0.0,
        retry_wait_max_s=0.0,
        demo_mode=True,
    )


@pytest.fixture
def web_settings(tmp_path: Path, web_seeded_db: Path, shared_kb: tuple[Path, Path]) -> Settings:
    return make_settings(tmp_path, web_seeded_db, *shared_kb)


@dataclass
class Web:
    """A running app and helpers to talk to it."""

    app: FastAPI
    settings: Settings
    accounts: dict[str, str]
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    def client(self) -> httpx.AsyncClient:
        """A new browser: its own cookie jar."""
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://testserver")
        self.clients.append(client)
        return client

    async def login(self, username: str, password: str | None = None) -> httpx.AsyncClient:
        client = self.client()
        response = await login(client, username, password or self.accounts[username])
        assert response.status_code == 303, response.text
        return client

    async def copilot(self):
        from app.web.copilot_holder import get_copilot

        return await get_copilot()


def form_token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]*)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


async def login(client: httpx.AsyncClient, username: str, password: str, next_path: str = "") -> httpx.Response:
    page = await client.get("/login")
    assert page.status_code == 200
    return await client.post(
        "/login",
        data={"username": username, "password": password, "next": next_path, "csrf_token": form_token(page.text)},
    )


def read_accounts(home: Path) -> dict[str, str]:
    text = (home / "demo-accounts.txt").read_text(encoding="utf-8")
    return {line.split("\t")[0]: line.split("\t")[1] for line in text.splitlines() if not line.startswith("#")}


@pytest.fixture
def start_web(monkeypatch: pytest.MonkeyPatch) -> Callable[[Settings], object]:
    """Start `create_app(settings)` with its lifespan; returns an async context manager yielding `Web`."""
    from contextlib import asynccontextmanager

    # create_app exports CHAINLIT_AUTH_SECRET: make sure it is removed again after the test.
    monkeypatch.setenv("CHAINLIT_AUTH_SECRET", "placeholder")
    monkeypatch.delenv("CHAINLIT_AUTH_SECRET")

    @asynccontextmanager
    async def run(settings: Settings) -> AsyncIterator[Web]:
        from app.web.server import create_app

        app = create_app(settings)
        async with app.router.lifespan_context(app):
            web = Web(app=app, settings=settings, accounts=read_accounts(settings.home))
            try:
                yield web
            finally:
                for client in web.clients:
                    await client.aclose()

    return run


@pytest.fixture
async def web(start_web, web_settings: Settings) -> AsyncIterator[Web]:
    async with start_web(web_settings) as running:
        yield running


@pytest.fixture(autouse=True)
def fast_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cheaper bcrypt in tests (production uses 12 rounds); the code path is the same."""
    monkeypatch.setattr("app.auth.users.BCRYPT_ROUNDS", 4)
