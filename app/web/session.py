"""Web sessions, shared by the chat and the reviewer console: Chainlit's signed JWT cookie.

Why Chainlit's token: the chat already needs `CHAINLIT_AUTH_SECRET` and its `access_token` cookie
(HS256 JWT, HttpOnly, SameSite=Lax, path `/`). Issuing that same cookie from `/login` — and accepting
it on `/review` — gives one sign-in for both pages with no second session mechanism. The token only
says who signed in; the role and the disabled flag are re-read from the `users` table on every console
request, so a changed role or a disabled account takes effect at once.

The signing secret is derived from `GTM_HOME/secret.key` (created 0600 at first start), unless the
operator sets `CHAINLIT_AUTH_SECRET` (needed when several app processes share sessions).

CSRF: every POST form carries a token that is an HMAC of the session token (per session); the login
form, before any session exists, is bound to a random `gtm_login_csrf` cookie instead.
"""

from __future__ import annotations

import hmac
import os
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Request, Response

from app.auth.bootstrap import derive_key, load_or_create_secret
from app.settings import Settings

AUTH_SECRET_ENV = "CHAINLIT_AUTH_SECRET"
"""Environment variable Chainlit reads its JWT secret from."""

LOGIN_CSRF_COOKIE = "gtm_login_csrf"
"""Random per-browser value the login form's CSRF token is bound to."""


@dataclass(frozen=True, slots=True)
class WebKeys:
    """Keys of the web app (never logged)."""

    jwt_secret: str
    """The HS256 secret of session tokens (`CHAINLIT_AUTH_SECRET`)."""
    csrf_key: bytes
    """Key of the CSRF tokens."""


def configure_keys(settings: Settings) -> WebKeys:
    """Load the installation secret, derive the session and CSRF keys, and export Chainlit's secret.

    Must run before Chainlit is mounted (it refuses to start password login without a secret).
    """
    preset = os.environ.get(AUTH_SECRET_ENV)
    master = preset.encode("utf-8") if preset else load_or_create_secret(settings.home)
    jwt_secret = preset or derive_key(master, "chainlit-jwt")
    os.environ[AUTH_SECRET_ENV] = jwt_secret
    return WebKeys(jwt_secret=jwt_secret, csrf_key=derive_key(master, "csrf").encode("ascii"))


def session_token(request: Request) -> str | None:
    """The raw session token from the request's cookies, if any."""
    return cookie_token(dict(request.cookies))


def cookie_token(cookies: dict[str, str]) -> str | None:
    """The session token among `cookies`, joined from its chunks as Chainlit writes long ones."""
    from chainlit.auth import get_token_from_cookies

    token: str | None = get_token_from_cookies(cookies)
    return token


def session_username(request: Request) -> str | None:
    """Who the (valid, unexpired) session cookie says is signed in, or `None`."""
    claims = session_claims(request)
    return claims[0] if claims else None


def session_claims(request: Request) -> tuple[str, datetime | None] | None:
    """The username and start of the request's valid session cookie (`token_claims`), or `None`."""
    return token_claims(session_token(request))


def token_claims(token: str | None) -> tuple[str, datetime | None] | None:
    """The username and start (naive UTC, from `iat`) of a valid, unexpired session token, or `None`."""
    import jwt as pyjwt
    from chainlit.auth.jwt import get_jwt_secret

    secret = get_jwt_secret()
    if not token or not secret:
        return None
    try:
        claims = pyjwt.decode(token, secret, algorithms=["HS256"])
    except pyjwt.PyJWTError:  # expired, tampered or foreign tokens all mean "not signed in"
        return None
    identifier = claims.get("identifier")
    if not isinstance(identifier, str):
        return None
    metadata = claims.get("metadata")
    issued = metadata.get("started") if isinstance(metadata, dict) else None
    issued = issued if isinstance(issued, int | float) else claims.get("iat")  # `iat` is in whole seconds
    started = datetime.fromtimestamp(issued, UTC).replace(tzinfo=None) if isinstance(issued, int | float) else None
    return identifier, started


def session_metadata(role: str) -> dict[str, object]:
    """What a session token carries besides the username: the role, and when the session began.

    The start is to the microsecond, so that signing out ends the sessions begun before it, even within the
    same second.
    """
    return {"role": role, "started": time.time()}


def start_session(request: Request, response: Response, username: str, role: str) -> None:
    """Sign `username` in: set the shared session cookie on `response`."""
    import chainlit as cl
    from chainlit.auth import create_jwt, set_auth_cookie

    token = create_jwt(cl.User(identifier=username, display_name=username, metadata=session_metadata(role)))
    set_auth_cookie(request, response, token)


def end_session(request: Request, response: Response) -> None:
    """Sign out: clear the session cookie (the chat's too, it is the same one)."""
    from chainlit.auth import clear_auth_cookie

    clear_auth_cookie(request, response)


def _mac(keys: WebKeys, purpose: str, value: str) -> str:
    return hmac.new(keys.csrf_key, f"{purpose}:{value}".encode(), "sha256").hexdigest()


def csrf_token(keys: WebKeys, request: Request) -> str:
    """The CSRF token of this session's forms (empty when nobody is signed in)."""
    token = session_token(request)
    return _mac(keys, "session", token) if token else ""


def login_csrf_token(keys: WebKeys, nonce: str) -> str:
    """The CSRF token of the login form, bound to the browser's login nonce."""
    return _mac(keys, "login", nonce)


def login_nonce(request: Request) -> str:
    """The browser's login nonce (a new one when it has none yet)."""
    return request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)


def set_login_nonce(response: Response, nonce: str) -> None:
    """Remember the login nonce in an HttpOnly, SameSite=Strict cookie."""
    response.set_cookie(LOGIN_CSRF_COOKIE, nonce, httponly=True, samesite="strict", max_age=3600)


def csrf_valid(keys: WebKeys, request: Request, submitted: str | None, *, login: bool = False) -> bool:
    """Whether a submitted form token matches this session (or, for the login form, this browser's nonce)."""
    if not submitted:
        return False
    if login:
        nonce = request.cookies.get(LOGIN_CSRF_COOKIE)
        if not nonce:
            return False
        expected = _mac(keys, "login", nonce)
    else:
        token = session_token(request)
        if not token:
            return False
        expected = _mac(keys, "session", token)
    return hmac.compare_digest(expected, submitted)
