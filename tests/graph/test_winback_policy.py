"""The win-back follows the company's policy (knowledge_base/brand-voice.md, "Incentive policy for win-back
offers" and "Lumio email structure"), on a copy of the seeded business database:

* who: Starter and Growth accounts cancelled within 90 days of the data's last date, never an active or an
  Enterprise account, never twice in 12 months (the outbox says who was sent one);
* what: one incentive (a free month of the plan the account had, no hardware discount) with a real deadline
  14 days after sending, the customer's own data first, a named sender, the address and an unsubscribe link,
  dates written "March 4";
* cost: each account's free month at its plan's price (Starter $49, Growth $199).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from langgraph.checkpoint.memory import InMemorySaver

from app.data.db import get_engine
from app.data.queries import data_bounds
from app.outbox import outbox
from app.runtime import Copilot
from app.services import build_services
from app.settings import Settings
from graph.llm.writers import write_email
from graph.nodes.winback import MAX_DRAFTS
from graph.prompts import get_prompts
from graph.tools.deps import ToolDeps
from graph.tools.insights import churn
from graph.tools.marketing import SENDER_NAME, SENDER_ROLE, contexts, email, email_values

from .conftest import offline_settings

WINBACK = "Launch a win-back campaign for churned customers"
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
PLAN_PRICE = {"Starter": 49.0, "Growth": 199.0}
NAMES = {"Lumio", "Growth", "Starter", *(dt.date(2000, m, 1).strftime("%B") for m in range(1, 13))}
"""Capitalised words a sentence-case subject may contain: the brand, plan names, months."""


@pytest.fixture
def winback_settings(tmp_path: Path, seeded_db: Path) -> Settings:
    """Its own copy of the seeded database; no knowledge-base index (the win-back does not search it)."""
    return offline_settings(tmp_path, seeded_db, tmp_path / "home")


@pytest.fixture
def deps(winback_settings: Settings) -> ToolDeps:
    return ToolDeps(engine=get_engine(winback_settings.database_url), settings=winback_settings)


@pytest.fixture
async def copilot(winback_settings: Settings) -> AsyncIterator[Copilot]:
    async with Copilot.open(
        winback_settings, services=build_services(winback_settings), checkpointer=InMemorySaver()
    ) as c:
        yield c


def _accounts(engine: Any) -> dict[str, dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text("select id, status, plan, churned_date, industry, country from customers"))
        return {str(r.id): dict(r._mapping) for r in rows}


def _churned(value: Any) -> dt.date:
    return dt.date.fromisoformat(str(value)[:10])


def _brand(day: dt.date) -> str:
    return f"{day:%B} {day.day}"


def _send_winback(engine: Any, customer_id: str, sent_at: dt.datetime, status: str = "sent") -> None:
    """An outbox row for a win-back email sent to `customer_id` (as `Outbox.deliver` records it)."""
    outbox.create(engine, checkfirst=True)
    with engine.begin() as conn:
        conn.execute(
            outbox.insert().values(
                thread_id="an-earlier-thread",
                campaign_id="an-earlier-campaign",
                customer_id=customer_id,
                name="someone",
                email="someone@example.com",
                subject="Your Lumio data is kept until March 4",
                body="…",
                status=status,
                message_id=f"<{customer_id}@earlier>",
                created_at=sent_at,
                updated_at=sent_at,
                sent_at=sent_at if status == "sent" else None,
            )
        )


def test_selection_is_churned_starter_and_growth_accounts_of_the_last_90_days(deps: ToolDeps):
    accounts = _accounts(deps.engine)
    _, as_of = data_bounds(deps.engine)
    window = [
        cid
        for cid, a in accounts.items()
        if a["status"] == "churned" and as_of - dt.timedelta(days=90) < _churned(a["churned_date"]) <= as_of
    ]
    if not any(accounts[cid]["plan"] == "enterprise" for cid in window):  # the seed ends today: make sure of one
        with deps.engine.begin() as conn:
            conn.execute(sa.text("update customers set plan = 'enterprise' where id = :id"), {"id": window[0]})
        accounts = _accounts(deps.engine)
    expected = {cid for cid in window if accounts[cid]["plan"] in ("starter", "growth")}
    assert len(expected) >= 2 and any(accounts[cid]["plan"] == "enterprise" for cid in window)  # every kind

    result = churn(deps, top_n=MAX_DRAFTS, winback_eligible=True)
    picked = result["data"]["customers"]
    ids = [c["customer_id"] for c in picked]
    assert set(ids) == expected  # every eligible account (fewer than MAX_DRAFTS here), nobody else
    for cid in ids:
        account = accounts[cid]
        assert account["status"] == "churned", f"{cid} is active"
        assert account["plan"] != "enterprise", f"{cid} is Enterprise: its CSM handles the win-back"
        assert (as_of - _churned(account["churned_date"])).days < 90, f"{cid} cancelled more than 90 days ago"
    assert [c["value_12m"] for c in picked] == sorted((c["value_12m"] for c in picked), reverse=True)
    assert all(c["incentive_usd"] == PLAN_PRICE[c["plan"]] for c in picked if c["offer"] == "free_month")
    assert result["data"]["rules"]["enterprise"] >= 1 and "Customer Success Manager" in " ".join(result["facts"])
    assert result["chart"] and result["table"]["rows"]  # same shape as the churn answer

    top = churn(deps, top_n=3, winback_eligible=True)["data"]["customers"]
    assert [c["customer_id"] for c in top] == ids[:3]  # the most valuable first


def test_an_account_sent_a_win_back_in_the_last_12_months_is_left_out(deps: ToolDeps):
    before = [c["customer_id"] for c in churn(deps, top_n=MAX_DRAFTS, winback_eligible=True)["data"]["customers"]]
    recent, long_ago = before[0], before[1]
    now = dt.datetime.now(dt.UTC)
    _send_winback(deps.engine, recent, now - dt.timedelta(days=30))
    _send_winback(deps.engine, long_ago, now - dt.timedelta(days=400))

    result = churn(deps, top_n=MAX_DRAFTS, winback_eligible=True)
    after = [c["customer_id"] for c in result["data"]["customers"]]
    assert recent not in after and long_ago in after and len(after) == len(before) - 1
    assert result["data"]["rules"]["cooldown"] == 1
    assert "already sent a win-back in the last 12 months" in " ".join(result["facts"])
    # Asked for one email by hand, the account gets a reminder of its data, not a second offer.
    [ctx] = contexts(deps, [recent])["data"]["customers"]
    assert ctx["winback"] == "reminder" and ctx["incentive"] is None


def test_an_account_staged_in_another_campaign_is_not_offered_twice(deps: ToolDeps):
    before = [c["customer_id"] for c in churn(deps, top_n=MAX_DRAFTS, winback_eligible=True)["data"]["customers"]]
    staged, dropped = before[0], before[1]
    now = dt.datetime.now(dt.UTC)
    _send_winback(deps.engine, staged, now, status="draft")  # waiting for approval on another thread
    _send_winback(deps.engine, dropped, now, status="dropped")  # left out of that campaign: no offer made
    after = [c["customer_id"] for c in churn(deps, top_n=MAX_DRAFTS, winback_eligible=True)["data"]["customers"]]
    assert staged not in after and dropped in after


def test_a_nonprofit_account_gets_a_reminder_without_an_offer(deps: ToolDeps):
    cid = churn(deps, top_n=1, winback_eligible=True)["data"]["customers"][0]["customer_id"]
    with deps.engine.begin() as conn:
        conn.execute(sa.text("update customers set industry = 'Nonprofit' where id = :id"), {"id": cid})
    [picked] = [
        c for c in churn(deps, top_n=MAX_DRAFTS, winback_eligible=True)["data"]["customers"] if c["customer_id"] == cid
    ]
    assert (picked["offer"], picked["incentive_usd"]) == ("none", 0.0)
    draft = write_email(email(deps, cid)["prompt_vars"])
    assert "free month" not in draft and "discount applies again" in draft and "90 days" in draft


def test_emails_carry_one_incentive_a_real_deadline_a_named_sender_and_an_unsubscribe_link(deps: ToolDeps):
    accounts = _accounts(deps.engine)
    _, as_of = data_bounds(deps.engine)
    ids = [c["customer_id"] for c in churn(deps, top_n=MAX_DRAFTS, winback_eligible=True)["data"]["customers"]]
    for ctx in contexts(deps, ids)["data"]["customers"]:
        account = accounts[ctx["customer_id"]]
        draft = write_email(email_values(ctx))
        subject, body = draft.split("\n\n", 1)
        subject = subject.removeprefix("Subject: ")
        assert len(subject) <= 50 and "!" not in subject and subject[0].isupper()
        assert all(not w[0].isupper() or w in NAMES for w in subject.split()[1:]), subject  # sentence case
        kept = _churned(account["churned_date"]) + dt.timedelta(days=90)
        assert f"Your Lumio data is kept until {_brand(kept)}" in draft  # their own data first
        assert body.startswith(f"Hi {ctx['name'].split()[0]},")
        plan = str(account["plan"]).title()
        # One incentive: a free month of the plan they had, never a hardware discount as well.
        assert body.count("free month") == 1 and f"one free month of your {plan} plan" in body
        assert "%" not in body and "hardware" not in body.lower() and "(or" not in body
        # A real deadline, 14 days after sending but never after the data is deleted (the email promises the
        # dashboards come back), written the brand's way; no ISO dates anywhere.
        assert f"choose a plan by {_brand(min(as_of + dt.timedelta(days=14), kept))}" in body
        assert "end of the month" not in body and not ISO_DATE.search(draft)
        assert "Settings → Billing → Choose plan" in body
        assert f"{SENDER_NAME}\n{SENDER_ROLE}" in body and "Lumio team" not in body
        eu = account["country"] in ("Germany", "Netherlands", "France", "Spain", "Ireland", "Sweden", "Belgium")
        assert ("Lumio B.V., Rotterdam" if eu else "Lumio, Inc., Austin, Texas") in body
        assert body.rstrip().endswith(f"Unsubscribe: https://lumio.io/unsubscribe?customer={ctx['customer_id']}")
        words = len(body.split("→ Choose your plan")[0].split())
        assert 80 <= words <= 150, words  # greeting to call to action


def test_an_active_customer_gets_no_win_back_offer(deps: ToolDeps):
    accounts = _accounts(deps.engine)
    active = next(cid for cid, a in accounts.items() if a["status"] == "active" and a["plan"] == "growth")
    result = email(deps, active)
    assert result["data"]["winback"] == "none" and result["data"]["incentive"] is None
    draft = write_email(result["prompt_vars"])
    assert "free month" not in draft and "offer" not in draft.lower() and not ISO_DATE.search(draft)
    assert SENDER_NAME in draft and "Unsubscribe: https://lumio.io/unsubscribe?customer=" in draft


def test_the_hosted_model_prompt_states_the_same_rules(deps: ToolDeps):
    prompt = get_prompts("marketing").email_draft
    for rule in ("50 characters", "one offer", "hardware", "Settings → Billing → Choose plan", '"March 4"'):
        assert rule in prompt, rule
    assert "The Lumio team" in prompt and "unsubscribe link" in prompt  # named as what not to write / to keep
    cid = churn(deps, top_n=1, winback_eligible=True)["data"]["customers"][0]["customer_id"]
    values = email_values(contexts(deps, [cid])["data"]["customers"][0])
    # The facts a hosted model needs travel in the prompt's values, written the brand's way.
    assert f"{SENDER_NAME}, {SENDER_ROLE}" in values["channel"] and "Unsubscribe: https://" in values["channel"]
    assert "free month" in values["incentive"] and not ISO_DATE.search(values["incentive"] + values["rfm_segment"])


async def test_the_campaign_selects_drafts_and_costs_by_the_policy(copilot: Copilot):
    result = await copilot.ask(WINBACK)
    assert result.route == "sequential:insights,marketing,finance" and result.pending_approval
    state = (await copilot.graph.aget_state({"configurable": {"thread_id": result.thread_id}})).values
    engine = copilot.services.extras["engine"]
    accounts = _accounts(engine)
    _, as_of = data_bounds(engine)
    items = await copilot.outbox_items(result.thread_id)
    assert items and [i.customer_id for i in items] == state["customer_ids"]
    for item in items:
        account = accounts[item.customer_id]
        assert account["status"] == "churned" and account["plan"] in ("starter", "growth")
        assert (as_of - _churned(account["churned_date"])).days < 90
        assert item.subject.startswith("Your Lumio data is kept until") and "Lumio team" not in item.body
        assert "Unsubscribe: https://lumio.io/unsubscribe?customer=" in item.body
    # Finance costs each account's own free month: Starter $49, Growth $199 (the seed has both).
    plans = [str(accounts[i.customer_id]["plan"]).title() for i in items]
    assert {"Starter", "Growth"} <= set(plans)
    expected = sum(PLAN_PRICE[p] for p in plans) * 0.12 + len(items) * 0.05
    assert state["campaign_cost"] == pytest.approx(expected, abs=0.01)
    assert f"${expected:,.0f}" in result.answer


async def test_no_qualifying_account_means_no_emails_and_a_clear_reply(copilot: Copilot):
    engine = copilot.services.extras["engine"]
    with engine.begin() as conn:  # every recent cancellation is an Enterprise account now
        conn.execute(sa.text("update customers set plan = 'enterprise' where status = 'churned'"))
    result = await copilot.ask(WINBACK)
    assert result.route == "sequential:insights,marketing,finance"
    assert not result.pending_approval and result.errors == []
    assert await copilot.outbox_items(result.thread_id) == []
    assert "No account qualifies for a win-back" in result.answer
    assert "No win-back emails drafted" in result.answer


def test_a_cancelled_account_the_policy_leaves_out_gets_no_sales_email(deps: ToolDeps):
    from graph.tools.base import FatalToolError

    with deps.engine.begin() as conn:
        cid = conn.execute(
            sa.text("select id from customers where status = 'churned' order by id limit 1")
        ).scalar_one()
        conn.execute(sa.text("update customers set plan = 'enterprise' where id = :id"), {"id": cid})
    with pytest.raises(FatalToolError, match="no email drafted .* gets no win-back email"):
        email(deps, cid)  # it recommended a battery pack to a cancelled Enterprise account


async def test_accounts_left_out_for_an_earlier_win_back_are_counted_as_sent_or_only_drafted(copilot: Copilot):
    engine = copilot.services.extras["engine"]
    deps = ToolDeps(engine=engine, settings=copilot.services.settings)
    eligible = [c["customer_id"] for c in churn(deps, top_n=500, winback_eligible=True)["data"]["customers"]]
    sent, drafted = eligible[:2], eligible[2:]
    now = dt.datetime.now(dt.UTC)
    for cid in sent:
        _send_winback(engine, cid, now)
    for cid in drafted:  # staged in another thread, never approved
        _send_winback(engine, cid, now, status="draft")

    result = await copilot.ask("Send the win-back emails now")
    assert result.route == "sequential:insights,marketing,finance" and not result.pending_approval
    assert await copilot.outbox_items(result.thread_id) == []
    assert f"Left out: {len(eligible)} accounts with a win-back in the last 12 months" in result.answer
    assert f"{len(sent)} sent, {len(drafted)} drafted and waiting for approval, not sent" in result.answer
    assert f"{len(eligible)} accounts already sent a win-back" not in result.answer
    assert f"{len(drafted)} win-back emails drafted earlier are waiting for approval" in result.answer


async def test_a_win_back_for_a_named_customer_drafts_for_that_customer_only(copilot: Copilot):
    engine = copilot.services.extras["engine"]
    deps = ToolDeps(engine=engine, settings=copilot.services.settings)
    eligible = [c["customer_id"] for c in churn(deps, top_n=500, winback_eligible=True)["data"]["customers"]]
    named = eligible[-1]  # the least valuable: not one the campaign would pick first

    result = await copilot.ask(f"Draft a win-back email for {named}")
    assert result.route == "sequential:insights,marketing,finance" and result.pending_approval
    items = await copilot.outbox_items(result.thread_id)
    assert [i.customer_id for i in items] == [named]
    assert "1 account selected for the win-back" in result.answer


async def test_a_named_customer_the_policy_leaves_out_gets_no_email_and_the_reason(copilot: Copilot):
    engine = copilot.services.extras["engine"]
    deps = ToolDeps(engine=engine, settings=copilot.services.settings)
    named = churn(deps, top_n=1, winback_eligible=True)["data"]["customers"][0]["customer_id"]
    _send_winback(engine, named, dt.datetime.now(dt.UTC))

    result = await copilot.ask(f"Draft a win-back email for {named.lower()}")
    assert result.route == "sequential:insights,marketing,finance" and not result.pending_approval
    assert await copilot.outbox_items(result.thread_id) == []  # nobody else was staged instead
    assert f"No win-back email for {named}: the win-back policy leaves it out" in result.answer
    assert "a win-back was staged or sent on" in result.answer and "that win-back was sent" in result.answer


def test_an_email_with_a_stated_purpose_is_written_for_that_purpose(deps: ToolDeps):
    cid = churn(deps, top_n=1, winback_eligible=True)["data"]["customers"][0]["customer_id"]  # a cancelled account
    result = email(deps, cid, purpose="inviting them to our webinar")
    assert "Purpose: invite you to our webinar (no offer in this email)" in result["facts"]
    values = result["prompt_vars"]
    assert "invite you to our webinar" in values["recommended_product"] and values["incentive"].startswith("none")
    draft = write_email(values)
    first = result["data"]["name"].split()[0]
    assert draft.startswith(f"Subject: An invitation to our webinar\n\nHi {first},\n\n")
    assert "I'm writing to invite you to our webinar." in draft and "→ Save your seat" in draft
    assert "free month" not in draft and "kept until" not in draft and "cancel" not in draft.lower()
    assert not ISO_DATE.search(draft)
    assert f"{SENDER_NAME}\n{SENDER_ROLE}, Lumio" in draft
    assert draft.endswith(f"Unsubscribe: https://lumio.io/unsubscribe?customer={cid}")


async def test_asking_for_an_invitation_email_gets_an_invitation(copilot: Copilot):
    deps = ToolDeps(engine=copilot.services.extras["engine"], settings=copilot.services.settings)
    cid = churn(deps, top_n=1, winback_eligible=True)["data"]["customers"][0]["customer_id"]
    result = await copilot.ask(f"Draft an email to {cid} inviting them to our webinar")
    assert result.route == "marketing" and not result.pending_approval
    assert "Subject: An invitation to our webinar" in result.answer
    assert "invite you to our webinar" in result.answer and "kept until" not in result.answer
    assert f"Unsubscribe: https://lumio.io/unsubscribe?customer={cid}" in result.answer
