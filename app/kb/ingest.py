"""Incremental ingest of a folder of markdown into the chunk store.

Each document's content hash is compared with the one stored in its chunks' metadata: unchanged
documents are not read into the model again, changed ones are re-chunked, re-embedded and replaced,
documents whose file is gone are removed. Chunks of all changed documents are encoded together in
batches, so the model runs on full batches however small the documents are.
"""

from __future__ import annotations

import codecs
import os
import re
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from app.kb.chunking import Chunk, chunk_document, content_hash
from app.kb.store import ChromaStore
from app.text import valid_text

MARKDOWN_SUFFIXES = (".md", ".mdx", ".markdown")
"""Files that are ingested (recursively; hidden folders are skipped)."""
REVIEWED_FOLDER = "reviewed-answers"
"""Name prefix of reviewed answers in the index (`reviewed-answers/<slug>.md`), wherever their folder is."""
ENCODE_GROUP = 2048
"""Chunks encoded (and written) per group: bounds memory while keeping the model's batches full."""


class NotTextError(ValueError):
    """A document's bytes are not text in an encoding ingest can read (binary, or UTF-16/32 it cannot make out)."""


class TextEncoder(Protocol):
    """What ingest and retrieval need from an embedder (see `app.embeddings.Embedder`)."""

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> NDArray[np.float32]:
        """L2-normalised embeddings, one row per text."""
        ...


@dataclass(slots=True)
class IngestReport:
    """What one ingest run did."""

    directory: str
    """The knowledge-base folder."""
    collection: str
    """The Chroma collection written."""
    added: list[str] = field(default_factory=list)
    """Documents that were new."""
    updated: list[str] = field(default_factory=list)
    """Documents whose content changed (re-embedded and replaced)."""
    unchanged: list[str] = field(default_factory=list)
    """Documents left as they were (not embedded again)."""
    removed: list[str] = field(default_factory=list)
    """Documents whose file is gone (their chunks deleted)."""
    empty: list[str] = field(default_factory=list)
    """Documents with no text once cleaned (empty, or front matter alone): nothing to index, not a change."""
    not_text: list[str] = field(default_factory=list)
    """Documents skipped because their bytes are not readable text (see `read_text`); one indexed before is
    removed (and listed in `removed` too)."""
    chunks_embedded: int = 0
    """Chunks encoded by the model in this run."""
    total_chunks: int = 0
    """Chunks in the collection after the run."""
    seconds: float = 0.0
    """Wall time of the run."""

    @property
    def changed(self) -> bool:
        """Whether the run changed the collection."""
        return bool(self.added or self.updated or self.removed)

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready summary (counts and names)."""
        data = asdict(self)
        data.update(
            docs_added=len(self.added),
            docs_updated=len(self.updated),
            docs_unchanged=len(self.unchanged),
            docs_removed=len(self.removed),
            docs_empty=len(self.empty),
            docs_not_text=len(self.not_text),
        )
        return data


def find_documents(kb_dir: Path) -> dict[str, Path]:
    """Markdown files under `kb_dir`, keyed by their POSIX path relative to it (hidden files and folders skipped).

    Symbolic links are followed, to folders as to files, but the real tree is read first: a folder or a
    file reached both directly and through a link is read once, under its real name, and a link back to
    an ancestor does not loop. A file name that is not valid UTF-8 is named with its undecodable bytes
    replaced by U+FFFD, so the document is still indexed and cited (the store and the JSON output need
    valid text).
    """
    root = Path(kb_dir)
    root_real = os.path.realpath(root)
    candidates: list[tuple[str, Path]] = []
    visited: set[str] = set()
    links: list[Path] = []  # linked folders, walked once the real tree has been
    tops = [root]
    while tops:
        for current, folders, files in os.walk(tops.pop(0)):
            real = os.path.realpath(current)
            if real in visited:
                folders[:] = []
                continue
            visited.add(real)
            here = Path(current)
            linked = {f for f in folders if (here / f).is_symlink()}
            names = sorted(f for f in folders if not f.startswith("."))
            links += [here / f for f in names if f in linked]
            folders[:] = [f for f in names if f not in linked]
            candidates += [
                (path.relative_to(root).as_posix(), path)
                for name in sorted(files)
                if not name.startswith(".")
                and (path := here / name).suffix.lower() in MARKDOWN_SUFFIXES
                and path.is_file()
            ]
        if not tops and links:
            tops.append(links.pop(0))
    by_target: dict[str, tuple[str, Path]] = {}
    for relative, path in candidates:  # one name per file: its own, else the first link found to it
        target = os.path.realpath(path)
        own = target == os.path.join(root_real, relative)
        if target not in by_target or own:
            by_target[target] = (relative, path)
    return dict(sorted((valid_text(relative), path) for relative, path in by_target.values()))


def read_text(path: Path) -> str:
    """A document's text, whatever its encoding.

    UTF-8 (a byte-order mark is dropped); UTF-16 or UTF-32 when a byte-order mark says so. A byte that is
    not part of valid UTF-8 is read as Windows-1252 (Latin-1 with curly quotes and dashes), or as Latin-1
    where Windows-1252 leaves it undefined: a Latin-1 or Windows-1252 file reads as written, and so do
    stray such bytes in a UTF-8 file, without turning its valid accented letters into mojibake.

    Text full of NUL bytes without a byte-order mark is UTF-16 or UTF-32 when it reads as such (clean text in
    exactly one of them); otherwise it is binary, not text.

    Raises:
        NotTextError: the bytes are not text in any of these encodings.
    """
    data = path.read_bytes()
    for mark, encoding in _BYTE_ORDER_MARKS:
        if data.startswith(mark):
            return data[len(mark) :].decode(encoding, errors="replace")
    if data.count(0) * 100 > len(data):  # more than 1% NUL bytes: wide text without a mark, or binary
        return _unmarked_wide_text(path.name, data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        codecs.register_error(_LEGACY_BYTES, _legacy_bytes)  # registered on first need, not at import
        text = data.decode("utf-8", errors=_LEGACY_BYTES)
    if _controls(text) > max(2, len(text) // 20):  # more than 5% control characters: binary (a stray one is not)
        raise NotTextError(f"{path.name} is not UTF-8 text (binary content)")
    return text


def _controls(text: str) -> int:
    """How many control characters `text` has, tabs and line breaks aside."""
    return sum(1 for c in text if unicodedata.category(c) == "Cc" and c not in "\t\n\r\f")


def _unmarked_wide_text(name: str, data: bytes) -> str:
    """`data` read as UTF-16 or UTF-32 without a byte-order mark, if it is text in one of them.

    A reading counts when it has no control characters but tabs and line breaks; of those, the one with the most
    ASCII characters wins (a UTF-16 LE file read as BE is clean too, but turns "#", spaces and line breaks into
    rare symbols).

    Raises:
        NotTextError: it is clean text in none of them, or no reading stands out.
    """
    readings: list[tuple[int, str]] = []
    for encoding in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if not _controls(text):
            readings.append((sum(1 for c in text if c < "\x80"), text))
    readings.sort(key=lambda reading: reading[0], reverse=True)
    if not readings or readings[0][0] == 0 or (len(readings) > 1 and readings[1][0] == readings[0][0]):
        raise NotTextError(f"{name} is not UTF-8 text (binary, or UTF-16/32 without a byte-order mark)")
    return readings[0][1]


def _legacy_bytes(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: undecodable bytes as Windows-1252, or Latin-1 where that leaves one undefined."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    chars = []
    for byte in error.object[error.start : error.end]:
        try:
            chars.append(bytes([byte]).decode("cp1252"))
        except UnicodeDecodeError:
            chars.append(chr(byte))  # Latin-1
    return "".join(chars), error.end


_LEGACY_BYTES = "gtm-legacy-bytes"
"""Name of `_legacy_bytes` as a codec error handler."""


_BYTE_ORDER_MARKS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
"""Byte-order marks and their encodings (UTF-32 LE first: its mark begins with UTF-16 LE's)."""


def embed_and_store(
    store: ChromaStore,
    encoder: TextEncoder,
    documents: Sequence[tuple[str, str, list[Chunk]]],
    stale: dict[str, set[str]] | None = None,
    batch_size: int = 64,
) -> int:
    """Encode the chunks of `documents` (name, hash, chunks) in shared batches and write them group by group.

    Args:
        store: Where to write.
        encoder: The embedding model.
        documents: Documents to (re)write.
        stale: Chunk ids currently stored per document (deleted unless rewritten).
        batch_size: Texts per model batch.

    Returns:
        The number of chunks encoded.
    """
    stale = stale or {}
    encoded = 0
    group: list[tuple[str, str, list[Chunk]]] = []

    def flush() -> None:
        nonlocal encoded
        chunks = [chunk for _, _, doc_chunks in group for chunk in doc_chunks]
        vectors = encoder.encode([c.embed_text for c in chunks], batch_size=batch_size) if chunks else None
        old = set().union(*(stale.get(doc, set()) for doc, _, _ in group))
        empty = np.zeros((0, 0), dtype=np.float32)
        store.replace_documents(chunks, empty if vectors is None else vectors, {d: h for d, h, _ in group}, old)
        encoded += len(chunks)
        group.clear()

    size = 0
    for item in documents:
        group.append(item)
        size += len(item[2])
        if size >= ENCODE_GROUP:
            flush()
            size = 0
    if group:
        flush()
    return encoded


def knowledge_files(kb_dir: Path, reviewed_dir: Path | None = None) -> dict[str, Path]:
    """The documents of a knowledge base by name: `kb_dir`'s markdown, then the reviewed answers of `reviewed_dir`.

    Reviewed answers are named `reviewed-answers/<file>` (a file of that name under `kb_dir` itself, as older
    versions wrote them, is read too; the one in `reviewed_dir` wins).
    """
    files = find_documents(kb_dir)
    if reviewed_dir is not None and Path(reviewed_dir).is_dir():
        files.update({f"{REVIEWED_FOLDER}/{name}": path for name, path in find_documents(reviewed_dir).items()})
    return dict(sorted(files.items()))


def ingest(
    kb_dir: Path,
    store: ChromaStore,
    encoder: TextEncoder,
    *,
    batch_size: int = 64,
    reviewed_dir: Path | None = None,
) -> IngestReport:
    """Bring the store in line with the markdown files under `kb_dir` (and the reviewed answers).

    Args:
        kb_dir: Folder of markdown documents (searched recursively).
        store: The collection of this folder.
        encoder: The embedding model.
        batch_size: Texts per model batch.
        reviewed_dir: Folder of reviewed answers indexed with `kb_dir` (see `knowledge_files`).

    Returns:
        What was added, updated, left unchanged and removed, what was skipped (no text, not readable as text)
        and how long it took.

    Raises:
        FileNotFoundError: `kb_dir` is not a folder.
    """
    started = time.perf_counter()
    root = Path(kb_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"knowledge-base folder not found: {root}")
    report = IngestReport(directory=str(root), collection=store.name)
    stored = store.doc_index()
    pending: list[tuple[str, str, list[Chunk]]] = []
    files = knowledge_files(root, reviewed_dir)
    for doc, path in list(files.items()):
        try:
            text = read_text(path)
        except NotTextError:
            report.not_text.append(doc)
            del files[doc]  # not a document: one indexed before is removed below
            continue
        digest = content_hash(text)
        if doc in stored and stored[doc][0] == digest:
            report.unchanged.append(doc)
            continue
        chunks = chunk_document(doc, text)
        if not chunks and doc not in stored:
            report.empty.append(doc)
            continue
        (report.updated if doc in stored else report.added).append(doc)
        pending.append((doc, digest, chunks))
    stale = {doc: stored[doc][1] for doc, _, _ in pending if doc in stored}
    report.chunks_embedded = embed_and_store(store, encoder, pending, stale, batch_size)
    report.removed = sorted(set(stored) - set(files))
    if report.removed:
        store.delete_documents(report.removed)
    if report.changed:
        store.bump_revision()
    report.total_chunks = store.count()
    report.seconds = time.perf_counter() - started
    return report


def slugify(name: str, max_length: int = 80) -> str:
    """A file-name-safe slug: `How do I get a refund?` → `how-do-i-get-a-refund`."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "untitled"


def add_document(reviewed_dir: Path, store: ChromaStore, encoder: TextEncoder, name: str, text: str) -> str:
    """Write `text` as a markdown document in the reviewed-answers folder and ingest it (and only it).

    Used for "add to knowledge base" on an approved reviewer answer: `name` is usually the question,
    which becomes the document's title. A document of the same name is replaced.

    Args:
        reviewed_dir: The reviewed-answers folder (`Settings.reviewed_path`, under the home: it is state, not
            the documents' source folder).
        store: The knowledge base's collection.
        encoder: The embedding model.
        name: Title of the new document (also gives its file name).
        text: The markdown body.

    Returns:
        The document name, `reviewed-answers/<slug>.md`.

    Raises:
        ValueError: `name` or `text` is empty.
    """
    title = " ".join(name.split())
    body = text.strip()
    if not title or not body:
        raise ValueError("a knowledge-base document needs a name and some text")
    path = Path(reviewed_dir) / f"{slugify(title)}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    content = body if body.lstrip().startswith("# ") else f"# {title}\n\n{body}"
    path.write_text(content.rstrip() + "\n", encoding="utf-8")
    doc = f"{REVIEWED_FOLDER}/{path.name}"
    chunks = chunk_document(doc, content)
    vectors = encoder.encode([c.embed_text for c in chunks])
    store.replace_document(doc, content_hash(read_text(path)), chunks, vectors)
    store.bump_revision()
    return doc
