"""Ended sessions stay ended everywhere: the chat's own endpoints included.

A session cookie is a signed token that stays valid until it expires, wherever a copy of it is. Signing
out, a new password or `gtm users disable` end an account's sessions in the database
(`User.session_valid`). The console and the API check that on every request; Chainlit, which serves the
chat, its websocket and its thread history, only checks the signature. This middleware sits in front of
everything and takes the cookie off any request whose session has ended, so Chainlit sees an anonymous
visitor and asks them to sign in.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from app.web.session import cookie_token, token_claims

COOKIE_PREFIX = "access_token"
"""Chainlit's session cookie (split into `access_token_0`, `_1`... when long)."""


class EndedSessionGuard:
    """ASGI middleware: requests carrying the cookie of an ended session go on without it."""

    def __init__(self, app: ASGIApp) -> None:
        """Wrap `app`."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Strip an ended session's cookie from HTTP and websocket requests, then pass them on."""
        if scope["type"] in ("http", "websocket"):
            cookies = _cookies(scope)
            token = cookie_token(cookies)
            if token and not await _still_valid(token):
                scope = {**scope, "headers": _without_session(scope["headers"])}
        await self.app(scope, receive, send)


def _cookies(scope: Scope) -> dict[str, str]:
    """Every cookie of the request (from all its `Cookie` headers), parsed as Starlette does."""
    headers = [value.decode("latin-1") for name, value in scope.get("headers", []) if name == b"cookie"]
    return cookie_parser("; ".join(headers))


async def _still_valid(token: str) -> bool:
    """False only for a genuine token of an account that is gone, disabled, or whose sessions were ended since."""
    claims = token_claims(token)
    if claims is None:
        return True  # not ours to judge: an invalid or expired token is refused downstream anyway
    from app.web.copilot_holder import get_user_store

    account = await (await get_user_store()).aget(claims[0])
    return account is not None and account.session_valid(claims[1])


def _without_session(headers: Any) -> list[tuple[bytes, bytes]]:
    """The request headers with the session cookie(s) removed from every `Cookie` header."""
    out = []
    for name, value in headers:
        if name == b"cookie":
            kept = [
                part
                for part in value.decode("latin-1").split(";")
                if not part.strip().split("=", 1)[0].startswith(COOKIE_PREFIX)
            ]
            if not any(p.strip() for p in kept):
                continue
            value = ";".join(kept).strip().encode("latin-1")
        out.append((name, value))
    return out
