"""The reviewer console: sign-in, the queue of pending escalations, decisions and the audit log.

Routes (all HTML, all POST forms CSRF-protected):

- `GET/POST /login`, `GET/POST /logout` — the session is the chat's own cookie (`app.web.session`).
- `GET /review` — pending escalations across every thread (reviewer or admin role).
- `POST /review/{review_id}/decide` — approve / edit / reject; resumes the paused graph and optionally
  adds the answer to the knowledge base, then redirects to the queue (POST/redirect/GET). A page shown
  in answer to the POST (a conflict, a form error) sets the address to its GET URL (`page_url`), so a
  reload never sends the decision again; a conflict's URL (`/review?conflict=R-...`) says who won.
  `GET /review/{review_id}/decide` (a bookmarked or reloaded form address) redirects to the queue.
- `GET /review/outbox`, `POST /review/outbox/{thread_id}/decide` — the outbox page (`app.web.outbox_console`).
- `GET /review/audit` — who decided what, when, and what changed.

Everything that blocks (bcrypt, SQL, embedding) runs in worker threads; the Copilot's own methods are
async. `install(app)` adds the router and the handlers that turn auth failures into pages.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import re
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape
from pydantic import ValidationError

from app.auth.users import User, UserStore
from app.kb.reviewed import add_reviewed_answer
from app.reviews import ReviewConflict
from app.runtime import Copilot, UnknownReview
from app.tickets import TicketStore
from app.web.copilot_holder import get_copilot, get_ticket_store, get_user_store
from app.web.review_watch import (
    answer_same_questions_in_chat,
    record_in_history,
)
from app.web.session import (
    WebKeys,
    csrf_token,
    csrf_valid,
    end_session,
    login_csrf_token,
    login_nonce,
    session_claims,
    session_username,
    set_login_nonce,
    start_session,
)
from graph.llm.writers import OFFLINE_TAG
from graph.review import ALLOWED, MAX_NOTE_CHARS, ReviewDecision

if TYPE_CHECKING:
    from app.settings import Settings

log = logging.getLogger(__name__)
REVIEW_ID_RE = re.compile(r"R-\d{5,}")
"""A review id as `app.reviews` numbers them (query parameters are only shown if they are one)."""

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
"""Jinja2 templates next to this module (autoescaped)."""

REVIEW_ROLES_TEXT = "reviewer or admin"
AUDIT_LIMIT = 200
"""Most audit entries shown."""
MIN_INLINE_DIFF_RATIO = 0.5
"""Below this word-level similarity the audit shows before and after whole instead of an inline diff."""

router = APIRouter()


# -- failures that become pages ------------------------------------------------------------------
class LoginRequired(Exception):
    """Nobody (valid) is signed in: send the browser to the sign-in form."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class NotAllowed(Exception):
    """Signed in, but the role does not allow this page."""

    def __init__(self, user: User) -> None:
        super().__init__(user.username)
        self.user = user


class CsrfFailed(Exception):
    """A POST form without a valid CSRF token."""


# -- dependencies --------------------------------------------------------------------------------
def web_keys(request: Request) -> WebKeys:
    """The app's session and CSRF keys (set by `create_app`)."""
    keys: WebKeys = request.app.state.web_keys
    return keys


async def copilot_dep() -> Copilot:
    """The process's Copilot."""
    return await get_copilot()


async def users_dep() -> UserStore:
    """The account store."""
    return await get_user_store()


async def tickets_dep() -> TicketStore:
    """The ticket API."""
    return await get_ticket_store()


async def current_user(request: Request, users: Annotated[UserStore, Depends(users_dep)]) -> User | None:
    """The signed-in, enabled account (re-read from the database on every request), or `None`."""
    claims = session_claims(request)
    if claims is None:
        return None
    user = await users.aget(claims[0])
    return user if user is not None and user.session_valid(claims[1]) else None


async def reviewer_user(request: Request, user: Annotated[User | None, Depends(current_user)]) -> User:
    """The signed-in account if it may review; otherwise redirect to sign-in (anonymous) or refuse (staff)."""
    if user is None:
        raise LoginRequired(request.url.path if request.method == "GET" else "/review")
    if not user.can_review:
        raise NotAllowed(user)
    return user


async def session_csrf(
    request: Request,
    keys: Annotated[WebKeys, Depends(web_keys)],
    csrf_token: Annotated[str | None, Form()] = None,
) -> None:
    """Refuse a POST whose form token does not belong to this session."""
    if not csrf_valid(keys, request, csrf_token):
        raise CsrfFailed()


Reviewer = Annotated[User, Depends(reviewer_user)]
Keys = Annotated[WebKeys, Depends(web_keys)]
CopilotDep = Annotated[Copilot, Depends(copilot_dep)]
Tickets = Annotated[TicketStore, Depends(tickets_dep)]


# -- helpers -------------------------------------------------------------------------------------
def safe_next(value: str | None, default: str = "/review") -> str:
    """A local path to go to after sign-in (other hosts, `//host` and backslashes give `default`)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or "\n" in value:
        return default
    return value


def age(created: datetime | str | None, now: datetime | None = None) -> str:
    """How long ago, in words: `just now`, `12 min`, `3 h`, `2 days`."""
    if created is None:
        return "?"
    when = datetime.fromisoformat(created) if isinstance(created, str) else created
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = max(0.0, ((now or datetime.now(UTC)) - when).total_seconds())
    if seconds < 60:
        return "under a minute"
    if seconds < 3600:
        return f"{int(seconds // 60)} min"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h"
    days = int(seconds // 86400)
    return f"{days} day{'s' if days != 1 else ''}"


def word_diff(before: str | None, after: str | None) -> Markup:
    """`before` → `after` as HTML, removed words in `<del>`, added words in `<ins>` (both escaped)."""
    a, b = (before or "").split(), (after or "").split()
    if a == b:
        return Markup('<span class="muted">unchanged: </span>') + escape(" ".join(b))
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    if matcher.ratio() < MIN_INLINE_DIFF_RATIO:  # rewritten: before and after read better whole
        return Markup('<div class="change"><div><del>%s</del></div><div><ins>%s</ins></div></div>') % (
            " ".join(a),
            " ".join(b),
        )
    out: list[Markup] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op in ("delete", "replace"):
            out.append(Markup("<del>%s</del>") % " ".join(a[i1:i2]))
        if op in ("insert", "replace"):
            out.append(Markup("<ins>%s</ins>") % " ".join(b[j1:j2]))
        if op == "equal":
            out.append(escape(" ".join(a[i1:i2])))
    return Markup(" ").join(out)


def editable_draft(draft: str) -> str:
    """The draft as the reviewer edits it: without the offline model's tag (an edit is the reviewer's words).

    Citations (`[doc.md]`) stay: an edited answer cites a document only where its text names it.
    """
    return draft.strip().removeprefix(OFFLINE_TAG).lstrip()


def control_characters(text: str) -> list[str]:
    """The control characters of `text` a reviewer may not send (tab and line breaks are fine)."""
    return sorted({f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in ("Cc", "Cs")} - ALLOWED)


def same_text(a: str, b: str) -> bool:
    """Equal up to whitespace (what a browser does to a textarea)."""
    return a.split() == b.split()


def page(
    request: Request, template: str, context: dict[str, Any], keys: WebKeys, status_code: int = 200
) -> HTMLResponse:
    """Render a template with the CSRF token of this session."""
    data = {"csrf_token": csrf_token(keys, request), "user": None, **context}
    return TEMPLATES.TemplateResponse(request, template, data, status_code=status_code)


def message_page(
    request: Request,
    keys: WebKeys,
    heading: str,
    message: str,
    *,
    status_code: int,
    user: User | None = None,
    detail: str = "",
    links: list[tuple[str, str]] | None = None,
) -> HTMLResponse:
    """A short page that explains a refusal or an error, with where to go next."""
    context = {"heading": heading, "message": message, "detail": detail, "links": links or [], "user": user}
    return page(request, "message.html", context, keys, status_code)


# -- sign-in ---------------------------------------------------------------------------------------
def _login_page(
    request: Request,
    keys: WebKeys,
    *,
    next_path: str,
    error: str = "",
    username: str = "",
    status_code: int = 200,
    signed_out: bool = False,
) -> HTMLResponse:
    nonce = login_nonce(request)
    context = {
        "login_csrf": login_csrf_token(keys, nonce),
        "next": next_path,
        "error": error,
        "username": username,
        "signed_in_as": session_username(request),
        "signed_out": signed_out,
    }
    response = page(request, "login.html", context, keys, status_code)
    set_login_nonce(response, nonce)
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, keys: Keys, next: str = "", signed_out: bool = False) -> HTMLResponse:
    """The sign-in form."""
    return _login_page(request, keys, next_path=safe_next(next, ""), signed_out=signed_out)


@router.post("/login", response_model=None)
async def login(
    request: Request,
    keys: Keys,
    users: Annotated[UserStore, Depends(users_dep)],
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    """Check the password (in a worker thread) and start a session; the same cookie signs in to the chat."""
    if not csrf_valid(keys, request, csrf_token, login=True):
        return _login_page(
            request,
            keys,
            next_path=safe_next(next, ""),
            username=username,
            error="The sign-in form expired. Please try again.",
            status_code=403,
        )
    user = await users.aauthenticate(username, password)
    if user is None:
        known = bool(username) and await users.aget(username) is not None
        # Never log an unknown name: it is often a password typed into the wrong field.
        log.info("failed sign-in for %s", repr(username[:64]) if known else "an unknown account")
        return _login_page(
            request,
            keys,
            next_path=safe_next(next, ""),
            username=username,
            error="Wrong username or password.",
            status_code=401,
        )
    target = safe_next(next, "/review" if user.can_review else "/chat")
    response = RedirectResponse(target, status_code=303)
    start_session(request, response, user.username, user.role)
    log.info("%s signed in (%s)", user.username, user.role)
    return response


@router.get("/logout", response_class=HTMLResponse)
async def logout_form(
    request: Request, keys: Keys, user: Annotated[User | None, Depends(current_user)]
) -> HTMLResponse:
    """Ask before signing out (signing out is a POST, so it cannot be triggered by a link)."""
    return page(request, "logout.html", {"user": user}, keys)


@router.post("/logout", dependencies=[Depends(session_csrf)])
async def logout(
    request: Request,
    users: Annotated[UserStore, Depends(users_dep)],
    user: Annotated[User | None, Depends(current_user)],
) -> RedirectResponse:
    """End the session (chat and console), and every other web session of the account.

    A copied or forgotten cookie stops working too.
    """
    response = RedirectResponse("/login?signed_out=1", status_code=303)
    end_session(request, response)
    if user is not None:
        await asyncio.to_thread(users.end_sessions, user.username)
    return response


# -- the queue -------------------------------------------------------------------------------------
async def _queue_items(copilot: Copilot, tickets: TicketStore) -> list[dict[str, Any]]:
    pending = await copilot.pending_reviews()
    ids = [r["review_id"] for r in pending]
    linked = await asyncio.to_thread(lambda: {rid: tickets.by_review(rid) for rid in ids})
    threshold = copilot.settings.confidence_threshold
    gaps = await copilot.review_gaps(pending)
    items = []
    for review in pending:
        confidence = float(review.get("confidence") or 0.0)
        items.append(
            {
                **review,
                "confidence": confidence,
                "confidence_class": "low" if confidence < threshold / 2 else "mid",
                "age": age(review.get("created_at")),
                "ticket": linked.get(review["review_id"]),
                "text": editable_draft(review["draft"]),
                "note": "",
                "add_to_kb": False,
                "error": "",
                "open_passages": False,
                "gaps": gaps.get(review["review_id"]),
            }
        )
    return items


async def _queue_page(
    request: Request,
    keys: WebKeys,
    user: User,
    copilot: Copilot,
    tickets: TicketStore,
    *,
    notices: list[tuple[str, str]] | None = None,
    form: dict[str, Any] | None = None,
    status_code: int = 200,
    page_url: str = "",
) -> HTMLResponse:
    """The queue; `page_url` is the GET address a page answering a POST puts in the address bar."""
    items = await _queue_items(copilot, tickets)
    if form:
        for item in items:
            if item["review_id"] == form["review_id"]:
                item.update({k: v for k, v in form.items() if k != "review_id"}, open_passages=True)
    context = {
        "user": user,
        "page": "queue",
        "items": items,
        "notices": notices or [],
        "threshold": copilot.settings.confidence_threshold,
        "page_url": page_url,
    }
    return page(request, "review.html", context, keys, status_code)


async def _done_notice(copilot: Copilot, tickets: TicketStore, review_id: str, kb_doc: str) -> tuple[str, str] | None:
    review = await copilot.reviews.get(review_id)
    if review is None or review["status"] != "decided":
        return None
    verb = {"approve": "approved", "edit": "edited", "reject": "rejected"}.get(str(review["decision"]), "decided")
    text = f"{review_id} {verb} by {review['decided_by']}; the answer went to {review['requester']}'s chat."
    ticket = await asyncio.to_thread(tickets.by_review, review_id)
    if ticket:
        text += f" Ticket #{ticket['id']} is {ticket['status']}."
    if kb_doc:
        text += f" Added to the knowledge base as {kb_doc}."
    return ("ok", text)


@router.get("/review", response_class=HTMLResponse)
async def review_queue(
    request: Request,
    keys: Keys,
    user: Reviewer,
    copilot: CopilotDep,
    tickets: Tickets,
    done: str = "",
    kb: str = "",
    kb_error: bool = False,
    also: str = "",
    conflict: str = "",
) -> HTMLResponse:
    """Pending escalations across all threads (after a decision, with what happened to it or who won)."""
    notices: list[tuple[str, str]] = []
    if REVIEW_ID_RE.fullmatch(conflict):
        review = await copilot.reviews.get(conflict)
        if review is not None and review["status"] != "pending":
            notices.append(("bad", await _conflict_text(copilot, conflict, "it is no longer pending.")))
    if done:
        is_doc = bool(kb) and await asyncio.to_thread(_is_kb_document, copilot.settings, kb)
        doc = kb[:300] if is_doc else ""
        notice = await _done_notice(copilot, tickets, done[:32], doc)
        if notice:
            notices.append(notice)
        if notice and kb_error:
            notices.append(("warn", "The answer was sent, but adding it to the knowledge base failed (see the log)."))
        answered = [r for r in also.split(",")[:20] if REVIEW_ID_RE.fullmatch(r)]
        if notice and answered:
            notices.append(
                ("ok", f"The same question was also waiting in {', '.join(answered)}: answered the same way.")
            )
    return await _queue_page(request, keys, user, copilot, tickets, notices=notices)


def _is_kb_document(settings: Settings, name: str) -> bool:
    """Whether `name` is a document of the knowledge base (query parameters are only shown if true)."""
    from app.kb.service import get_knowledge_base

    if len(name) > 300 or "\x00" in name:
        return False
    return get_knowledge_base(settings).document_path(name) is not None


async def _conflict_text(copilot: Copilot, review_id: str, fallback: str) -> str:
    review = await copilot.reviews.get(review_id)
    if review and review["status"] == "decided":
        verb = {"approve": "approved", "edit": "edited", "reject": "rejected"}.get(str(review["decision"]), "decided")
        when = review["decided_at"]
        at = f" at {when:%H:%M} UTC" if isinstance(when, datetime) else ""
        return f"{review_id} was already decided by {review['decided_by']} ({verb}{at}). Nothing was changed."
    if review and review["status"] == "deciding":
        return f"{review_id} is being decided by {review['decided_by']} right now. Nothing was changed."
    return f"{review_id}: {fallback}"


@router.post("/review/{review_id}/decide", response_model=None, dependencies=[Depends(session_csrf)])
async def decide(
    review_id: str,
    request: Request,
    keys: Keys,
    user: Reviewer,
    copilot: CopilotDep,
    tickets: Tickets,
    action: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    add_to_kb: Annotated[bool, Form()] = False,
) -> Response:
    """Apply a decision: resume the paused thread with a typed `ReviewDecision`, then optionally add to the KB."""
    form = {"review_id": review_id, "text": text, "note": note, "add_to_kb": add_to_kb}

    async def again(
        level: str, message: str, status_code: int, field_error: str = "", page_url: str = "/review"
    ) -> HTMLResponse:
        notices = [(level, message)] if message else []
        return await _queue_page(
            request,
            keys,
            user,
            copilot,
            tickets,
            notices=notices,
            form={**form, "error": field_error},
            status_code=status_code,
            page_url=page_url,
        )

    review = await copilot.reviews.get(review_id)
    if review is None:
        return await again("bad", f"There is no review {review_id[:40]}.", 404)
    if action not in ("approve", "edit", "reject"):
        return await again("bad", "Choose approve, send edited answer or reject.", 400)
    limit = copilot.settings.max_request_chars
    if len(text) > limit:
        return await again("", "", 400, f"The answer is {len(text):,} characters long; the limit is {limit:,}.")
    unchanged = same_text(text, review["draft"]) or same_text(text, editable_draft(review["draft"]))
    if action == "approve" and text.strip() and not unchanged:
        return await again(
            "", "", 400, "You changed the draft: use “Send edited answer” to send your version, or reload to undo."
        )
    try:
        decision = ReviewDecision(
            action=action,  # type: ignore[arg-type]  # checked above
            text=text.strip() if action == "edit" else None,
            note=note.strip() or None,
            reviewer=user.username,
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["loc"] == ("note",) and not message.startswith("the note"):
            message = f"the note: {message.lower()} (it holds up to {MAX_NOTE_CHARS:,})"
        form["note"] = note[:MAX_NOTE_CHARS]  # shown again, never echoed whole
        return await again("", "", 400, message[:1].upper() + message[1:] + ".")
    try:
        result = await copilot.decide(review_id, decision)
    except ReviewConflict as exc:  # the address becomes /review?conflict=...: a reload shows who won, sends nothing
        text = await _conflict_text(copilot, review_id, str(exc))
        return await again("bad", text, 409, page_url=f"/review?conflict={quote(review_id)}")
    except UnknownReview:
        return await again("bad", f"There is no review {review_id[:40]}.", 404)
    except Exception as exc:  # noqa: BLE001 - the claim was released: the review is still pending
        log.exception("applying the decision on %s failed", review_id)
        detail = " ".join(str(exc).split())[:200]
        return await again(
            "bad", f"The decision on {review_id} could not be applied ({detail}); it is still pending.", 500
        )
    log.info("%s: %s by %s", review_id, action, user.username)
    try:  # for a requester who is away; a live chat posts the same message (same id) only once
        await record_in_history({**review, "decided_by": user.username}, result.answer)
    except Exception:  # noqa: BLE001 - the decision stands; the chat still shows it when watching
        log.exception("writing the outcome of %s to the chat history failed", review_id)

    target = f"/review?done={quote(review_id)}"
    if add_to_kb and action != "reject":
        try:
            doc = await add_reviewed_answer(copilot.settings, review_id, review["question"], result.answer)
            target += f"&kb={quote(doc)}"
            await copilot.reviews.record_kb_document(review_id, doc)
        except Exception:  # noqa: BLE001 - the decision stands; the page says the KB step failed
            log.exception("adding %s to the knowledge base failed", review_id)
            target += "&kb_error=1"
        else:
            also = await answer_same_questions_in_chat(copilot, review, result.answer, user.username)
            if also:
                target += f"&also={quote(','.join(also))}"
    return RedirectResponse(target, status_code=303)


@router.get("/review/{review_id}/decide", response_model=None)
async def decide_address(review_id: str, user: Reviewer) -> RedirectResponse:
    """The form's address opened with GET (reloaded, bookmarked, typed): the queue, not a 405."""
    return RedirectResponse("/review", status_code=303)


# -- audit -----------------------------------------------------------------------------------------
@router.get("/review/audit", response_class=HTMLResponse)
async def audit_log(
    request: Request, keys: Keys, user: Reviewer, copilot: CopilotDep, tickets: Tickets
) -> HTMLResponse:
    """Every decision, newest first: who, when, action, before → after, note."""
    entries = (await copilot.reviews.audit())[-AUDIT_LIMIT:][::-1]
    reviews = {r["review_id"]: r for r in await copilot.reviews.list(None)}
    ids = list(dict.fromkeys(e["review_id"] for e in entries))
    linked = await asyncio.to_thread(lambda: {rid: tickets.by_review(rid) for rid in ids})
    rows = []
    for e in entries:
        review = reviews.get(e["review_id"], {})
        ticket = linked.get(e["review_id"])
        at = e["at"]
        rows.append(
            {
                **e,
                "when": f"{at:%Y-%m-%d %H:%M:%S}" if isinstance(at, datetime) else str(at),
                "question": review.get("question", ""),
                "requester": review.get("requester", ""),
                "ticket": ticket["id"] if ticket else None,
                "diff": word_diff(e.get("before_text"), e.get("after_text")),
            }
        )
    return page(request, "audit.html", {"user": user, "page": "audit", "entries": rows}, keys)


# -- wiring ----------------------------------------------------------------------------------------
def install(app: FastAPI, keys: WebKeys) -> None:
    """Add the console's routes to `app`, with pages for "sign in first", "not allowed" and "form expired"."""
    app.state.web_keys = keys

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?next={quote(exc.next_path)}", status_code=303)

    @app.exception_handler(NotAllowed)
    async def _not_allowed(request: Request, exc: NotAllowed) -> Response:
        return message_page(
            request,
            keys,
            "Reviewers only",
            f"You are signed in as {exc.user.username} with the {exc.user.role} role. "
            f"The reviewer console needs the {REVIEW_ROLES_TEXT} role.",
            detail="An admin can give you the reviewer role from the command line (gtm users).",
            status_code=403,
            user=exc.user,
            links=[("/chat", "Back to the chat"), ("/logout", "Sign in as someone else")],
        )

    @app.exception_handler(CsrfFailed)
    async def _csrf_failed(request: Request, exc: CsrfFailed) -> Response:
        return message_page(
            request,
            keys,
            "Form expired",
            "That form was not sent from this session (its security token is missing or out of date), "
            "so nothing was changed.",
            detail="Reload the page and try again.",
            status_code=403,
            links=[("/review", "Back to the queue"), ("/login", "Sign in")],
        )

    app.include_router(router)
    from app.web.outbox_console import router as outbox_router

    app.include_router(outbox_router)
