"""Text from outside (terminals, files, JSON) made safe to store, embed and print."""

from __future__ import annotations

import re

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_text(text: str) -> str:
    """`text` with lone surrogates replaced by U+FFFD.

    They are what undecodable bytes become when a terminal or a file is read with `surrogateescape` (or a
    JSON string's unpaired surrogate escape); the tokenizer, the databases and JSON output all refuse them.
    """
    return _LONE_SURROGATE.sub("\ufffd", text)
