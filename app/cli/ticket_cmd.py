"""`gtm ticket create|show|update|list`: the support ticket API from the command line."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from app.cli.base import CliError, emit_json

STATUSES = ("open", "pending", "solved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
CHANNELS = ("email", "chat", "web", "phone")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `ticket`."""
    ticket = sub.add_parser("ticket", help="create, look up, update and list support tickets")
    actions = ticket.add_subparsers(dest="ticket_command", required=True, metavar="ACTION")

    create = actions.add_parser("create", help="open a ticket")
    create.add_argument("--subject", required=True)
    create.add_argument("--body", help="the description ('-' reads it from stdin; default: the subject)")
    create.add_argument("--priority", choices=PRIORITIES, default="normal")
    create.add_argument("--category", default="general")
    create.add_argument("--channel", choices=CHANNELS, default="web")
    create.add_argument("--customer", help="customer id, e.g. C00042")
    create.add_argument("--json", action="store_true")
    create.set_defaults(func=run_create)

    show = actions.add_parser("show", help="one ticket, with its linked review and decision")
    show.add_argument("ticket_id", help="ticket number, e.g. 42 or #42")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=run_show)

    update = actions.add_parser("update", help="change status and/or priority")
    update.add_argument("ticket_id")
    update.add_argument("--status", choices=STATUSES)
    update.add_argument("--priority", choices=PRIORITIES)
    update.add_argument("--json", action="store_true")
    update.set_defaults(func=run_update)

    ls = actions.add_parser("list", help="tickets matching filters, newest first")
    ls.add_argument("--status", choices=STATUSES)
    ls.add_argument("--priority", choices=PRIORITIES)
    ls.add_argument("--category")
    ls.add_argument("--customer")
    ls.add_argument("--review", help="the ticket of one escalation, e.g. R-00001")
    ls.add_argument("--escalated", action="store_true", help="only tickets opened by an escalation")
    ls.add_argument("--limit", type=int, default=20)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)


def _store() -> Any:
    from app.services import business_engine
    from app.settings import get_settings
    from app.tickets import TicketStore

    return TicketStore(business_engine(get_settings()))


def _call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    from app.tickets import TicketError, UnknownTicket

    try:
        return fn(*args, **kwargs)
    except (TicketError, UnknownTicket) as exc:
        raise CliError(_error_text(exc)) from exc


def _error_text(exc: Exception) -> str:
    """The message an exception was raised with, as written (quotes around an id kept: "no customer with id 'C9'")."""
    return exc.args[0] if len(exc.args) == 1 and isinstance(exc.args[0], str) else str(exc)


def _customer(raw: str | None) -> str | None:
    """The `--customer` id, trimmed; None when the option is absent.

    Raises:
        CliError: the option was given without an id (`--customer ""`).
    """
    if raw is None:
        return None
    if not raw.strip():
        raise CliError("--customer needs a customer id, e.g. --customer C00042")
    return raw.strip()


def _ticket_id(raw: str) -> int:
    from app.tickets import parse_ticket_id

    return int(_call(parse_ticket_id, raw))


def _line(t: dict[str, Any]) -> str:
    review = f"  review {t['review_id']}" if t.get("review_id") else ""
    return f"#{t['id']:<6} {t['status']:<8} {t['priority']:<7} {t['category']:<13} {t['created_at'][:16]}  {t['subject'][:70]}{review}"


def run_create(args: argparse.Namespace) -> int:
    """Open a ticket."""
    body = sys.stdin.read() if args.body == "-" else args.body
    ticket = _call(
        _store().create,
        args.subject,
        body,
        priority=args.priority,
        category=args.category,
        channel=args.channel,
        customer_id=_customer(args.customer),
    )
    if args.json:
        emit_json(ticket)
    else:
        print(f"created ticket #{ticket['id']}: {ticket['subject']}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Print one ticket and its review."""
    ticket = _call(_store().show, _ticket_id(args.ticket_id))
    if args.json:
        emit_json(ticket)
        return 0
    print(_line(ticket))
    print(
        f"  channel {ticket['channel']}  customer {ticket['customer_id'] or '-'}  updated {ticket['updated_at'][:16]}"
    )
    print("  " + ticket["body"].replace("\n", "\n  "))
    review = ticket.get("review")
    if review:
        print(f"  review {review['review_id']}: {review['status']}", end="")
        if review.get("decision"):
            print(f", {review['decision']} by {review['decided_by']} at {(review['decided_at'] or '')[:16]}", end="")
        print(f"  (thread {review['thread_id']}, confidence {review['confidence']:.2f})")
        if review.get("final_answer"):
            print("  answer: " + review["final_answer"][:500])
    return 0


def run_update(args: argparse.Namespace) -> int:
    """Change a ticket's status and/or priority."""
    ticket = _call(_store().update, _ticket_id(args.ticket_id), status=args.status, priority=args.priority)
    if args.json:
        emit_json(ticket)
    else:
        print(f"ticket #{ticket['id']}: {ticket['status']}, {ticket['priority']} priority")
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Print matching tickets."""
    found = _call(
        _store().list,
        status=args.status,
        priority=args.priority,
        category=args.category,
        customer_id=_customer(args.customer),
        review_id=args.review,
        escalated=True if args.escalated else None,
        limit=args.limit,
    )
    if args.json:
        emit_json({"tickets": found})
    elif not found:
        print("no tickets match")
    else:
        for t in found:
            print(_line(t))
    return 0
