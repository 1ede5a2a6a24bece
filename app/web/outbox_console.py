"""The console's outbox page: win-back campaigns waiting for approval, decided by a reviewer.

Routes (reviewer or admin role, POST forms CSRF-protected like the rest of the console):

- `GET /review/outbox` — win-back campaigns waiting for approval across every thread.
- `POST /review/outbox/{thread_id}/decide` — approve (dropping or editing recipients) or reject one.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from app.auth.users import User
from app.outbox import OutboxItem
from app.runtime import Copilot, InvalidDecision, NoPendingApproval, UnknownThread
from app.web.review_console import (
    CopilotDep,
    Keys,
    Reviewer,
    age,
    control_characters,
    page,
    same_text,
    session_csrf,
)
from app.web.review_watch import outbox_lock, record_outbox_in_history
from app.web.session import WebKeys
from graph.review import MAX_NOTE_CHARS, OutboxDecision, OutboxReviewRequest

log = logging.getLogger(__name__)
router = APIRouter()
MAX_SUBJECT_CHARS = 200
"""Longest subject line of an edited win-back email."""
THREAD_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,200}")
"""A thread id as the chat and the API make them (query parameters are only used if they are one)."""


# -- the outbox ------------------------------------------------------------------------------------
def _plans(copilot: Copilot, customer_ids: list[str]) -> dict[str, str]:
    """Each customer's (last) plan, from the business database (blocking: run in a worker thread)."""
    import sqlalchemy as sa

    from app.data.schema import customers

    if not customer_ids:
        return {}
    with copilot.outbox.engine.connect() as conn:
        rows = conn.execute(sa.select(customers.c.id, customers.c.plan).where(customers.c.id.in_(customer_ids)))
        return {str(r.id): str(r.plan or "") for r in rows}


async def _outbox_items(copilot: Copilot) -> list[dict[str, Any]]:
    """Every campaign waiting for approval, oldest first, ready for the template."""
    pending = await copilot.pending_approvals()
    drafts = await copilot.outbox.items(status="draft")
    created: dict[str, datetime] = {}
    for row in drafts:
        if row.created_at is not None:
            key = f"{row.thread_id}\x00{row.campaign_id}"
            created[key] = min(created.get(key, row.created_at), row.created_at)
    ids = [r["customer_id"] for campaign in pending for r in campaign["recipients"]]
    plans = await asyncio.to_thread(_plans, copilot, ids)
    items = []
    for campaign in pending:
        when = created.get(f"{campaign['thread_id']}\x00{campaign['campaign_id']}")
        recipients = [
            {
                **r,
                "plan": plans.get(r["customer_id"], ""),
                "dropped": False,
                "edit_subject": r["subject"],
                "edit_body": r["body"],
                "error": "",
            }
            for r in campaign["recipients"]
        ]
        items.append(
            {
                **campaign,
                "recipients": recipients,
                "created_at": when,
                "age": age(when),
                "note": "",
                "error": "",
                "sendable": sum(1 for r in recipients if r["email"]),
            }
        )
    items.sort(key=lambda c: c["created_at"] or datetime.max.replace(tzinfo=UTC))
    return items


async def _outbox_page(
    request: Request,
    keys: WebKeys,
    user: User,
    copilot: Copilot,
    *,
    notices: list[tuple[str, str]] | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
    page_url: str = "",
) -> HTMLResponse:
    """The outbox page; `page_url` is the GET address a page answering a POST puts in the address bar."""
    items = await _outbox_items(copilot)
    if form:  # the reviewer's input comes back after an error, never lost
        for item in items:
            if item["thread_id"] != form["thread_id"] or item["campaign_id"] != form["campaign_id"]:
                continue
            item.update(note=form["note"], error=form["error"])
            for r in item["recipients"]:
                cid = r["customer_id"]
                r["dropped"] = cid in form["drop"]
                r["edit_subject"] = form["subjects"].get(cid, r["subject"])
                r["edit_body"] = form["bodies"].get(cid, r["body"])
                r["error"] = form["recipient_errors"].get(cid, "")
    context = {"user": user, "page": "outbox", "items": items, "notices": notices or [], "page_url": page_url}
    return page(request, "outbox.html", context, keys, status_code)


def _campaign_summary(items: list[OutboxItem]) -> dict[str, Any]:
    """Who decided a campaign, when, how, and its rows' counts (from its outbox rows)."""
    decided = [i for i in items if i.decided_by]
    counts: dict[str, int] = {}
    for i in items:
        counts[i.status] = counts.get(i.status, 0) + 1
    rejected = bool(items) and all(i.status == "dropped" for i in items)
    when = max((i.updated_at for i in decided if i.updated_at), default=None)
    return {
        "decided_by": decided[0].decided_by if decided else None,
        "note": decided[0].note if decided else None,
        "at": when,
        "verb": "rejected" if rejected else "approved",
        "counts": counts,
        "edited": sorted(i.customer_id for i in items if i.original_body is not None),
    }


async def _outbox_conflict_text(copilot: Copilot, thread_id: str, campaign_id: str) -> str:
    rows = [i for i in await copilot.outbox.items(thread_id) if not campaign_id or i.campaign_id == campaign_id]
    summary = _campaign_summary(rows)
    if summary["decided_by"]:
        at = f" at {summary['at']:%H:%M} UTC" if isinstance(summary["at"], datetime) else ""
        return (
            f"This win-back campaign was already {summary['verb']} by {summary['decided_by']}{at} "
            "(in the chat, the console or the command line). Nothing was changed."
        )
    return "This win-back campaign is no longer waiting for approval. Nothing was changed."


def _outbox_done_notices(
    requester: str, rows: list[OutboxItem], footer: list[str], reviewer: str
) -> list[tuple[str, str]]:
    summary = _campaign_summary(rows)
    if not summary["decided_by"]:
        return []
    counts = summary["counts"]
    if summary["verb"] == "rejected":
        text = f"Win-back campaign of {requester} rejected by {summary['decided_by']}: nothing was sent."
    else:
        parts = [f"{counts.get('sent', 0)} sent"]
        for status in ("failed", "approved", "sending", "dropped"):
            if counts.get(status):
                parts.append(f"{counts[status]} {'not sent yet' if status == 'approved' else status}")
        if summary["edited"]:
            parts.append(f"edited: {', '.join(summary['edited'][:10])}")
        text = f"Win-back campaign of {requester} approved by {summary['decided_by']}: {', '.join(parts)}."
    text += f" The outcome went to {requester}'s chat."
    notices = [("ok" if summary["decided_by"] == reviewer else "warn", text)]
    if footer:
        notices.append(
            (
                "warn",
                f"Your edit for {', '.join(footer[:10])} lacked part of the compliance footer: it was re-appended.",
            )
        )
    if counts.get("failed"):
        notices.append(("warn", "Some emails failed; `gtm outbox retry` sends them again (never one already sent)."))
    return notices


@router.get("/review/outbox", response_class=HTMLResponse)
async def outbox_queue(
    request: Request,
    keys: Keys,
    user: Reviewer,
    copilot: CopilotDep,
    done: str = "",
    campaign: str = "",
    requester: str = "",
    footer: str = "",
    conflict: str = "",
) -> HTMLResponse:
    """Win-back campaigns waiting for approval across all threads (after a decision, with what happened)."""
    notices: list[tuple[str, str]] = []
    if conflict and THREAD_ID_RE.fullmatch(conflict):
        rows = [i for i in await copilot.outbox.items(conflict) if i.campaign_id == campaign]
        if rows and not any(i.status == "draft" for i in rows):  # decided: say who won (a reload sends nothing)
            notices.append(("bad", await _outbox_conflict_text(copilot, conflict, campaign[:200])))
    if done and THREAD_ID_RE.fullmatch(done):
        rows = [i for i in await copilot.outbox.items(done) if i.campaign_id == campaign]
        known = {i.customer_id for i in rows}
        edited = [c for c in footer.split(",")[:50] if c in known]
        notices = _outbox_done_notices(requester[:200] or "the requester", rows, edited, user.username)
    return await _outbox_page(request, keys, user, copilot, notices=notices)


@router.get("/review/outbox/{thread_id}/decide", response_model=None)
async def decide_outbox_address(thread_id: str, user: Reviewer) -> RedirectResponse:
    """The form's address opened with GET (reloaded, bookmarked, typed): the outbox page, not a 405."""
    return RedirectResponse("/review/outbox", status_code=303)


def _outbox_form(thread_id: str, campaign_id: str, data: Any, recipients: list[str]) -> dict[str, Any]:
    """The outbox form's fields (line breaks normalised), for the decision and for showing it again."""

    def text(name: str) -> str | None:
        value = data.get(name)
        return value.replace("\r\n", "\n").replace("\r", "\n") if isinstance(value, str) else None

    return {
        "thread_id": thread_id,
        "campaign_id": campaign_id,
        "note": (text("note") or "")[:MAX_NOTE_CHARS],
        "drop": {d for d in data.getlist("drop") if isinstance(d, str)},
        "subjects": {c: v for c in recipients if (v := text(f"subject:{c}")) is not None},
        "bodies": {c: v for c in recipients if (v := text(f"body:{c}")) is not None},
        "error": "",
        "recipient_errors": {},
    }


def _outbox_edits(form: dict[str, Any], pending: OutboxReviewRequest, max_chars: int) -> dict[str, str]:
    """The edited emails (`Subject: ...` then the body) of the recipients not dropped; errors go into `form`."""
    edits: dict[str, str] = {}
    errors: dict[str, str] = form["recipient_errors"]
    for r in pending.recipients:
        cid = r.customer_id
        if cid in form["drop"]:
            continue
        subject = " ".join(form["subjects"].get(cid, r.subject).split())
        body = form["bodies"].get(cid, r.body).strip()
        if subject == r.subject and same_text(body, r.body):
            continue
        if not body:
            errors[cid] = "The email is empty: write it, or tick “drop” to leave this customer out."
        elif len(body) > max_chars:
            errors[cid] = f"The email is {len(body):,} characters long; the limit is {max_chars:,}."
        elif len(subject) > MAX_SUBJECT_CHARS:
            errors[cid] = f"The subject is {len(subject):,} characters long; the limit is {MAX_SUBJECT_CHARS}."
        elif bad := control_characters(subject + body):
            errors[cid] = f"The email contains control characters ({', '.join(bad[:5])})."
        else:
            edits[cid] = f"Subject: {subject or r.subject}\n\n{body}"
    return edits


@router.post("/review/outbox/{thread_id}/decide", response_model=None, dependencies=[Depends(session_csrf)])
async def decide_outbox(
    thread_id: str,
    request: Request,
    keys: Keys,
    user: Reviewer,
    copilot: CopilotDep,
) -> Response:
    """Approve a campaign (all, or all but the dropped recipients, with edits) or reject it, then send.

    Resumes the requester's paused win-back run with a typed `OutboxDecision` (it sends the approved
    emails) and writes the outcome into the requester's chat history.
    """
    data = await request.form()
    action = str(data.get("action") or "")
    campaign_id = str(data.get("campaign_id") or "")[:200]
    form = _outbox_form(thread_id, campaign_id, data, [])

    async def again(level: str, message: str, status_code: int) -> HTMLResponse:
        notices = [(level, message)] if message else []
        # The address becomes a GET one, so a reload never sends the decision again (a conflict's says who won).
        url = "/review/outbox"
        if status_code == 409 and THREAD_ID_RE.fullmatch(thread_id):
            url += f"?conflict={quote(thread_id)}&campaign={quote(campaign_id)}"
        return await _outbox_page(
            request, keys, user, copilot, notices=notices, form=form, status_code=status_code, page_url=url
        )

    if not THREAD_ID_RE.fullmatch(thread_id):
        return await again("bad", "There is no such conversation.", 404)
    if action not in ("approve", "reject"):
        return await again("bad", "Choose “Approve and send” or “Reject”.", 400)
    async with outbox_lock(thread_id):  # a second reviewer waits here, then reads who won
        try:
            _, pending = await copilot.pending_approval(thread_id)
        except UnknownThread:
            return await again("bad", "There is no such conversation.", 404)
        except NoPendingApproval:
            return await again("bad", await _outbox_conflict_text(copilot, thread_id, campaign_id), 409)
        if pending.campaign_id != campaign_id:
            text = await _outbox_conflict_text(copilot, thread_id, campaign_id)
            return await again("bad", f"{text} The campaign waiting now is a newer one: review it below.", 409)
        form = _outbox_form(thread_id, campaign_id, data, [r.customer_id for r in pending.recipients])
        note = form["note"].strip() or None
        if note and (bad := control_characters(note)):
            form["error"] = f"The note contains control characters ({', '.join(bad[:5])})."
            return await again("", "", 400)
        known = {r.customer_id for r in pending.recipients}
        drop = sorted(form["drop"] & known)
        if action == "reject":
            if not note:
                form["error"] = "Say why in the note: the requester reads it in their chat."
                return await again("", "", 400)
            decision = OutboxDecision(action="reject", reviewer=user.username, note=note)
        else:
            if len(drop) == len(known):
                form["error"] = "Every recipient is dropped, so nothing would be sent: use “Reject” instead."
                return await again("", "", 400)
            edits = _outbox_edits(form, pending, copilot.settings.max_request_chars)
            if form["recipient_errors"]:
                form["error"] = "Some emails need a correction (see below); nothing was sent."
                return await again("", "", 400)
            try:
                decision = OutboxDecision(
                    action="approve_some" if drop else "approve_all",
                    drop=drop,
                    edits=edits,
                    reviewer=user.username,
                    note=note,
                )
            except ValidationError as exc:
                form["error"] = str(exc.errors()[0]["msg"]).removeprefix("Value error, ") + "."
                return await again("", "", 400)
        footer = await copilot.outbox.footer_gaps(decision.edits) if decision.edits else {}
        try:
            result = await copilot.decide_outbox(thread_id, decision)
        except NoPendingApproval:
            return await again("bad", await _outbox_conflict_text(copilot, thread_id, campaign_id), 409)
        except InvalidDecision as exc:
            return await again("bad", str(exc), 400)
        except Exception as exc:  # noqa: BLE001 - shown as a message; the outbox says what was sent
            log.exception("applying the outbox decision on %s failed", thread_id)
            detail = " ".join(str(exc).split())[:200]
            return await again("bad", f"The decision could not be applied ({detail}). Check `gtm outbox list`.", 500)
    rows = [i for i in await copilot.outbox.items(thread_id) if i.campaign_id == campaign_id]
    summary = _campaign_summary(rows)
    if summary["decided_by"] != user.username:  # another process decided first: its run reported the outcome
        return await again("bad", await _outbox_conflict_text(copilot, thread_id, campaign_id), 409)
    log.info("outbox of %s: %s by %s", thread_id, decision.action, user.username)
    try:  # for a requester who is away; a live chat posts the same message (same id) only once
        await record_outbox_in_history(
            thread_id, campaign_id, decision.action, user.username, result.answer, decision.note
        )
    except Exception:  # noqa: BLE001 - the decision stands; a watching chat still shows it
        log.exception("writing the outbox outcome of %s to the chat history failed", thread_id)
    query = f"done={quote(thread_id)}&campaign={quote(campaign_id)}&requester={quote(pending.requester)}"
    if footer:
        query += f"&footer={quote(','.join(sorted(footer)))}"
    return RedirectResponse(f"/review/outbox?{query}", status_code=303)
