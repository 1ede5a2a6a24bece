"""`/metrics` (loopback or admin) and the `/admin` dashboard (admin only) on the real app."""

from __future__ import annotations

import httpx

from app.web.admin import is_loopback
from tests.web.conftest import Web


def remote_client(web: Web) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=web.app, client=("203.0.113.9", 40000))
    client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    web.clients.append(client)
    return client


def test_loopback_addresses():
    assert is_loopback("127.0.0.1") and is_loopback("127.8.9.10") and is_loopback("::1")
    assert is_loopback("::ffff:127.0.0.1")
    assert not is_loopback("10.0.0.1") and not is_loopback("::ffff:10.0.0.1") and not is_loopback("testclient")
    assert not is_loopback(None)


async def test_metrics_on_loopback_show_request_histograms(web: Web):
    copilot = await web.copilot()
    await copilot.ask("What was our CAC last quarter?")
    response = await web.client().get("/metrics")  # httpx's ASGI client is 127.0.0.1
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert "# TYPE gtm_request_latency_seconds histogram" in text
    assert 'gtm_request_latency_seconds_bucket{kind="ask",le="+Inf",route="finance"}' in text
    assert 'gtm_requests_total{kind="ask",outcome="ok",route="finance"}' in text
    assert 'gtm_agent_runs_total{agent="finance",result="success"}' in text
    assert 'gtm_llm_tokens_total{direction="output"}' in text and "gtm_llm_cost_usd_total" in text


async def test_metrics_from_elsewhere_need_an_admin(web: Web):
    from tests.web.conftest import login

    anonymous = remote_client(web)
    assert (await anonymous.get("/metrics")).status_code == 403
    staff = remote_client(web)
    assert (await login(staff, "staff", web.accounts["staff"])).status_code == 303
    assert (await staff.get("/metrics")).status_code == 403
    admin = remote_client(web)
    assert (await login(admin, "admin", web.accounts["admin"])).status_code == 303
    response = await admin.get("/metrics")
    assert response.status_code == 200 and "gtm_requests_total" in response.text


async def test_dashboard_is_for_admins_and_shows_the_figures(web: Web):
    anonymous = await web.client().get("/admin")
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login?next=/admin"
    staff = await web.login("staff")
    refused = await staff.get("/admin")
    assert refused.status_code == 403 and "Admins only" in refused.text
    reviewer = await web.login("reviewer")
    assert (await reviewer.get("/admin")).status_code == 403

    copilot = await web.copilot()
    await copilot.ask("What was our CAC last quarter?")
    await copilot.ask("Which acquisition channels performed best over the last 30 days?")
    admin = await web.login("admin")
    page = await admin.get("/admin")
    assert page.status_code == 200
    html = page.text
    assert "2 request(s)" in html and "No open alerts." in html
    assert 'id="latency-p50"' in html and "&lt; 2.00 s" in html and "&lt; 10.00 s" in html
    assert "&lt; 1.0%" in html and "$100.00/day" in html and "alert &gt; $80.00" in html
    finance = html[html.index('id="agent-finance"') :]
    assert "100.0%" in finance[:300] and "&gt; 99.0%" in finance[:300] and 'data-status="ok"' in finance[:400]
    routes = html[html.index('id="routes"') :]
    assert "<td>finance</td><td>1</td>" in routes and "<td>marketing</td><td>1</td>" in routes
    assert html.count("<td>$0.0000</td>") == 7  # cost per day: the offline model is free
    assert 'href="/admin"' in html  # the console's navigation links the dashboard for admins
