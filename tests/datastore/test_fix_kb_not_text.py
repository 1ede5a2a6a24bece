"""Ingest reads UTF-16/32 without a byte-order mark as text and reports files that are not text as such."""

from __future__ import annotations

import codecs
import json
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from app.cli.main import main
from app.kb.ingest import NotTextError, ingest, read_text
from app.kb.store import ChromaStore, collection_name

TEXT = "# Возврат средств\n\nГодовые планы возвращаются в течение 30 дней — “без вопросов”.\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00" + bytes(64)


class HashEncoder:
    """Deterministic unit vectors (no model): enough for the store."""

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> NDArray[np.float32]:
        rows = [np.random.default_rng(zlib.crc32(t.encode())).standard_normal(384) for t in texts]
        out = np.array(rows, dtype=np.float32).reshape(len(texts), 384)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_wide_text_without_a_byte_order_mark_is_read_as_written(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "refunds.md"
    path.write_bytes(TEXT.encode(encoding))
    assert read_text(path) == TEXT


@pytest.mark.parametrize(
    "data",
    [PNG, bytes(range(256)) * 8, b"\x00" * 64],
    ids=["png", "all-bytes", "nul-bytes"],
)
def test_binary_content_is_not_text(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "image.md"
    path.write_bytes(data)
    with pytest.raises(NotTextError, match="image.md is not UTF-8 text"):
        read_text(path)


def test_a_stray_control_byte_in_legacy_text_is_still_text(tmp_path: Path) -> None:
    path = tmp_path / "legacy.md"
    path.write_bytes("It’s a café — “quoted”".encode("cp1252") + b" \x81")
    assert read_text(path) == "It’s a café — “quoted” \x81"


def test_ingest_reports_files_that_are_not_text_and_not_as_empty(tmp_path: Path) -> None:
    kb = tmp_path / "docs"
    kb.mkdir()
    (kb / "good.md").write_text("# Shipping\n\nWe ship worldwide in five days.\n", encoding="utf-8")
    (kb / "wide.md").write_bytes(TEXT.encode("utf-16-le"))  # no byte-order mark
    (kb / "marked.md").write_bytes(codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"))
    (kb / "image.md").write_bytes(PNG)
    (kb / "blank.md").write_text("", encoding="utf-8")
    store = ChromaStore(collection_name(kb), path=tmp_path / "chroma")
    report = ingest(kb, store, HashEncoder())
    assert sorted(report.added) == ["good.md", "marked.md", "wide.md"]
    assert report.empty == ["blank.md"] and report.not_text == ["image.md"]
    data = report.as_dict()
    assert data["docs_not_text"] == 1 and data["not_text"] == ["image.md"] and data["docs_empty"] == 1
    assert {"added", "updated", "unchanged", "removed", "empty", "docs_empty"} <= set(data)  # keys kept
    texts = " ".join(store.table().texts)
    assert "Годовые планы" in texts and "\x00" not in texts and "PNG" not in texts

    (kb / "wide.md").write_bytes(PNG)  # a document that turns into binary: skipped and its chunks removed
    again = ingest(kb, store, HashEncoder())
    assert again.not_text == ["image.md", "wide.md"] and again.removed == ["wide.md"]
    assert "Годовые планы" in " ".join(store.table().texts)  # marked.md still says it


def test_kb_ingest_cli_names_the_files_it_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kb = tmp_path / "docs"
    kb.mkdir()
    (kb / "good.md").write_text("# Shipping\n\nWe ship worldwide in five days.\n", encoding="utf-8")
    (kb / "image.md").write_bytes(PNG)
    assert main(["kb", "ingest", str(kb)]) == 0
    out = capsys.readouterr().out
    assert "1 added" in out and "1 not UTF-8 text (skipped: image.md)" in out and "with no text" not in out
    assert main(["kb", "ingest", str(kb), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["not_text"] == ["image.md"] and report["docs_not_text"] == 1 and report["empty"] == []
