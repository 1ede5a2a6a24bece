"""`gtm review list|approve|edit|reject|audit`: decide escalations from any process."""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import TYPE_CHECKING, Any

from app.cli.base import CliError, check_text, emit_json

if TYPE_CHECKING:
    from app.settings import Settings

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `review`."""
    review = sub.add_parser("review", help="list and decide escalated support answers")
    actions = review.add_subparsers(dest="review_command", required=True, metavar="ACTION")
    ls = actions.add_parser("list", help="pending escalations across all threads")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)
    for name, text in (("approve", "send the draft as is"), ("edit", "send an edited answer"), ("reject", "decline")):
        p = actions.add_parser(name, help=text)
        p.add_argument("review_id")
        if name == "edit":
            p.add_argument("--text", required=True, help="the corrected answer")
        p.add_argument("--note", help="a note for the requester and the audit log")
        if name != "reject":
            p.add_argument(
                "--add-to-kb",
                action="store_true",
                help="also add the answer to the knowledge base, so the same question no longer escalates",
            )
        p.add_argument("--reviewer", default="cli-reviewer", help="who decides (audit log)")
        p.add_argument("--json", action="store_true")
        p.set_defaults(func=run_decide, action=name)
    audit = actions.add_parser("audit", help="decisions made (who, when, what changed)")
    audit.add_argument("review_id", nargs="?")
    audit.add_argument("--json", action="store_true")
    audit.set_defaults(func=run_audit)


def _summary(review: dict[str, Any]) -> dict[str, Any]:
    return {
        "review_id": review["review_id"],
        "thread_id": review["thread_id"],
        "question": review["question"],
        "draft": review["draft"],
        "confidence": review["confidence"],
        "requester": review["requester"],
        "created_at": review["created_at"],
        "interrupt_id": review.get("interrupt_id"),
        "passages": review.get("passages", []),
        "not_covered": review.get("not_covered"),
        "grounding": review.get("grounding"),
    }


def evidence_lines(item: dict[str, Any]) -> list[str]:
    """What the reviewer console says about the evidence: the words it does not cover, the model's check."""
    lines = []
    gaps = item.get("not_covered") or {}
    if gaps.get("unknown"):
        lines.append("  never in the knowledge base: " + ", ".join(gaps["unknown"]))
    if gaps.get("unmatched"):
        lines.append("  not in the passages: " + ", ".join(gaps["unmatched"]))
    grounding = item.get("grounding")
    if grounding:
        if not grounding.get("answerable"):
            lines.append("  model's check: no passage states the answer")
        elif grounding.get("verified"):
            lines.append(f'  model\'s check: the passages answer it: "{grounding.get("evidence", "")}"')
        else:
            lines.append("  model's check: it says they answer it, but its quote is not in the passages")
    return lines


def run_list(args: argparse.Namespace) -> int:
    """Print the pending escalations."""
    from app.runtime import Copilot

    async def pending() -> list[dict[str, Any]]:
        async with Copilot.open() as copilot:
            reviews = await copilot.pending_reviews()
            gaps = await copilot.review_gaps(reviews)
        for review in reviews:  # as `GET /api/reviews` and the console show them
            review["not_covered"] = gaps.get(review["review_id"])
        return reviews

    items = [_summary(r) for r in asyncio.run(pending())]
    if args.json:
        emit_json({"reviews": items})
    elif not items:
        print("no pending reviews")
    else:
        for item in items:
            print(f"{item['review_id']}  thread {item['thread_id']}  confidence {item['confidence']:.2f}")
            print(f"  Q: {item['question']}")
            print(f"  draft: {item['draft'][:200]}")
            for line in evidence_lines(item):
                print(line)
    return 0


def run_decide(args: argparse.Namespace) -> int:
    """Approve, edit or reject one review and resume its thread."""
    from pydantic import ValidationError

    from app.reviews import ReviewConflict
    from app.runtime import Copilot, UnknownReview
    from app.settings import get_settings
    from graph.review import ReviewDecision, error_text

    text = (
        check_text(args.text, max_chars=get_settings().max_request_chars, what="edited answer")
        if args.action == "edit"
        else None
    )
    try:
        decision = ReviewDecision(action=args.action, text=text, note=args.note, reviewer=args.reviewer)
    except ValidationError as exc:
        raise CliError(error_text(exc.errors()[0])) from exc

    async def decide() -> dict[str, Any]:
        settings = get_settings()
        async with Copilot.open() as copilot:
            result = await copilot.decide(args.review_id, decision)
            out = {"review_id": args.review_id, "decision": args.action, **result.to_json()}
            outcomes = [(args.review_id, result)]
            if getattr(args, "add_to_kb", False):
                from app.kb.reviewed import add_reviewed_answer, answer_same_questions

                decided = await copilot.reviews.get(args.review_id)
                question = str(decided["question"]) if decided else ""
                out["kb_document"] = await add_reviewed_answer(settings, args.review_id, question, result.answer)
                await copilot.reviews.record_kb_document(args.review_id, out["kb_document"])  # in the audit log
                also = await answer_same_questions(copilot, args.review_id, question, result.answer, args.reviewer)
                out["also_answered"] = [other for other, _ in also]
                outcomes += also
        for review_id, outcome in outcomes:  # requesters may be away from the chat: it waits in their history
            review = {"review_id": review_id, "thread_id": outcome.thread_id, "decided_by": args.reviewer}
            try:
                written = await record_in_chat_history(settings, review, outcome.answer)
            except Exception as exc:  # noqa: BLE001 - the decision stands; a connected chat still shows it live
                log.warning("writing the outcome of %s to the chat history failed: %s", review_id, exc)
                written = False
            if review_id == args.review_id:
                out["in_chat_history"] = written
        return out

    try:
        out = asyncio.run(decide())
    except (UnknownReview, ReviewConflict) as exc:
        raise CliError(_unquoted(str(exc))) from exc
    except KeyError as exc:
        raise CliError(f"no review with id {args.review_id!r}") from exc
    if args.json:
        emit_json(out)
    else:
        done = {"approve": "approved", "edit": "edited", "reject": "rejected"}[args.action]
        print(f"{args.review_id}: {done}; thread {out['thread_id']} answered:\n{out['answer']}")
        if out.get("kb_document"):
            print(f"added to the knowledge base as {out['kb_document']}")
        if out.get("also_answered"):
            print(f"the same question was also waiting in {', '.join(out['also_answered'])}: answered the same way")
    return 0


def _unquoted(message: str) -> str:
    """An error message without the quotes a `KeyError` wraps it in (and only those)."""
    if len(message) >= 2 and message[0] == message[-1] and message[0] in "'\"":
        return message[1:-1]
    return message


async def record_in_chat_history(settings: Settings, review: dict[str, Any], answer: str) -> bool:
    """Write a decided review's outcome into the requester's web chat history, as the console does.

    See `app.cli.chat_history.write_to_chat_history`: a thread asked from the command line has no chat
    history and gets nothing; the message id is the one a connected chat posts live.

    Returns:
        Whether a message was written.
    """
    from app.cli.chat_history import write_to_chat_history
    from app.web.review_watch import record_in_history

    return await write_to_chat_history(settings, lambda: record_in_history(review, answer))


def run_audit(args: argparse.Namespace) -> int:
    """Print the audit log."""
    from app.services import build_review_store
    from app.settings import get_settings

    entries = asyncio.run(build_review_store(get_settings()).audit(args.review_id))
    if args.json:
        emit_json({"audit": entries})
    else:
        for e in entries:
            print(
                f"{e['at']}  {e['review_id']}  {e['action']} by {e['reviewer']}"
                + (f" — {e['note']}" if e["note"] else "")
            )
    return 0
