"""Monitoring pages: Prometheus `/metrics` and the admin dashboard `/admin`.

- `GET /metrics` — this process's metrics in Prometheus text format. Served to loopback clients
  (127.0.0.0/8, ::1: a scraper on the same host or behind a local proxy) and to signed-in admins;
  anyone else gets 403.
- `GET /admin` — the dashboard (admin role, same session as the reviewer console): latency
  percentiles, error rate, cost today against the daily budget and success rate per agent, each next to
  the seed's target; latency by route, cost per day for the last 7 days and the open alerts.

`install(app)` adds the routes; `create_app` calls it before Chainlit is mounted.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from app.auth.users import User
from app.monitoring import process_metrics
from app.web.review_console import CopilotDep, Keys, LoginRequired, current_user, message_page, page

ADMIN_ROLE = "admin"
"""The role that may open the dashboard (and read `/metrics` from anywhere)."""

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The Prometheus text exposition format."""

router = APIRouter()

SignedIn = Annotated[User | None, Depends(current_user)]


def is_loopback(host: str | None) -> bool:
    """Whether a client address is on this machine (127.0.0.0/8 or ::1, IPv4-mapped included)."""
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def is_admin(user: User | None) -> bool:
    """Whether `user` is an enabled admin."""
    return user is not None and user.role == ADMIN_ROLE and not user.disabled


@router.get("/metrics", response_model=None)
async def metrics(request: Request, user: SignedIn) -> Response:
    """Prometheus metrics of this process (loopback clients and admins only)."""
    host = request.client.host if request.client else None
    if not (is_loopback(host) or is_admin(user)):
        return PlainTextResponse("metrics are served to loopback clients and admins only\n", status_code=403)
    return Response(process_metrics().exposition(), media_type=PROMETHEUS_CONTENT_TYPE)


def _fmt_ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def _fmt_rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


@router.get("/admin", response_class=HTMLResponse)
async def dashboard(request: Request, keys: Keys, user: SignedIn, copilot: CopilotDep) -> HTMLResponse:
    """The monitoring dashboard (admin role)."""
    if user is None:
        raise LoginRequired(request.url.path)
    if not is_admin(user):
        return message_page(
            request,
            keys,
            "Admins only",
            f"You are signed in as {user.username} with the {user.role} role. The dashboard needs the admin role.",
            status_code=403,
            user=user,
            links=[("/chat", "Back to the chat"), ("/logout", "Sign in as someone else")],
        )
    summary: dict[str, Any] = await copilot.monitor.asummary()
    max_day = max((d["cost_usd"] for d in summary["cost"]["per_day"]), default=0.0)
    context = {
        "user": user,
        "page": "admin",
        "s": summary,
        "fmt_ms": _fmt_ms,
        "fmt_rate": _fmt_rate,
        "max_day": max_day,
    }
    return page(request, "admin.html", context, keys)


def install(app: FastAPI) -> None:
    """Add `/metrics` and `/admin` to `app` (after the reviewer console, before Chainlit)."""
    app.include_router(router)
