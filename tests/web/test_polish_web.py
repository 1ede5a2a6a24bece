"""Web polish: the outbox console shows the chat's 12-month value, assistant avatars and the product's logo,
a chat page that fetches nothing from other hosts and signs in on `/login`, an admin page whose alert
notice agrees with its targets, and decision forms that a reload never sends again."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest

from app.settings import REPO_ROOT
from app.web.admin import missed_targets
from app.web.branding import without_external_links
from tests.web.test_outbox_console import campaign_card, staff_winback
from tests.web.test_review_console import decide, escalate

from .conftest import Web, form_token

CONFIG = tomllib.loads((REPO_ROOT / ".chainlit" / "config.toml").read_text(encoding="utf-8"))
EXTERNAL = re.compile(r"""(?:href|src)=["']?(?:https?:)?//""", re.IGNORECASE)


# -- 1. the outbox console's 12-month value is the chat's -------------------------------------------
async def test_outbox_console_shows_the_value_the_chat_shows(web: Web):
    thread_id, _, recipients = await staff_winback(web)
    copilot = await web.copilot()
    state = await copilot.graph.aget_state({"configurable": {"thread_id": thread_id}})
    chat_values = {str(c["customer_id"]): c["value_12m"] for c in state.values["churned_customers"]}
    hardware = {str(c["customer_id"]): c["clv_12m"] for c in state.values["churned_customers"]}
    # the chat's table (stage_outbox's proposal) shows value_12m: MRR x 12 + hardware CLV
    assert any(chat_values[r.customer_id] != hardware[r.customer_id] for r in recipients)

    page = await (await web.login("reviewer")).get("/review/outbox")
    card = campaign_card(page.text, thread_id)
    for r in recipients:
        assert r.clv_12m == pytest.approx(chat_values[r.customer_id])
        start = card.index(r.customer_id)
        shown = re.search(r"12-month value \$([\d,]+)", card[start:])
        assert shown, f"no 12-month value for {r.customer_id}"
        assert shown.group(1) == f"{chat_values[r.customer_id]:,.0f}"


# -- 2 and 3. avatars, logo, favicon ----------------------------------------------------------------
async def test_every_assistant_author_has_the_product_logo_as_avatar(web: Web):
    avatar = CONFIG["UI"]["default_avatar_file_url"]
    assert avatar.startswith("/chat/public/")
    client = await web.login("staff")
    response = await client.get(avatar)
    assert response.status_code == 200 and response.headers["content-type"].startswith("image/svg+xml")
    assert "GTM Copilot" in response.text
    # the page is given this URL for every author, so Chainlit's /avatars/{name} (which refuses "·") is never asked
    chat_config = (await client.get("/chat/project/settings", params={"language": "en-US"})).json()
    assert chat_config["ui"]["default_avatar_file_url"] == avatar


async def test_chat_logo_and_favicon_are_the_products(web: Web):
    client = await web.login("staff")
    logo = (REPO_ROOT / "public" / "logo_light.svg").read_text(encoding="utf-8")
    for theme in ("light", "dark"):
        response = await client.get("/chat/logo", params={"theme": theme})
        assert response.status_code == 200 and response.headers["content-type"].startswith("image/svg+xml")
        assert "GTM Copilot" in response.text
    assert (await client.get("/chat/logo")).text == logo
    favicon = await client.get("/chat/favicon")
    assert favicon.status_code == 200 and favicon.text == (REPO_ROOT / "public" / "favicon.svg").read_text()
    console = await (await web.login("reviewer")).get("/review")
    assert 'rel="icon" href="/chat/public/favicon.svg"' in console.text


# -- 3. the chat signs in on /login --------------------------------------------------------------------
NAVIGATE = {"accept": "text/html,application/xhtml+xml", "sec-fetch-mode": "navigate"}


@pytest.mark.parametrize(
    ("path", "next_path"),
    [("/chat/", "/chat"), ("/chat/login", "/chat"), ("/chat/thread/abc-123", "/chat/thread/abc-123")],
)
async def test_a_signed_out_visit_to_the_chat_goes_to_our_login(web: Web, path: str, next_path: str):
    response = await web.client().get(path, headers=NAVIGATE)
    assert response.status_code == 303 and response.headers["location"] == f"/login?next={next_path}"


async def test_chainlit_endpoints_and_signed_in_visits_are_untouched(web: Web):
    anonymous = web.client()
    assert (await anonymous.get("/chat/auth/config")).status_code == 200  # the page's own fetches
    assert (await anonymous.get("/chat/public/gtm.js", headers=NAVIGATE)).status_code == 200
    assert (await anonymous.get("/chat/user")).status_code == 401
    client = await web.login("staff")
    page = await client.get("/chat/", headers=NAVIGATE)
    assert page.status_code == 200 and '<div id="root">' in page.text
    assert '<script src="/chat/public/gtm.js"' in page.text  # covers Chainlit's in-page switch to /chat/login


# -- 4. nothing from other hosts ---------------------------------------------------------------------
async def test_the_chat_page_links_nothing_on_other_hosts(web: Web):
    client = await web.login("staff")
    html = (await client.get("/chat/", headers=NAVIGATE)).text
    assert not EXTERNAL.search(html), EXTERNAL.findall(html)
    assert "fonts.googleapis.com" not in html and "cdn.jsdelivr.net" not in html and "katex" not in html
    assert "/chat/assets/index-" in html  # the app itself is still there
    assert CONFIG["features"]["latex"] is False


def test_without_external_links_keeps_local_ones():
    html = (
        '<link rel="preconnect" href="https://fonts.gstatic.com" crossorigin />\n'
        '<link\n  href="https://fonts.googleapis.com/css2?family=Inter" rel="stylesheet"\n/>\n'
        '<link rel="stylesheet" href="//cdn.example/x.css">'
        '<link rel="stylesheet" crossorigin href="/assets/index.css">'
    )
    assert without_external_links(html) == '<link rel="stylesheet" crossorigin href="/assets/index.css">'


# -- 5. the admin page's alert notice agrees with its targets -----------------------------------------
def _summary(**statuses: str) -> dict[str, Any]:
    return {
        "latency": {
            name: {"ms": ms, "target_ms": target, "status": statuses.get(name, "ok")}
            for name, ms, target in (("p50", 900.0, 2000.0), ("p95", 6100.0, 5000.0), ("p99", 12000.0, 10000.0))
        },
        "error_rate": {"value": 0.0, "target": 0.01, "status": "ok"},
        "cost": {"today_usd": 0.0, "budget_usd": 100.0, "status": "ok"},
        "agents": {"finance": {"rate": 1.0, "target": 0.99, "status": "ok"}},
    }


def test_missed_targets_name_the_breaches():
    assert missed_targets(_summary()) == []
    missed = missed_targets(_summary(p95="breach", p99="breach"))
    assert [m["id"] for m in missed] == ["latency-p95", "latency-p99"]
    assert missed[0]["what"] == "latency p95 6.10 s (target < 5.00 s)"


async def test_admin_page_says_which_targets_are_missed_when_no_alert_is_open(web: Web, monkeypatch):
    copilot = await web.copilot()
    await copilot.ask("What was our CAC last quarter?")
    real = copilot.monitor.asummary

    async def slow_summary(*args: Any, **kwargs: Any) -> dict[str, Any]:
        summary = await real(*args, **kwargs)
        for name, target in (("p95", 5000.0), ("p99", 10000.0)):
            summary["latency"][name].update(ms=target * 1.5, status="breach")
        return summary

    monkeypatch.setattr(copilot.monitor, "asummary", slow_summary)
    admin = await web.login("admin")
    html = (await admin.get("/admin")).text
    assert 'data-status="breach"' in html
    alerts = html[html.index('id="alerts"') : html.index("</div>", html.index('id="alerts"'))]
    assert "No open alerts." in alerts and "miss their target" in alerts and "notice warn" in html
    missed = html[html.index('id="missed-targets"') :]
    assert 'data-target="latency-p95"' in missed and 'data-target="latency-p99"' in missed
    assert "7.50 s (target &lt; 5.00 s)" in missed and "do not raise alerts" in missed

    monkeypatch.setattr(copilot.monitor, "asummary", real)
    html = (await admin.get("/admin")).text
    if 'data-status="breach"' not in html and 'data-status="alert"' not in html:
        assert 'id="missed-targets"' not in html and "miss their target" not in html


# -- 6. decision forms: a reload never sends them again -----------------------------------------------
async def test_a_conflict_page_takes_a_get_address_that_says_who_won(web: Web):
    _, review_id = await escalate(web)
    first = await web.login("reviewer")
    second = await web.login("admin")
    stale = await second.get("/review")
    assert "history.replaceState" not in stale.text  # a GET page keeps its own address
    assert (await decide(first, review_id, action="approve", text=""))[0] == 303
    response = await second.post(
        f"/review/{review_id}/decide", data={"csrf_token": form_token(stale.text), "action": "reject", "note": "no"}
    )
    assert response.status_code == 409
    assert f'history.replaceState(null, "", "/review?conflict={review_id}")' in response.text

    reloaded = await second.get(f"/review?conflict={review_id}")
    assert reloaded.status_code == 200
    assert f"{review_id} was already decided by reviewer (approved" in reloaded.text
    audit = await (await web.copilot()).reviews.audit(review_id)
    assert [(a["action"], a["reviewer"]) for a in audit] == [("approve", "reviewer")]


async def test_conflict_address_of_a_pending_or_unknown_review_says_nothing(web: Web):
    _, review_id = await escalate(web)
    client = await web.login("reviewer")
    for value in (review_id, "R-99999", "<script>"):
        page = await client.get("/review", params={"conflict": value})
        assert page.status_code == 200 and "already decided" not in page.text and "<script>alert" not in page.text


async def test_a_form_error_page_also_takes_the_queue_address(web: Web):
    _, review_id = await escalate(web)
    client = await web.login("reviewer")
    status, html = await decide(client, review_id, action="bogus")
    assert status == 400 and 'history.replaceState(null, "", "/review")' in html


@pytest.mark.parametrize("path", ["/review/R-00003/decide", "/review/outbox/some-thread/decide"])
async def test_get_on_a_decide_address_redirects_to_its_page(web: Web, path: str):
    client = await web.login("reviewer")
    response = await client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == ("/review/outbox" if "/outbox/" in path else "/review")
    assert (await client.get(response.headers["location"])).status_code == 200
    anonymous = await web.client().get(path)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=")
    assert (await (await web.login("staff")).get(path)).status_code == 403


async def test_outbox_conflict_page_takes_a_get_address_that_says_who_won(web: Web):
    thread_id, campaign_id, _ = await staff_winback(web)
    reviewer, admin = await web.login("reviewer"), await web.login("admin")
    stale = await admin.get("/review/outbox")
    page = await reviewer.get("/review/outbox")
    data = {"campaign_id": campaign_id, "action": "reject", "note": "Budget frozen"}
    first = await reviewer.post(
        f"/review/outbox/{thread_id}/decide", data={**data, "csrf_token": form_token(page.text)}
    )
    assert first.status_code == 303
    again = await admin.post(f"/review/outbox/{thread_id}/decide", data={**data, "csrf_token": form_token(stale.text)})
    assert again.status_code == 409
    url = f"/review/outbox?conflict={thread_id}&campaign={campaign_id}"
    assert f'history.replaceState(null, "", "{url}")'.replace("&", "\\u0026") in again.text
    reloaded = await admin.get(url)
    assert reloaded.status_code == 200 and "already rejected by reviewer" in reloaded.text


def test_public_assets_are_small_local_files():
    public = REPO_ROOT / "public"
    for name in ("logo_light.svg", "logo_dark.svg", "favicon.svg", "avatars/gtm_copilot.svg", "gtm.js"):
        text = (public / name).read_text(encoding="utf-8")
        assert len(text) < 4000 and not EXTERNAL.search(text), name
        if name.endswith(".svg"):
            assert 'xmlns="http://www.w3.org/2000/svg"' in text and "<script" not in text
