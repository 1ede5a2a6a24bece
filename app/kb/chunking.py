"""Heading-aware chunking of markdown (and MDX) documents for retrieval.

A document is cleaned of MDX/HTML noise (front-matter, `import`/`export` lines, JSX components and HTML
tags, comments, admonition fences, images, link URLs), split into sections at `#`, `##` and `###`
headings (fenced code is never split at a `#` line), tiny sections are merged with their neighbours and
long ones are split by paragraph under a size cap. Every chunk keeps its heading path as `section`, and
the text that is embedded (and indexed by BM25) is prefixed with the document title and that path,
because titles and headings carry much of what a question is about.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from pathlib import PurePosixPath

import yaml

OUTLINE_SECTION = "Outline (each section's first sentence)"
"""Section name of a document's outline, a passage retrieval builds for a question about the whole document."""
CHUNKER_VERSION = "3"
"""Part of every content hash: changing the chunker re-embeds every document on the next ingest."""

MAX_CHARS = 800
"""Upper bound on the characters of one chunk's text (a single over-long line may exceed it, up to the hard cap)."""
HARD_CAP_FACTOR = 2
"""No chunk's text exceeds `HARD_CAP_FACTOR × max_chars`: a single line or sentence longer than that is cut."""
MIN_CHARS = 200
"""Sections shorter than this are merged with the following section of the same document."""
SPLIT_LEVEL = 3
"""Headings up to this level (`###`) start a new section; deeper ones stay inside the text."""

_HTML_TAGS = frozenset(
    """a abbr b blockquote body br button caption center code col colgroup dd del details div dl dt em embed
    figcaption figure font footer h1 h2 h3 h4 h5 h6 head header hr html i iframe img input ins kbd label li
    link main mark meta nav noscript ol p picture pre s section small source span strong style sub summary
    sup table tbody td tfoot th thead title tr track u ul video""".split()
)
"""Lower-case tag names removed as HTML; other lower-case `<words>` are kept as text (placeholders)."""

_FENCE = re.compile(r"^\s*(```+|~~~+)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)
_IMPORT_EXPORT = re.compile(
    r"^(?:import\s+(?:.+\sfrom\s+)?['\"].*|export\s+(?:default\s+)?(?:const|function|let|var|class|\{).*)$"
)
_ESM_START = re.compile(
    r"^(?:import\s*(?:\{|\*|['\"]|[\w$]+\s*(?:,\s*[{*]|from\s*['\"]))"
    r"|export\s+(?:default\b|const\b|function\b|let\b|var\b|class\b|async\s+function\b|\{|\*))"
)
"""The first line of an MDX ESM block (`import {`, `import X from`, `export const`...): in MDX such a block
runs to the next blank line, so a multi-line import or an exported function body goes with it."""
_SETEXT = re.compile(r"^ {0,3}(=+|-+)\s*$")
"""The underline of a setext heading (`Title` over `=====` is `#`, over `-----` is `##`)."""
_BLOCK_ELEMENTS = re.compile(r"<(head|script|style|svg)\b[^>]*>.*?</\1\s*>", re.DOTALL | re.IGNORECASE)
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_MDX_COMMENT = re.compile(r"\{/\*.*?\*/\}", re.DOTALL)
_BRACES = r"\{(?:[^{}]|\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\})*\}"
"""A `{...}` JSX expression, with braces nested up to four deep (`style={{a: {b: {c: 1}}}}`)."""
_ATTRS = r"""(?:[^<>{}"']|"[^"]*"|'[^']*'|""" + _BRACES + r""")*"""
_TAG = re.compile(r"</?([A-Za-z][\w.:-]*)(" + _ATTRS + r")/?>", re.DOTALL)
_ADMONITION = re.compile(r"^\s*:::+\s*([A-Za-z]+)?\s*(?:\[(.*?)\])?\s*(.*?)\s*$")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]*)\]\((?:[^()]|\([^)]*\))*\)")
_REF_LINK = re.compile(r"\[([^\]]*)\]\[[^\]]*\]")
_REF_DEF = re.compile(r"^\s*\[[^\]]+\]:\s+\S+.*$")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_ANCHOR = re.compile(r"\s*\{#[\w.-]+\}\s*$")
_EMPHASIS = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1")
_PLACEHOLDER = re.compile(r"\x00(\d+)\x00")
_BLANKS = re.compile(r"\n{3,}")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}")
_JSX_EXPRESSION = re.compile(r"^\s*\{.*\}\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")


@dataclass(frozen=True, slots=True)
class Chunk:
    """One retrievable piece of a document."""

    doc: str
    """Document name: the file path relative to the knowledge-base folder (POSIX separators)."""
    title: str
    """Document title (front-matter `title`, else the first `#` heading, else the file name)."""
    section: str
    """Heading path inside the document, e.g. `Billing > Refunds` (empty for the introduction)."""
    index: int
    """Position of the chunk in its document, from 0."""
    text: str
    """The cleaned chunk text shown to readers and answerers."""

    @property
    def embed_text(self) -> str:
        """The text that is embedded and keyword-indexed: title and heading path, then the text."""
        return context_prefix(self.title, self.section) + self.text


def context_prefix(title: str, section: str) -> str:
    """The `Title > Section` line that precedes a chunk's text in its embedding."""
    head = " > ".join(part for part in (title, section) if part)
    return f"{head}\n" if head else ""


def content_hash(text: str) -> str:
    """Hash of a document's raw text and the chunker version (what incremental ingest compares)."""
    return hashlib.sha256(f"{CHUNKER_VERSION}\0{text}".encode()).hexdigest()


def title_from_name(doc: str) -> str:
    """A readable title from a file name: `custom-props__introduction.md` → `Custom props introduction`."""
    stem = PurePosixPath(doc).stem
    words = re.sub(r"[_\-\s]+", " ", stem).strip()
    return words[:1].upper() + words[1:] if words else doc


def _front_matter(text: str) -> tuple[dict[str, str], str]:
    """Split YAML front-matter from the body; unreadable front-matter is dropped, not fatal."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    body = text[match.end() :]
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return {}, body
    if not isinstance(data, dict):
        return {}, body
    return {str(k): str(v) for k, v in data.items() if isinstance(v, str | int | float)}, body


def _clean_inline(line: str) -> str:
    """Remove images, link targets, emphasis markers and HTML entities from one line of prose."""
    return _clean_prose(line)


def _clean_prose(text: str) -> str:
    text = _IMAGE.sub("", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _REF_LINK.sub(r"\1", text)
    text = _EMPHASIS.sub(r"\2", text)
    return html.unescape(text)


def _strip_tags(text: str) -> str:
    """Remove JSX components (capitalised) and known HTML tags, keeping the text between them."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name[0].isupper() or name.lower() in _HTML_TAGS:
            # Block-level tags become line breaks so neighbouring text does not run together.
            return "\n" if "\n" in match.group(0) or name.lower() in {"br", "p", "div", "li", "tr"} else " "
        return match.group(0)

    return _TAG.sub(replace, text)


def _code_mask(lines: list[str]) -> list[bool]:
    """For each line, whether it belongs to a fenced code block (fence lines included).

    CommonMark rules: a fence opens with three or more backticks or tildes (an info string may follow)
    and closes only with the same character, at least as many, and nothing else on the line.
    """
    mask: list[bool] = []
    fence_mark = ""
    for line in lines:
        fence = _FENCE.match(line)
        if not fence_mark:
            if fence:
                fence_mark = fence.group(1)
            mask.append(bool(fence))
            continue
        mask.append(True)
        if fence and fence.group(1)[0] == fence_mark[0] and len(fence.group(1)) >= len(fence_mark):
            if not line[fence.end() :].strip():
                fence_mark = ""
    return mask


def clean_markdown(text: str) -> tuple[dict[str, str], list[str]]:
    """Clean MDX/HTML noise from a markdown document.

    Args:
        text: The raw document.

    Returns:
        The front-matter fields and the cleaned body as a list of lines (fenced code kept verbatim).
    """
    meta, body = _front_matter(text.replace("\r\n", "\n").replace("\r", "\n"))
    # Whole-block noise first, but never inside fenced code: split the body into code and prose runs.
    raw = body.split("\n")
    segments: list[tuple[bool, str]] = []
    for is_code, line in zip(_code_mask(raw), raw, strict=True):
        if segments and segments[-1][0] == is_code:
            segments[-1] = (is_code, f"{segments[-1][1]}\n{line}")
        else:
            segments.append((is_code, line))

    lines: list[str] = []
    for is_code, segment in segments:
        if is_code:
            lines.extend(segment.split("\n"))
            continue
        # Inline code is set aside first, so `<div>` or `[x](y)` inside backticks survive as written.
        spans: list[str] = []

        def hide(match: re.Match[str], spans: list[str] = spans) -> str:
            spans.append(match.group(0))
            return f"\x00{len(spans) - 1}\x00"

        def restore(text: str, spans: list[str] = spans) -> str:
            return _PLACEHOLDER.sub(lambda m: spans[int(m.group(1))], text)

        segment = _INLINE_CODE.sub(hide, segment.replace("\x00", ""))
        segment = _BLOCK_ELEMENTS.sub("\n", segment)
        segment = _HTML_COMMENT.sub("", segment)
        segment = _MDX_COMMENT.sub("", segment)
        segment = _strip_tags(_drop_esm_blocks(segment))
        for line in segment.split("\n"):
            stripped = line.strip()
            if _IMPORT_EXPORT.match(stripped) or _REF_DEF.match(stripped) or _JSX_EXPRESSION.match(stripped):
                continue
            underline = _SETEXT.match(line)
            if underline and lines and _can_be_setext_title(lines[-1]):
                lines[-1] = f"{'#' if underline.group(1)[0] == '=' else '##'} {lines[-1].strip()}"
                continue
            admonition = _ADMONITION.match(line) if stripped.startswith(":::") else None
            if admonition:
                label = admonition.group(2) or admonition.group(3)
                if label:
                    lines.append(restore(_clean_inline(label)))
                continue
            heading = _HEADING.match(line)
            if heading:
                title = _ANCHOR.sub("", heading.group(2))
                lines.append(f"{heading.group(1)} {restore(_clean_inline(title)).strip()}")
                continue
            lines.append(restore(_clean_inline(line)).rstrip())
    return meta, lines


def _drop_esm_blocks(text: str) -> str:
    """Remove MDX ESM blocks: from a line that starts an `import`/`export` statement to the next blank line."""
    kept: list[str] = []
    in_block = False
    for line in text.split("\n"):
        if in_block:
            in_block = bool(line.strip())
            continue
        if not line.startswith((" ", "\t")) and _ESM_START.match(line):
            in_block = True
            continue
        kept.append(line)
    return "\n".join(kept)


def _can_be_setext_title(line: str) -> bool:
    """Whether a cleaned line can be the text of a setext heading.

    A line of prose can; a list item, table row, quote, heading or HTML leftover cannot.
    """
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith(("#", "-", "*", "+", ">", "|", "<")) and not stripped[0].isdigit()


@dataclass(slots=True)
class _Section:
    path: tuple[str, ...]
    lines: list[str]

    @property
    def body(self) -> str:
        return _BLANKS.sub("\n\n", "\n".join(self.lines)).strip()


def _sections(lines: list[str]) -> tuple[str | None, list[_Section]]:
    """Split cleaned lines at headings up to `SPLIT_LEVEL`; returns the first `#` heading and the sections."""
    first_h1: str | None = None
    stack: list[tuple[int, str]] = []
    sections = [_Section((), [])]
    for in_fence, line in zip(_code_mask(lines), lines, strict=True):
        heading = None if in_fence else _HEADING.match(line)
        if heading and len(heading.group(1)) <= SPLIT_LEVEL and heading.group(2).strip():
            level, name = len(heading.group(1)), heading.group(2).strip()
            if level == 1 and first_h1 is None:
                first_h1 = name
                if not any(s.body for s in sections) and not stack:
                    continue  # the document's own title: not a section
            stack = [(lvl, text) for lvl, text in stack if lvl < level] + [(level, name)]
            sections.append(_Section(tuple(text for _, text in stack), []))
            continue
        if heading:  # a deeper heading stays in the text as a plain line
            sections[-1].lines.append(heading.group(2).strip())
            continue
        sections[-1].lines.append(line)
    return first_h1, sections


def _paragraphs(body: str) -> list[str]:
    """Paragraphs of a section body; a fenced code block stays one paragraph."""
    paragraphs: list[str] = []
    current: list[str] = []
    lines = body.split("\n")
    for in_fence, line in zip(_code_mask(lines), lines, strict=True):
        if not line.strip() and not in_fence:
            if current:
                paragraphs.append("\n".join(current))
                current = []
            continue
        current.append(line)
    if current:
        paragraphs.append("\n".join(current))
    return paragraphs


def _split_long(paragraph: str, max_chars: int) -> list[str]:
    """Split one over-long paragraph by sentences (prose) or lines (code, lists, tables).

    A table split across pieces repeats its header row in every piece, so each piece stays readable.
    """
    if len(paragraph) <= max_chars:
        return [paragraph]
    multiline = "\n" in paragraph
    pieces = paragraph.split("\n") if multiline else _SENTENCE_END.split(paragraph)
    header = ""
    if multiline and len(pieces) > 2 and pieces[0].lstrip().startswith("|") and _TABLE_RULE.match(pieces[1]):
        header, pieces = f"{pieces[0]}\n{pieces[1]}", pieces[2:]
    joiner = "\n" if multiline else " "
    out: list[str] = []
    current = header
    for piece in pieces:
        if current and current != header and len(current) + len(joiner) + len(piece) > max_chars:
            out.append(current)
            current = f"{header}\n{piece}" if header else piece
        else:
            current = f"{current}{joiner}{piece}" if current else piece
    if current and current != header:
        if out and len(current) < max_chars // 8 and len(out[-1]) + len(current) <= max_chars * 5 // 4:
            out[-1] = f"{out[-1]}{joiner}{current.removeprefix(header).lstrip()}"  # no tiny tail piece
        else:
            out.append(current)
    return [part for piece in out for part in _hard_split(piece, max_chars * HARD_CAP_FACTOR)]


def _hard_split(text: str, limit: int) -> list[str]:
    """Cut a piece that no sentence or line break could bring under `limit` (a megabyte on one line, say).

    The cut falls at the last space before the limit, or at the limit itself when there is none.
    """
    pieces: list[str] = []
    while len(text) > limit:
        cut = text.rfind(" ", limit // 2, limit)
        cut = cut if cut > 0 else limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*pieces, text] if text else pieces


def _is_caption(paragraph: str) -> bool:
    """A short single line without final punctuation: a label that belongs with what follows it."""
    return "\n" not in paragraph and len(paragraph) < 80 and not paragraph.rstrip().endswith((".", ":", "!", "?", "`"))


def _pack(paragraphs: list[str], max_chars: int) -> list[str]:
    """Greedily pack paragraphs into pieces of at most `max_chars` (a trailing caption moves forward)."""
    pieces: list[list[str]] = []
    current: list[str] = []
    size = 0
    for paragraph in paragraphs:
        for part in _split_long(paragraph, max_chars):
            small_lead = size < max_chars // 4 and size + len(part) <= max_chars * 5 // 4
            if current and size + 2 + len(part) > max_chars and not small_lead:
                carry = [current.pop()] if len(current) > 1 and _is_caption(current[-1]) else []
                pieces.append(current)
                current = carry
                size = sum(len(p) + 2 for p in current)
            current.append(part)
            size += len(part) + 2
    if current:
        pieces.append(current)
    return ["\n\n".join(piece) for piece in pieces]


def chunk_document(doc: str, text: str, *, max_chars: int = MAX_CHARS, min_chars: int = MIN_CHARS) -> list[Chunk]:
    """Chunk one markdown/MDX document.

    Args:
        doc: Document name (file path relative to the knowledge-base folder).
        text: The raw document text.
        max_chars: Size cap of one chunk's text.
        min_chars: Sections shorter than this are merged into the next one.

    Returns:
        The chunks in document order (empty for a document with no text).
    """
    meta, lines = clean_markdown(text)
    first_h1, sections = _sections(lines)
    title = (meta.get("title") or first_h1 or title_from_name(doc)).strip()
    description = meta.get("description", "").strip()
    if description:
        sections[0].lines.insert(0, description + "\n")

    # Merge tiny sections into the following one; a merged section's heading stays as a line of text.
    groups: list[tuple[tuple[str, ...], str]] = []
    for section in sections:
        body = section.body
        if not body:
            continue  # a heading directly followed by a sub-heading: the child's path includes it
        heading = section.path[-1] if section.path else ""
        addition = f"{heading}\n{body}" if heading else body
        if groups and len(groups[-1][1]) < min_chars and len(groups[-1][1]) + 2 + len(addition) <= max_chars:
            path, previous = groups[-1]
            groups[-1] = (path or section.path, f"{previous}\n\n{addition}")
        else:
            groups.append((section.path, body))
    if len(groups) > 1 and len(groups[-1][1]) < min_chars // 2:
        path, body = groups.pop()
        heading = path[-1] if path else ""
        prev_path, previous = groups[-1]
        merged = f"{previous}\n\n{heading}\n{body}" if heading else f"{previous}\n\n{body}"
        if len(merged) <= max_chars:
            groups[-1] = (prev_path, merged)
        else:
            groups.append((path, body))

    chunks: list[Chunk] = []
    for path, body in groups:
        section_name = " > ".join(path)
        for piece in _pack(_paragraphs(body), max_chars):
            if piece.strip():
                chunks.append(Chunk(doc=doc, title=title, section=section_name, index=len(chunks), text=piece.strip()))
    return chunks
