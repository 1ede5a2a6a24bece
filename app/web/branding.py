"""The chat page as the product's own: no request leaves the machine, and signing in happens on `/login`.

- **Offline page.** Chainlit's `index.html` links Google Fonts (with two `preconnect`s) and KaTeX's
  stylesheet on cdn.jsdelivr.net whatever the configuration (`latex = false` only stops rendering maths).
  `offline_page()` wraps `chainlit.server.get_html_template` so the page it serves keeps no `<link>` to
  another host: the chat then uses the system's sans-serif font, and maths is off anyway.
- **One sign-in page.** A signed-out browser that opens the chat (`/chat`, a thread, Chainlit's own
  `/chat/login`) is sent to `/login?next=...` like the console, instead of Chainlit's login form
  (`ChatSignIn`). Chainlit's page switches to its `/chat/login` route without a request when a session
  ends in the page; `public/gtm.js` (`custom_js` in `.chainlit/config.toml`) covers that case.
- The logo, favicon and assistant avatar are files of `public/` (see `.chainlit/config.toml`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from app.web.session import session_claims

CHAT_PATH = "/chat"

EXTERNAL_LINK = re.compile(r"""<link\b[^>]*\bhref=["']?(?:https?:)?//[^>]*>\s*""", re.IGNORECASE)
"""A `<link>` (stylesheet, preconnect, font) to another host; `//host` counts."""

CHAT_PAGES = re.compile(r"^/chat(?:/|/login/?|/thread/[^/]+/?|/element/[^/]+/?|/env/?)?$")
"""Chainlit's single-page-app routes under `/chat` (its API, assets and public files are not pages)."""

_PATCHED = "_gtm_offline"


def without_external_links(html: str) -> str:
    """`html` without any `<link>` to another host."""
    return EXTERNAL_LINK.sub("", html)


def offline_page() -> None:
    """Make Chainlit's page template drop its links to other hosts (once per process)."""
    import chainlit.server as server

    original: Callable[[str], str] = server.get_html_template
    if getattr(original, _PATCHED, False):
        return

    def get_html_template(root_path: str) -> str:
        return without_external_links(original(root_path))

    setattr(get_html_template, _PATCHED, True)
    server.get_html_template = get_html_template


def _is_page_visit(scope: Scope) -> bool:
    """A browser navigating to one of the chat's pages (not the page's own fetches, assets or socket)."""
    if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
        return False
    if not CHAT_PAGES.match(scope["path"]):
        return False
    headers = {name: value for name, value in scope.get("headers", [])}
    mode = headers.get(b"sec-fetch-mode")
    if mode is not None:
        return mode == b"navigate"
    return b"text/html" in headers.get(b"accept", b"")


class ChatSignIn:
    """ASGI middleware: a signed-out visit to a chat page goes to `/login?next=<that page>`."""

    def __init__(self, app: ASGIApp) -> None:
        """Wrap `app`."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Redirect signed-out page visits under `/chat`; pass everything else on."""
        if _is_page_visit(scope) and session_claims(Request(scope)) is None:
            path = scope["path"].rstrip("/")
            target = CHAT_PATH if path in (CHAT_PATH, f"{CHAT_PATH}/login") else path
            response = RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
