"""The ASGI app: health checks, sign-in and the reviewer console, then the Chainlit chat mounted at `/chat`.

Order matters: our routes (`/login`, `/review`, ...) are added before Chainlit is mounted, so its
single-page-app catch-all never shadows them. Chainlit's JWT secret comes from `GTM_HOME/secret.key`
and is exported before Chainlit loads (see `app.web.session`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.responses import JSONResponse, RedirectResponse

from app.settings import REPO_ROOT, Settings, get_settings

if TYPE_CHECKING:
    from app.runtime import Copilot

CHAT_PATH = "/chat"
WARM_UP_RETRY_S = (5.0, 60.0)
"""After a failed warm-up (a model or the index could not load), wait this long before trying again,
doubling up to the second value; `/readyz` answers 503 `warm-up failed` meanwhile."""

BLOCKING_THREADS = 32
"""Threads for `asyncio.to_thread` work (embedding, retrieval, SQLite, pandas) in the server.

asyncio's default on a 2-core machine is 6. Ten chats asking at once then queue their database writes
behind retrieval calls waiting for the shared model (`app.embeddings` micro-batches them). With 10
browser sessions asking at once (as in `bench/bench_ttft.py`, three runs each, timed inside the server),
the median answer went out 0.8–2.6 s after its question arrived with 6 threads, 0.7–1.2 s with 32. Model calls stay
serialised by the embedder's lock, so more threads do not oversubscribe the cores; most of them wait on
I/O."""

log = logging.getLogger(__name__)


_chainlit_loaded = False
"""Chainlit's app is a process-wide singleton: load it (and add its middleware) only once per process."""


def _mount_chat(app: FastAPI) -> None:
    """Mount the Chainlit chat at `/chat` (the first time through `mount_chainlit`, which loads `chat.py`)."""
    global _chainlit_loaded
    os.environ.setdefault("CHAINLIT_APP_ROOT", str(REPO_ROOT))
    if not _chainlit_loaded:
        from chainlit.utils import mount_chainlit

        mount_chainlit(app=app, target=str(REPO_ROOT / "app" / "web" / "chat.py"), path=CHAT_PATH)
        _chainlit_loaded = True
        return
    from chainlit.server import app as chainlit_app

    app.mount(CHAT_PATH, chainlit_app)


async def prepare_accounts(settings: Settings) -> dict[str, str] | None:
    """At start-up: in demo mode with no accounts, create the demo accounts and print their passwords once.

    Returns:
        The accounts created now (`{username: password}`), or `None`.
    """
    from app.auth.bootstrap import DEMO_ACCOUNTS_FILE, ensure_demo_accounts
    from app.web.copilot_holder import get_user_store

    store = await get_user_store()
    if not settings.demo_mode:
        if await asyncio.to_thread(store.count) == 0:
            print("No accounts yet: create one with `gtm users add NAME --role admin`.", flush=True)
        return None
    created = await asyncio.to_thread(ensure_demo_accounts, store, settings.home)
    if created:
        lines = [f"    {name:<9} {password}" for name, password in created.items()]
        print(
            "\nDemo accounts created (shown once; also in "
            f"{settings.home / DEMO_ACCOUNTS_FILE}, readable only by you):\n" + "\n".join(lines) + "\n",
            flush=True,
        )
    return created


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the web app for `settings` (default: from the environment); Chainlit is loaded here, not at import."""
    from app.web import copilot_holder, history
    from app.web.admin import install as install_monitoring
    from app.web.api import install as install_api
    from app.web.api import start_recovery
    from app.web.branding import ChatSignIn, offline_page
    from app.web.review_console import install
    from app.web.session import configure_keys
    from app.web.session_guard import EndedSessionGuard

    settings = settings or get_settings()
    copilot_holder.configure(settings)
    history.configure(settings)
    keys = configure_keys(settings)

    async def mark_ready(copilot: Copilot) -> None:
        delay = WARM_UP_RETRY_S[0]
        while True:
            try:
                await copilot.warm_up()  # models, classifier, knowledge-base index: needed to answer at all
                break
            except Exception:
                log.exception("the warm-up failed (/readyz answers 503); trying again in %.0f s", delay)
                app.state.warm_up_failed = True
                await asyncio.sleep(delay)
                delay = min(delay * 2, WARM_UP_RETRY_S[1])
        app.state.warm_up_failed = False
        try:
            await copilot.wait_warm()
        except Exception:  # noqa: BLE001 - requests still work without the warm sentence vectors
            log.exception("warming the knowledge base failed; serving anyway")
        app.state.ready = True
        log.info("ready: models, classifier, knowledge-base index and sentence vectors loaded")
        try:
            await copilot.warm_after_ready()
        except Exception:  # noqa: BLE001 - passages are then encoded on first use
            log.exception("warming the passages' word-piece vectors failed; serving anyway")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Only what requests cannot do without happens before the server listens (the Copilot, accounts,
        # the chat history: fractions of a second); the heavy warm-up runs in the background.
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=BLOCKING_THREADS, thread_name_prefix="gtm-blocking")
        )
        copilot = await copilot_holder.get_copilot()
        copilot.start_warm_up()
        readiness = asyncio.create_task(mark_ready(copilot))
        await prepare_accounts(settings)
        await history.init_history(settings)
        recovery = start_recovery(copilot)  # finish the runs a crash interrupted, in the background
        yield
        readiness.cancel()
        recovery.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await readiness
        await copilot.stop_warm_up()
        await history.close_history()
        await copilot_holder.close_copilot()

    # No public interactive docs or schema: every page and API needs a session (`app.openapi()` still works).
    app = FastAPI(title="GTM Copilot", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ready = False
    app.state.warm_up_failed = False

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: 200 as soon as the server listens (requests are accepted; early ones wait for the warm-up)."""
        return {"status": "ok"}

    @app.get("/readyz", response_model=None)
    async def readyz() -> JSONResponse:
        """Readiness: 200 once the warm-up is done (models, classifier, index, sentence vectors); 503 before."""
        if app.state.ready:
            return JSONResponse({"status": "ready"})
        if app.state.warm_up_failed:  # the reason is in the log, not in this unauthenticated answer
            return JSONResponse({"status": "warm-up failed"}, status_code=503)
        return JSONResponse({"status": "warming up"}, status_code=503)

    @app.get("/")
    async def root() -> RedirectResponse:
        return RedirectResponse(CHAT_PATH)

    install(app, keys)
    install_monitoring(app)
    install_api(app)
    _mount_chat(app)
    offline_page()  # the chat page fetches nothing from other hosts (fonts, KaTeX)
    app.add_middleware(ChatSignIn)  # a signed-out visit to the chat goes to /login, not Chainlit's form
    app.add_middleware(EndedSessionGuard)  # the chat's own endpoints honour signing out too (runs first)
    return app
