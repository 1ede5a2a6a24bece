"""The console's outbox page: a staff member's win-back campaign approved (one drop, one edit) by a reviewer,
sent once, the outcome in the staff member's chat thread; conflicts, CSRF and roles; and the smaller
console and chat fixes (passage similarity, the editable draft, the audit's knowledge-base column, titles)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator

import pytest

from app.web import history
from app.web.review_watch import OUTBOX_AUTHOR, outbox_message_id
from tests.smtp_sink import Inbox, running_inbox
from tests.web.test_history import _thread_for

from .conftest import UNANSWERABLE, Web, form_token, make_settings

WINBACK = "Launch a win-back campaign for churned customers"
EDITED_BODY = "Hi there,\n\nWe kept your dashboards.\nCome back for a month on us.\n\nThe Lumio team"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with running_inbox() as running:
        yield running


@pytest.fixture
async def sending_web(start_web, tmp_path, web_seeded_db, shared_kb, smtp) -> AsyncIterator[Web]:
    settings = make_settings(tmp_path, web_seeded_db, *shared_kb).model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": smtp[1], "smtp_timeout_s": 5.0}
    )
    async with start_web(settings) as running:
        yield running


async def staff_winback(web: Web) -> tuple[str, str, list]:
    """A staff member's win-back, started in a web chat thread (so the thread has a chat history)."""
    import uuid

    thread_id = str(uuid.uuid4())
    await _thread_for(history.data_layer(), "staff", WINBACK, thread_id=thread_id)
    copilot = await web.copilot()
    result = await copilot.ask(WINBACK, thread_id=thread_id, user_id="staff")
    assert result.pending_approval, result.answer
    _, pending = await copilot.pending_approval(thread_id)
    assert len(pending.recipients) >= 3
    return thread_id, pending.campaign_id, pending.recipients


def campaign_card(html: str, thread_id: str) -> str:
    start = html.index(f'id="campaign-{thread_id}"')
    return html[start : html.index("</section>", start)]


async def test_reviewer_approves_a_staff_campaign_with_a_drop_and_an_edit(sending_web: Web, smtp):
    web, inbox = sending_web, smtp[0]
    thread_id, campaign_id, recipients = await staff_winback(web)
    dropped, edited = recipients[0], recipients[1]

    client = await web.login("reviewer")
    page = await client.get("/review/outbox")
    assert page.status_code == 200 and 'href="/review/outbox"' in page.text  # linked from the nav
    card = campaign_card(page.text, thread_id)
    assert "asked by <b>staff</b>" in card and " ago" in card and "ROI" in card and "cost" in card
    for r in recipients:
        assert r.customer_id in card and r.subject in card
    assert re.search(r"plan (Starter|Growth)", card)
    assert "\n" in edited.body and edited.body.split("\n")[0] in card  # the body keeps its line breaks

    data = {
        "csrf_token": form_token(page.text),
        "campaign_id": campaign_id,
        "action": "approve",
        "drop": dropped.customer_id,
        f"subject:{edited.customer_id}": "We kept your dashboards",
        f"body:{edited.customer_id}": EDITED_BODY,
        "note": "one month free",
    }
    response = await client.post(f"/review/outbox/{thread_id}/decide", data=data)
    assert response.status_code == 303, response.text[-2000:]
    done = (await client.get(response.headers["location"])).text
    assert "Win-back campaign of staff approved by reviewer" in done and f"edited: {edited.customer_id}" in done
    assert "The outcome went to staff&#39;s chat." in done
    assert f'id="campaign-{thread_id}"' not in done  # no longer waiting

    copilot = await web.copilot()
    rows = {i.customer_id: i for i in await copilot.outbox.items(thread_id)}
    assert rows[dropped.customer_id].status == "dropped"
    assert rows[edited.customer_id].subject == "We kept your dashboards"
    assert rows[edited.customer_id].body.startswith(EDITED_BODY)  # the compliance footer re-appended after it
    sent = [r for r in rows.values() if r.status == "sent"]
    assert sent and len(inbox.messages) == len(sent)  # each email once
    assert dropped.email and not any(dropped.email in str(m["To"]) for m in inbox.messages)
    subjects = [m["Subject"] for m in inbox.messages]
    assert subjects.count("We kept your dashboards") == 1

    # the staff member's thread: complete, and its chat history holds the outcome once
    assert (await copilot.thread(thread_id))["status"] == "complete"
    thread = await history.data_layer().get_thread(thread_id)
    assert thread is not None
    outcomes = [s for s in thread["steps"] if s["id"] == outbox_message_id(thread_id, campaign_id)]
    assert len(outcomes) == 1 and outcomes[0]["name"] == OUTBOX_AUTHOR
    assert "Win-back campaign · approved by reviewer" in outcomes[0]["output"]

    # a second reviewer with the stale page: told who decided, nothing sent again
    admin = await web.login("admin")
    stale = await admin.get("/review/outbox")
    again = await admin.post(f"/review/outbox/{thread_id}/decide", data={**data, "csrf_token": form_token(stale.text)})
    assert again.status_code == 409
    assert "already approved by reviewer" in again.text and "Nothing was changed." in again.text
    assert len(inbox.messages) == len(sent)


async def test_reject_needs_a_note_then_sends_nothing_and_tells_the_chat(sending_web: Web, smtp):
    web, inbox = sending_web, smtp[0]
    thread_id, campaign_id, _ = await staff_winback(web)
    client = await web.login("admin")
    token = form_token((await client.get("/review/outbox")).text)
    url = f"/review/outbox/{thread_id}/decide"
    base = {"csrf_token": token, "campaign_id": campaign_id, "action": "reject"}
    missing = await client.post(url, data=base)
    assert missing.status_code == 400 and "Say why in the note" in missing.text
    response = await client.post(url, data={**base, "note": "Budget frozen"})
    assert response.status_code == 303
    done = (await client.get(response.headers["location"])).text
    assert "rejected by admin: nothing was sent" in done
    assert not inbox.messages
    thread = await history.data_layer().get_thread(thread_id)
    assert thread is not None
    [outcome] = [s for s in thread["steps"] if s["id"] == outbox_message_id(thread_id, campaign_id)]
    assert "rejected by admin" in outcome["output"] and "Budget frozen" in outcome["output"]


async def test_outbox_forms_are_checked_and_staff_or_forged_posts_change_nothing(sending_web: Web, smtp):
    web = sending_web
    thread_id, campaign_id, recipients = await staff_winback(web)
    url = f"/review/outbox/{thread_id}/decide"

    staff = await web.login("staff")
    assert (await staff.get("/review/outbox")).status_code == 403
    reviewer = await web.login("reviewer")
    forged = await reviewer.post(url, data={"campaign_id": campaign_id, "action": "approve"})
    assert forged.status_code == 403 and "Form expired" in forged.text

    token = form_token((await reviewer.get("/review/outbox")).text)
    every = [r.customer_id for r in recipients]
    response = await reviewer.post(
        url, data={"csrf_token": token, "campaign_id": campaign_id, "action": "approve", "drop": every}
    )
    assert response.status_code == 400 and "use “Reject” instead" in response.text
    assert 'value="' + recipients[0].customer_id + '" checked' in response.text  # the ticks come back

    empty = await reviewer.post(
        url,
        data={
            "csrf_token": token,
            "campaign_id": campaign_id,
            "action": "approve",
            f"body:{recipients[0].customer_id}": " ",
        },
    )
    assert empty.status_code == 400 and "The email is empty" in empty.text
    assert (await (await web.copilot()).pending_approval(thread_id))[1].campaign_id == campaign_id  # still waiting
    assert not smtp[0].messages


async def test_passages_show_similarity_and_the_edit_box_drops_the_offline_tag(web: Web):
    copilot = await web.copilot()
    result = await copilot.ask(UNANSWERABLE, user_id="sam")
    review = await copilot.reviews.get(str(result.review_id))
    assert review is not None and review["draft"].startswith("[offline model]")
    assert all("similarity" in p for p in review["passages"])
    client = await web.login("reviewer")
    html = (await client.get("/review")).text
    section = html[html.index(f'id="{result.review_id}"') :]
    assert re.search(r"similarity 0\.\d\d", section) and "rank score" in section and "score 1.000" not in section
    textarea = section[section.index("<textarea") : section.index("</textarea>")]
    assert "[offline model]" not in textarea and review["draft"].removeprefix("[offline model]").split()[0] in textarea
    # the prefilled text approves as is
    token = form_token(html)
    text = review["draft"].removeprefix("[offline model]").strip()
    response = await client.post(
        f"/review/{result.review_id}/decide", data={"csrf_token": token, "action": "approve", "text": text}
    )
    assert response.status_code == 303


async def test_the_audit_log_shows_an_answer_added_to_the_knowledge_base(start_web, tmp_path, web_seeded_db, fresh_kb):
    async with start_web(make_settings(tmp_path, web_seeded_db, *fresh_kb)) as web:
        copilot = await web.copilot()
        result = await copilot.ask(UNANSWERABLE, user_id="sam")
        client = await web.login("reviewer")
        token = form_token((await client.get("/review")).text)
        response = await client.post(
            f"/review/{result.review_id}/decide",
            data={
                "csrf_token": token,
                "action": "edit",
                "text": "Resellers join the partner programme.",
                "add_to_kb": "1",
            },
        )
        assert response.status_code == 303
        [entry] = await copilot.reviews.audit(str(result.review_id))
        assert str(entry["kb_document"]).startswith("reviewed-answers/")
        audit = (await client.get("/review/audit")).text
        assert "added to knowledge base" in audit and entry["kb_document"] in audit


async def test_sign_in_and_admin_pages_have_neutral_titles(web: Web):
    client = web.client()
    login = (await client.get("/login")).text
    assert "<title>GTM Copilot — sign in</title>" in login and "reviewer console" not in login
    admin = await web.login("admin")
    dashboard = (await admin.get("/admin")).text
    assert "GTM Copilot admin" in dashboard and "reviewer console" not in dashboard


async def test_a_huge_first_message_gives_a_short_thread_name(web: Web):
    import uuid

    from app.web.chat import THREAD_NAME_CHARS, _data_layer, thread_title

    layer = _data_layer()
    user = await layer.create_user(__import__("chainlit").User(identifier="staff"))
    assert user is not None
    thread_id = str(uuid.uuid4())
    await layer.update_thread(thread_id, name="word " * 4200, user_id=user.id)  # as Chainlit names a new thread
    thread = await layer.get_thread(thread_id)
    assert thread is not None and thread["name"] is not None
    assert len(thread["name"]) <= THREAD_NAME_CHARS and thread["name"].endswith("…")
    assert thread_title("Weekly report\nplease") == "Weekly report please"


def test_the_chat_points_staff_to_the_console_not_the_command_line():
    from app.web.chat import approval_text

    notice = (
        "**Nothing has been sent.** 7 emails are waiting in the outbox for approval: approve them all, edit a draft "
        "or drop recipients, or reject the campaign."
    )
    staff = approval_text(notice, may_approve=False)
    assert "gtm outbox" not in staff and "reviewer console at [/review/outbox](/review/outbox)" in staff
    reviewer = approval_text(notice, may_approve=True)
    assert "gtm outbox" not in reviewer and "outbox page of the reviewer console" in reviewer
