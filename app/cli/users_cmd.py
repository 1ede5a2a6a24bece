"""`gtm users add|list|passwd|disable|enable|token`: web accounts, their roles and API tokens."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from app.cli.base import CliError, emit_json


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `users`."""
    users = sub.add_parser("users", help="web accounts: staff, reviewer, admin")
    actions = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="create an account (asks for the password, or reads it from stdin)")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=("staff", "reviewer", "admin"))
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    add.add_argument("--json", action="store_true")
    add.set_defaults(func=run_add)

    ls = actions.add_parser("list", help="every account with its role")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)

    passwd = actions.add_parser("passwd", help="set a new password")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    passwd.add_argument("--json", action="store_true")
    passwd.set_defaults(func=run_passwd)

    for name, text in (("disable", "refuse logins and sessions"), ("enable", "allow logins again")):
        p = actions.add_parser(name, help=text)
        p.add_argument("username")
        p.add_argument("--json", action="store_true")
        p.set_defaults(func=run_disable, disabled=name == "disable")

    token = actions.add_parser("token", help="print a new HTTP API token for an account (shown once)")
    token.add_argument("username")
    token.add_argument("--revoke", action="store_true", help="delete the account's tokens instead")
    token.add_argument("--json", action="store_true")
    token.set_defaults(func=run_token)


def _store() -> Any:
    from app.auth.users import UserStore
    from app.settings import get_settings

    return UserStore.for_settings(get_settings())


def read_password(from_stdin: bool) -> str:
    """The new password: the first line of stdin, or typed twice at a hidden prompt.

    Raises:
        CliError: stdin is not a terminal and `--password-stdin` was not given, or the entries differ.
    """
    if from_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    if not sys.stdin.isatty():
        raise CliError("no terminal to ask for the password: pipe it in with --password-stdin")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise CliError("the two passwords differ")
    return first


def run_add(args: argparse.Namespace) -> int:
    """Create an account."""
    from app.auth.users import UserError, normalize_username

    try:
        normalize_username(args.username)
        user = _store().add(args.username, args.role, read_password(args.password_stdin))
    except UserError as exc:
        raise CliError(str(exc)) from exc
    if args.json:
        emit_json(user.to_json())
    else:
        print(f"created {user.username} ({user.role})")
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Print the accounts."""
    accounts = [u.to_json() for u in _store().list()]
    if args.json:
        emit_json({"users": accounts})
    elif not accounts:
        print("no accounts yet: create one with `gtm users add NAME --role admin`")
    else:
        for a in accounts:
            print(
                f"{a['username']:<24} {a['role']:<9} created {a['created_at']}"
                + ("  (disabled)" if a["disabled"] else "")
            )
    return 0


def _error_text(exc: Exception) -> str:
    """The message an exception was raised with, as written (quotes around a name kept: "no user 'ann'")."""
    return exc.args[0] if len(exc.args) == 1 and isinstance(exc.args[0], str) else str(exc)


def run_passwd(args: argparse.Namespace) -> int:
    """Set a new password."""
    from app.auth.users import UnknownUser, UserError

    store = _store()
    if store.get(args.username) is None:
        raise CliError(f"no user {args.username.strip().lower()!r}")
    try:
        user = store.set_password(args.username, read_password(args.password_stdin))
    except (UserError, UnknownUser) as exc:
        raise CliError(_error_text(exc)) from exc
    if args.json:
        emit_json(user.to_json())
    else:
        print(f"password changed for {user.username}")
    return 0


def run_disable(args: argparse.Namespace) -> int:
    """Disable or re-enable an account."""
    from app.auth.users import UnknownUser, UserError

    try:
        user = _store().set_disabled(args.username, args.disabled)
    except (UserError, UnknownUser) as exc:
        raise CliError(_error_text(exc)) from exc
    if args.json:
        emit_json(user.to_json())
    else:
        print(f"{user.username} {'disabled' if user.disabled else 'enabled'}")
    return 0


def run_token(args: argparse.Namespace) -> int:
    """Print a new API token (or revoke them all)."""
    from app.auth.users import UnknownUser, UserError

    store = _store()
    try:
        if args.revoke:
            revoked = store.revoke_tokens(args.username)
            if args.json:
                emit_json({"username": args.username.strip().lower(), "revoked": revoked})
            else:
                print(f"revoked {revoked} token(s) of {args.username.strip().lower()}")
            return 0
        token = store.create_token(args.username)
    except (UserError, UnknownUser) as exc:
        raise CliError(_error_text(exc)) from exc
    if args.json:
        emit_json({"username": args.username.strip().lower(), "token": token})
    else:
        print(token)
        print("Shown once: send it as `Authorization: Bearer <token>`.", file=sys.stderr)
    return 0
