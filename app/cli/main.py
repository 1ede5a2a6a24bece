"""Entry point of `gtm`: builds the parser from the command modules and turns failures into one line."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from app.cli.base import CliError
from app.text import valid_text

COMMAND_MODULES = (
    "app.cli.ask_cmd",
    "app.cli.review_cmd",
    "app.cli.serve_cmd",
    "app.cli.kb_cmd",
    "app.cli.data_cmd",
    "app.cli.insights_cmd",
    "app.cli.finance_cmd",
    "app.cli.outbox_cmd",
    "app.cli.report_cmd",
    "app.cli.users_cmd",
    "app.cli.ticket_cmd",
    "app.cli.metrics_cmd",
)
"""Each module has `register(subparsers)`; a module that is not there yet is skipped."""


def build_parser() -> argparse.ArgumentParser:
    """The full `gtm` parser."""
    parser = argparse.ArgumentParser(
        prog="gtm",
        description="GTM Copilot: ask the multi-agent assistant, review escalations, manage data and the knowledge base.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def _debug() -> bool:
    """The `debug` setting (`GTM_DEBUG`); off when the settings themselves cannot be read (the likely failure)."""
    from app.settings import get_settings

    try:
        return get_settings().debug
    except Exception:  # noqa: BLE001 - invalid settings: report the original failure in one line
        return False


def main(argv: Sequence[str] | None = None) -> int:
    """Run `gtm`; returns the exit code (0 ok, 1 unexpected failure, 2 bad input)."""
    parser = build_parser()
    given = list(sys.argv[1:] if argv is None else argv)
    if undecodable := [a for a in given if valid_text(a) != a]:  # bytes the terminal's encoding could not read
        shown = valid_text(undecodable[0])[:60]
        print(f"error: the argument {shown!r} is not valid UTF-8 text; check the terminal's encoding", file=sys.stderr)
        return 2
    args = parser.parse_args(given)
    try:
        code: int = args.func(args)
        return code
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI never shows a traceback unless asked to
        if _debug():
            raise
        print(f"error: {type(exc).__name__}: {' '.join(str(exc).split())[:500]}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
