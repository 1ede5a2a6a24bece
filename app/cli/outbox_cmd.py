"""`gtm outbox list|approve|reject|retry`: see the win-back emails, approve or reject them, re-send failed ones."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.cli.base import CliError, check_text, emit_json

if TYPE_CHECKING:
    from app.outbox import Delivery, OutboxItem
    from app.runtime import Copilot

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `outbox`."""
    outbox = sub.add_parser("outbox", help="win-back emails: list, approve (with drops and edits) or reject")
    actions = outbox.add_subparsers(dest="outbox_command", required=True, metavar="ACTION")

    ls = actions.add_parser("list", help="outbox emails and their status (draft, approved, dropped, sent, failed)")
    ls.add_argument("--thread", help="only this thread's emails")
    ls.add_argument("--status", help="only emails with this status (e.g. draft)")
    ls.add_argument("--json", action="store_true", help="print one JSON object")
    ls.set_defaults(func=run_list)

    approve = actions.add_parser("approve", help="send a thread's drafts (all, or all but --drop), with --edit")
    approve.add_argument("thread_id")
    approve.add_argument("--drop", default="", metavar="C1,C2", help="customer ids not to email")
    approve.add_argument(
        "--edit",
        action="append",
        default=[],
        metavar="CUSTOMER=FILE",
        help="replace a draft with the text of FILE (a first line 'Subject: ...' replaces the subject; a missing "
        "sign-off, postal address or unsubscribe link is re-appended); repeatable",
    )
    approve.add_argument("--note", help="a note for the requester and the outbox record")
    approve.add_argument("--reviewer", default="cli-reviewer", help="who approves (recorded)")
    approve.add_argument("--json", action="store_true", help="print one JSON object")
    approve.set_defaults(func=run_decide, action="approve")

    reject = actions.add_parser("reject", help="send none of a thread's drafts")
    reject.add_argument("thread_id")
    reject.add_argument("--note", required=True, help="why (shown to the requester, recorded)")
    reject.add_argument("--reviewer", default="cli-reviewer", help="who rejects (recorded)")
    reject.add_argument("--json", action="store_true", help="print one JSON object")
    reject.set_defaults(func=run_decide, action="reject")

    retry = actions.add_parser("retry", help="send a thread's failed emails again (never one already sent)")
    retry.add_argument("thread_id")
    retry.add_argument("--only", default="", metavar="C1,C2", help="only these customers' failed emails")
    retry.add_argument("--json", action="store_true", help="print one JSON object")
    retry.set_defaults(func=run_retry)


def run_list(args: argparse.Namespace) -> int:
    """Print the outbox."""
    from app.runtime import Copilot

    async def items() -> list[dict[str, Any]]:
        async with Copilot.open() as copilot:
            rows = await copilot.outbox_items(args.thread)
        return [r.to_json() for r in rows if not args.status or r.status == args.status]

    rows = asyncio.run(items())
    if args.json:
        emit_json({"items": rows})
        return 0
    if not rows:
        print("the outbox is empty" if not args.thread else f"no outbox emails for thread {args.thread}")
        return 0
    thread = None
    for row in rows:
        if row["thread_id"] != thread:
            thread = row["thread_id"]
            print(f"\nthread {thread}")
        detail = row["error"] if row["status"] == "failed" else row["sent_at"] or ""
        print(f"  {row['customer_id']:<10} {row['status']:<8} {row['email'] or '(no address)':<36} {row['subject']}")
        if detail:
            print(f"  {'':<10} {detail}")
    return 0


def _edits(specs: list[str], max_chars: int) -> dict[str, str]:
    edits: dict[str, str] = {}
    for spec in specs:
        customer, sep, file = spec.partition("=")
        if not sep or not customer.strip() or not file.strip():
            raise CliError(f"--edit {spec!r}: expected CUSTOMER=FILE, e.g. --edit C00042=draft.txt")
        path = Path(file.strip()).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise CliError(f"--edit {spec}: file {path} not found") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"--edit {spec}: cannot read {path} as UTF-8 text ({exc})") from exc
        edits[customer.strip()] = check_text(text, max_chars=max_chars, what=f"edited email for {customer.strip()}")
    return edits


def run_decide(args: argparse.Namespace) -> int:
    """Approve or reject one thread's drafts, resuming its paused win-back run (which sends)."""
    from pydantic import ValidationError

    from app.cli.chat_history import write_to_chat_history
    from app.runtime import Copilot, InvalidDecision, NoPendingApproval, UnknownThread
    from app.settings import get_settings
    from app.web.review_watch import record_outbox_in_history
    from graph.review import OutboxDecision

    try:
        if args.action == "reject":
            decision = OutboxDecision(action="reject", reviewer=args.reviewer, note=args.note)
        else:
            drop = [c.strip() for c in args.drop.split(",") if c.strip()]
            decision = OutboxDecision(
                action="approve_some" if drop else "approve_all",
                drop=drop,
                edits=_edits(args.edit, get_settings().max_request_chars),
                reviewer=args.reviewer,
                note=args.note,
            )
    except ValidationError as exc:
        raise CliError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from exc

    async def decide() -> dict[str, Any]:
        async with Copilot.open() as copilot:
            _, pending = await copilot.pending_approval(args.thread_id)
            footer_added = await copilot.outbox.footer_gaps(decision.edits) if decision.action != "reject" else {}
            result = await copilot.decide_outbox(args.thread_id, decision)
            items = await copilot.outbox.items(args.thread_id, pending.campaign_id)
        statuses = {i.customer_id: i.status for i in items}
        try:  # a requester who asked in the browser finds the outcome in the thread, as the console leaves it
            written = await write_to_chat_history(
                get_settings(),
                lambda: record_outbox_in_history(
                    args.thread_id, pending.campaign_id, decision.action, args.reviewer, result.answer, decision.note
                ),
            )
        except Exception as exc:  # noqa: BLE001 - the decision stands; a connected chat still shows it live
            log.warning("writing the outbox outcome of %s to the chat history failed: %s", args.thread_id, exc)
            written = False
        return {
            "decision": decision.action,
            **result.to_json(),
            "outbox": statuses,
            "footer_added": footer_added,
            "in_chat_history": written,
        }

    try:
        out = asyncio.run(decide())
    except (UnknownThread, NoPendingApproval, InvalidDecision) as exc:
        raise CliError(str(exc)) from exc
    if args.json:
        emit_json(out)
        return 0
    for customer, parts in out["footer_added"].items():
        print(f"note: your edit for {customer} had no {', '.join(parts)}: the compliance footer was re-appended")
    print(out["answer"])
    return 0


async def _record_retry(copilot: Copilot, thread_id: str, items: list[OutboxItem], delivery: Delivery) -> None:
    """Write a retry's outcome into the thread (its outbox result, statuses and last answer), once it has finished."""
    from graph.nodes.outbox import retry_update

    config: Any = {"configurable": {"thread_id": thread_id}}
    snapshot = await copilot.graph.aget_state(config)
    if not snapshot.values or snapshot.next:
        return  # unknown, or still running / waiting: the run itself records the outcome
    await copilot.graph.aupdate_state(config, retry_update(snapshot.values, items, delivery), as_node="respond")


def run_retry(args: argparse.Namespace) -> int:
    """Re-send a thread's failed emails and record the new outcome in the outbox and the thread."""
    from app.runtime import Copilot

    only = [c.strip() for c in args.only.split(",") if c.strip()]

    async def retry() -> dict[str, Any]:
        async with Copilot.open() as copilot:
            items = await copilot.outbox.items(args.thread_id)
            if not items:
                raise CliError(f"no outbox emails for thread {args.thread_id}")
            failed = {i.customer_id for i in items if i.status == "failed"}
            unknown = sorted(set(only) - failed)
            if unknown:
                raise CliError(f"no failed email for {', '.join(unknown)} in thread {args.thread_id}")
            if not failed:
                raise CliError(f"thread {args.thread_id} has no failed emails to retry")
            sender = copilot.services.sender
            if sender is None:
                raise CliError("no sender configured (GTM_SMTP_HOST / GTM_SMTP_PORT)")
            delivery = await copilot.outbox.retry_failed(args.thread_id, sender, only or None)
            after = await copilot.outbox.items(args.thread_id)
            await _record_retry(copilot, args.thread_id, after, delivery)
        return {
            "thread_id": args.thread_id,
            "sent": delivery.sent,
            "failed": delivery.failed,
            "outbox": {i.customer_id: i.status for i in after},
        }

    out = asyncio.run(retry())
    if args.json:
        emit_json(out)
        return 0 if not out["failed"] else 1
    print(f"sent {len(out['sent'])}, still failing {len(out['failed'])}")
    for customer, error in out["failed"].items():
        print(f"  {customer:<10} {error}")
    return 0 if not out["failed"] else 1
