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


MISSED = ("breach", "alert", "over budget")
"""Statuses of a figure that misses its target (or its budget)."""


def missed_targets(summary: dict[str, Any]) -> list[dict[str, str]]:
    """The figures of the "against the targets" table that miss their target, in the table's order.

    Alerts (`summary["alerts"]`) are a narrower thing: only the error rate, the daily cost and the model's
    credentials raise one, so a latency breach shows here and never as an alert.
    """
    out: list[dict[str, str]] = []
    for name, lat in summary["latency"].items():
        if lat["status"] in MISSED:
            out.append(
                {
                    "id": f"latency-{name}",
                    "what": f"latency {name} {_fmt_ms(lat['ms'])} (target < {_fmt_ms(lat['target_ms'])})",
                }
            )
    err = summary["error_rate"]
    if err["status"] in MISSED:
        out.append(
            {"id": "error-rate", "what": f"error rate {_fmt_rate(err['value'])} (target < {_fmt_rate(err['target'])})"}
        )
    cost = summary["cost"]
    if cost["status"] in MISSED:
        out.append(
            {
                "id": "cost-today",
                "what": f"LLM cost today ${cost['today_usd']:.2f} ({cost['status']}; budget ${cost['budget_usd']:.2f}/day)",
            }
        )
    for agent, a in summary["agents"].items():
        if a["status"] in MISSED:
            out.append(
                {
                    "id": f"agent-{agent}",
                    "what": f"{agent} success {_fmt_rate(a['rate'])} (target > {_fmt_rate(a['target'])})",
                }
            )
    return out


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
        "missed": missed_targets(summary),
    }
    return page(request, "admin.html", context, keys)


def install(app: FastAPI) -> None:
    """Add `/metrics` and `/admin` to `app` (after the reviewer console, before Chainlit)."""
    app.include_router(router)
