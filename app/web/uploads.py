"""Sheets attached to chat messages: checked, then saved in their thread's folder for the Finance agent.

The folder is `Settings.uploads_path(thread)`, under `GTM_HOME/uploads`: the agent reads only the current
thread's attachments and the sheets put in `GTM_HOME/uploads` itself by hand.

Only CSV and XLSX files up to `MAX_UPLOAD_BYTES` are kept; anything else gets a clear message in the
chat. A saved file gets a unique name (`<stem>-<8 hex>.csv`) and the request the graph sees ends with
`(attached: that-name.csv)`, so the `query_sheet` tool reads exactly this upload even when several
people upload at once. File work runs in a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ALLOWED_SUFFIXES = frozenset({".csv", ".xlsx"})
"""Sheet types the Finance agent reads."""

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
"""Largest accepted file (also `max_size_mb` in `.chainlit/config.toml`)."""

EMPTY_REQUEST = "Describe and total this sheet"
"""The request when a sheet is attached without any text."""

_XLSX_MAGIC = b"PK\x03\x04"
_SAFE_STEM = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class UploadOutcome:
    """What happened to the files attached to one message."""

    saved: list[str] = field(default_factory=list)
    """Names of the sheets saved in the uploads folder."""
    refused: list[str] = field(default_factory=list)
    """One human sentence per file that was not accepted."""


def safe_name(original: str) -> str:
    """A unique, filesystem-safe name for an upload that keeps its stem and (lower-case) suffix."""
    path = Path(original.replace("\\", "/")).name
    suffix = Path(path).suffix.lower()
    stem = _SAFE_STEM.sub("-", Path(path).stem).strip(".-")[:60] or "sheet"
    return f"{stem}-{secrets.token_hex(4)}{suffix}"


def check_file(name: str, source: Path, size: int | None = None) -> str | None:
    """Why this file cannot be used as a sheet (`None` when it can). Blocking: reads the file's start."""
    suffix = Path(name).suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        return f"{name}: only CSV and XLSX sheets can be attached (got {suffix or 'a file without extension'})."
    actual = size if size is not None else source.stat().st_size
    if actual > MAX_UPLOAD_BYTES:
        return f"{name}: the file is {actual / 1024 / 1024:.1f} MB; the limit is {MAX_UPLOAD_BYTES // 1024 // 1024} MB."
    if actual == 0:
        return f"{name}: the file is empty."
    with source.open("rb") as handle:
        head = handle.read(4096)
    if suffix == ".xlsx" and not head.startswith(_XLSX_MAGIC):
        return f"{name}: this is not a valid XLSX workbook."
    if suffix == ".csv" and b"\x00" in head:
        return f"{name}: this does not look like a text CSV file."
    return None


def save_attachments(files: list[tuple[str, Path, int | None]], uploads: Path) -> UploadOutcome:
    """Check and copy `(name, temporary path, size)` files into `uploads` (blocking)."""
    outcome = UploadOutcome()
    uploads.mkdir(parents=True, exist_ok=True)
    for name, source, size in files:
        try:
            problem = check_file(name, source, size)
        except OSError:
            problem = f"{name}: the upload could not be read; please attach it again."
        if problem:
            outcome.refused.append(problem)
            continue
        target = uploads / safe_name(name)
        shutil.copyfile(source, target)
        outcome.saved.append(target.name)
    return outcome


def attachment_files(elements: list[Any] | None) -> list[tuple[str, Path, int | None]]:
    """`(name, path, size)` of the files in a Chainlit message's elements (elements without a file are skipped)."""
    out: list[tuple[str, Path, int | None]] = []
    for element in elements or []:
        path = getattr(element, "path", None)
        if not path:
            continue
        size = getattr(element, "size", None)
        out.append(
            (str(getattr(element, "name", "") or Path(path).name), Path(path), size if isinstance(size, int) else None)
        )
    return out


async def save_uploads(elements: list[Any] | None, folder: Path) -> UploadOutcome:
    """Save a message's attached sheets into `folder`, its thread's (`Settings.uploads_path`), in a worker thread."""
    files = attachment_files(elements)
    if not files:
        return UploadOutcome()
    return await asyncio.to_thread(save_attachments, files, folder)


def with_attachments(text: str, saved: list[str]) -> str:
    """The request the graph sees: the user's text (or `EMPTY_REQUEST`) plus the attached file names."""
    request = text.strip() or EMPTY_REQUEST
    return request + "".join(f" (attached: {name})" for name in saved)
