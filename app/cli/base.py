"""Shared pieces of the command line: one-line errors, JSON output and stdin batches.

Every command module exposes `register(subparsers)`; handlers take the parsed arguments and return
an exit code. Handlers import heavy modules (torch, LangGraph) inside the function so `gtm --help`
stays fast.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Iterator
from typing import Any


class CliError(Exception):
    """A user-facing failure: printed as one line on stderr, exit code 2."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        """Keep the message to one line."""
        super().__init__(" ".join(message.split()))
        self.exit_code = exit_code


def emit_json(obj: Any) -> None:
    """Print one JSON object on one line (dates and paths as strings)."""
    sys.stdout.write(json.dumps(obj, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def check_text(text: str, *, max_chars: int, what: str = "request") -> str:
    """Validate a free-text input: not empty, not too long, no control characters.

    Raises:
        CliError: with a message that says what is wrong and what is expected.
    """
    stripped = text.strip()
    if not stripped:
        raise CliError(f"the {what} is empty: give some text, or '-' to read one {what} per line from stdin")
    if len(stripped) > max_chars:
        raise CliError(
            f"the {what} is {len(stripped):,} characters long; the limit is {max_chars:,} (GTM_MAX_REQUEST_CHARS)"
        )
    bad = sorted({f"U+{ord(c):04X}" for c in stripped if unicodedata.category(c) == "Cc" and c not in "\n\t\r"})
    if bad:
        raise CliError(f"the {what} contains control characters ({', '.join(bad[:5])}); remove them and try again")
    if any(unicodedata.category(c) == "Cs" for c in stripped):  # undecodable bytes (surrogate escapes)
        raise CliError(f"the {what} is not valid UTF-8 text; check the encoding of the terminal or the file")
    if all(c.isspace() or unicodedata.category(c)[0] == "C" for c in stripped):  # only format/invisible characters
        raise CliError(f"the {what} is empty: it has no visible characters")
    return stripped


def texts_from(arg: str) -> Iterator[str]:
    """Yield `arg` itself, or with `-` each non-blank line of stdin."""
    if arg != "-":
        yield arg
        return
    for line in sys.stdin:
        if line.strip():
            yield line.rstrip("\n")
