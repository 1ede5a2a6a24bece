"""`gtm ask`, `gtm route` and `gtm thread show`: the graph without a browser."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from app.cli.base import CliError, check_text, emit_json, texts_from


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `ask`, `route` and `thread`."""
    ask = sub.add_parser("ask", help="ask the copilot (streams the answer; --json for one object per request)")
    ask.add_argument("text", help="the request, or '-' to read one request per line from stdin")
    ask.add_argument(
        "--thread", type=thread_id, help="continue this existing thread (default: a new thread per request)"
    )
    ask.add_argument("--user", default="cli", help="who is asking (default: cli)")
    ask.add_argument("--json", action="store_true", help="print one JSON object per request")
    ask.set_defaults(func=run_ask)

    route = sub.add_parser("route", help="show where the supervisor would send a request")
    route.add_argument("text", help="the request, or '-' for one per line on stdin")
    route.add_argument("--json", action="store_true", help="print JSON")
    route.set_defaults(func=run_route)

    thread = sub.add_parser("thread", help="read a conversation")
    thread_sub = thread.add_subparsers(dest="thread_command", required=True, metavar="ACTION")
    show = thread_sub.add_parser("show", help="a thread's messages, status and last answer")
    show.add_argument("thread_id", type=thread_id)
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(func=run_thread_show)


def run_ask(args: argparse.Namespace) -> int:
    """Run each request through the graph; stream tokens unless --json."""
    from app.settings import get_settings

    settings = get_settings()
    texts = list(texts_from(args.text))
    if args.text != "-":
        check_text(texts[0], max_chars=settings.max_request_chars)
    return asyncio.run(_ask(texts, args, settings.max_request_chars))


async def _ask(texts: list[str], args: argparse.Namespace, max_chars: int) -> int:
    from app.reviews import ReviewConflict
    from app.runtime import Copilot, RunEvent, UnknownThread

    failures = 0
    async with Copilot.open() as copilot:
        await copilot.load_models()  # not part of the first request's recorded latency
        if args.thread is not None:
            try:
                await copilot.thread(args.thread)
            except UnknownThread as exc:  # a mistyped id would silently start a new conversation
                raise CliError(f"{exc}; leave out --thread to start a new conversation") from exc
        for text in texts:
            try:
                clean = check_text(text, max_chars=max_chars)
                if args.json:
                    result = await copilot.ask(clean, thread_id=args.thread, user_id=args.user)
                    emit_json(result.to_json())
                    continue

                streamed: list[str] = []
                whole: list[bool] = []  # a compound message: its reply is put together at the end

                def show(token: str, streamed: list[str] = streamed, whole: list[bool] = whole) -> None:
                    if whole:
                        return
                    streamed.append(token)
                    sys.stdout.write(token)
                    sys.stdout.flush()

                def watch(event: RunEvent, whole: list[bool] = whole) -> None:
                    if event.kind == "update" and event.node == "supervisor" and len(event.data.get("parts") or []) > 1:
                        whole[:] = [True]

                result = await copilot.ask(
                    clean, thread_id=args.thread, user_id=args.user, on_token=show, on_event=watch
                )
                if not streamed or whole:  # answers written without a model call, and compound replies, arrive whole
                    sys.stdout.write(result.answer)
                sys.stdout.write(f"\n\n— route: {result.route} · thread: {result.thread_id}")
                if result.escalated:
                    sys.stdout.write(f" · escalated: review {result.review_id}")
                if result.pending_approval:
                    sys.stdout.write(
                        f" · waiting for approval: gtm outbox list --thread {result.thread_id}, then "
                        f"gtm outbox approve|reject {result.thread_id} (or the reviewer console, /review/outbox)"
                    )
                sys.stdout.write("\n")
            except (CliError, ReviewConflict) as exc:
                if args.text != "-":
                    raise CliError(str(exc)) from exc
                failures += 1
                emit_json({"error": " ".join(str(exc).split()), "request": text[:200]})
    return 2 if failures else 0


def run_route(args: argparse.Namespace) -> int:
    """Print the routing decision for each request."""
    from app.services import build_router
    from app.settings import get_settings

    settings = get_settings()
    texts = list(texts_from(args.text))
    if args.text != "-":
        check_text(texts[0], max_chars=settings.max_request_chars)
    router = build_router(settings)

    async def decide_all() -> int:
        failures = 0
        for text in texts:
            try:
                decision = await router(check_text(text, max_chars=settings.max_request_chars), None)
            except CliError as exc:
                if args.text != "-":
                    raise
                failures += 1
                emit_json({"error": str(exc)})
                continue
            out: dict[str, Any] = {
                "route": decision.route,
                "confidence": round(decision.confidence, 4),
                "method": decision.method,
                "reason": decision.reason,
            }
            if args.json or args.text == "-":
                emit_json(out)
            else:
                print(f"{decision.route}  ({decision.method}, confidence {decision.confidence:.2f}): {decision.reason}")
        return 2 if failures else 0

    return asyncio.run(decide_all())


def run_thread_show(args: argparse.Namespace) -> int:
    """Print a thread."""
    from app.runtime import Copilot, UnknownThread

    async def show() -> dict[str, Any]:
        async with Copilot.open() as copilot:
            return await copilot.thread(args.thread_id)

    try:
        view = asyncio.run(show())
    except UnknownThread as exc:
        raise CliError(str(exc)) from exc
    if args.json:
        emit_json(view)
        return 0
    print(f"thread {view['thread_id']} · {view['status']}")
    for message in view["messages"]:
        print(f"\n[{message['role']}] {message['content']}")
    return 0


def thread_id(value: str) -> str:
    """An argparse type: a thread id as the API accepts it (1-200 letters, digits or . _ : -)."""
    from app.runtime import THREAD_ID_RE

    if not THREAD_ID_RE.match(value):
        raise argparse.ArgumentTypeError("a thread id is 1-200 letters, digits or . _ : -")
    return value
