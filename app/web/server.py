"""The ASGI app: health checks, then the Chainlit chat mounted at `/chat`."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from app.settings import REPO_ROOT

CHAT_PATH = "/chat"


def create_app() -> FastAPI:
    """Build the web app (Chainlit is loaded here, not at import)."""
    from app.web.copilot_holder import close_copilot, get_copilot

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        copilot = await get_copilot()
        await copilot.warm_up()
        yield
        await close_copilot()

    app = FastAPI(title="GTM Copilot", lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/")
    async def root() -> RedirectResponse:
        return RedirectResponse(CHAT_PATH)

    os.environ.setdefault("CHAINLIT_APP_ROOT", str(REPO_ROOT))
    from chainlit.utils import mount_chainlit

    mount_chainlit(app=app, target=str(REPO_ROOT / "app" / "web" / "chat.py"), path=CHAT_PATH)
    return app
