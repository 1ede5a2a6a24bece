"""Cleaning of raw request text before it is routed."""

from __future__ import annotations

import re
import unicodedata
from typing import Final

MAX_REQUEST_CHARS: Final = 2000
"""Only this many characters are analysed; MiniLM reads at most 256 word pieces anyway."""

_SPACE = re.compile(r"\s+")


def normalize_request(text: str) -> str:
    """Return `text` ready for routing: control characters dropped, whitespace collapsed, length capped.

    Args:
        text: The raw user request.

    Returns:
        The cleaned request, at most `MAX_REQUEST_CHARS` characters long.

    Raises:
        TypeError: If `text` is not a string.
        ValueError: If nothing but whitespace or control characters is left.
    """
    if not isinstance(text, str):
        raise TypeError(f"expected the request as str, got {type(text).__name__}")
    head = text[: 2 * MAX_REQUEST_CHARS]  # cap the work on huge inputs before cleaning
    kept = "".join(
        " " if char.isspace() else char for char in head if char.isspace() or unicodedata.category(char)[0] != "C"
    )
    cleaned = _SPACE.sub(" ", kept).strip()
    if not cleaned:
        raise ValueError("expected a non-empty request to route, got only whitespace or control characters")
    return cleaned[:MAX_REQUEST_CHARS]
