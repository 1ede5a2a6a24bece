"""Incremental ingest into a real embedded Chroma collection with the real embedder."""

from __future__ import annotations

import codecs
import os
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.kb.chunking import chunk_document
from app.kb.ingest import add_document, find_documents, ingest, knowledge_files, read_text, slugify
from app.kb.retrieval import Retriever
from app.kb.store import ChromaStore, collection_name

from .conftest import TINY_KB, CountingEncoder

VALID_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]$")


@pytest.fixture
def store(tmp_path: Path, tiny_kb: Path) -> ChromaStore:
    return ChromaStore(collection_name(tiny_kb), path=tmp_path / "chroma")


def test_incremental_ingest(tiny_kb: Path, store: ChromaStore, counting: CountingEncoder) -> None:
    first = ingest(tiny_kb, store, counting)
    assert sorted(first.added) == sorted(TINY_KB) and not first.updated and not first.removed
    expected_chunks = sum(len(chunk_document(name, text)) for name, text in TINY_KB.items())
    assert first.chunks_embedded == len(counting.texts) == expected_chunks == store.count()
    assert first.as_dict()["docs_added"] == 5

    counting.reset()
    second = ingest(tiny_kb, store, counting)
    assert counting.texts == [] and second.chunks_embedded == 0 and not second.changed
    assert sorted(second.unchanged) == sorted(TINY_KB)

    # A changed document re-embeds only itself.
    (tiny_kb / "shipping-and-delivery.md").write_text(
        "# Shipping and delivery\n\nLumio now ships to Australia by sea freight in 6 weeks.\n", encoding="utf-8"
    )
    counting.reset()
    third = ingest(tiny_kb, store, counting)
    assert third.updated == ["shipping-and-delivery.md"] and not third.added
    assert counting.texts and all(t.startswith("Shipping and delivery") for t in counting.texts)
    assert store.count() == expected_chunks - len(chunk_document("s", TINY_KB["shipping-and-delivery.md"])) + 1

    # A deleted document disappears from the index and from search.
    (tiny_kb / "sso-and-scim.md").unlink()
    fourth = ingest(tiny_kb, store, counting)
    assert fourth.removed == ["sso-and-scim.md"]
    retriever = Retriever(store, counting.inner)
    docs = [p.doc for p in retriever.retrieve("SAML single sign-on with Okta and SCIM", k=5).passages]
    assert "sso-and-scim.md" not in docs
    assert "sso-and-scim.md" not in store.doc_names()


def test_nested_folders_hidden_folders_and_mdx(tmp_path: Path, counting: CountingEncoder) -> None:
    kb = tmp_path / "docs"
    (kb / "guides").mkdir(parents=True)
    (kb / ".git").mkdir()
    (kb / "guides" / "setup.mdx").write_text("# Setup\n\n<Note>Plug in the hub.</Note>\n", encoding="utf-8")
    (kb / ".git" / "ignored.md").write_text("# Hidden\n\nnot a document\n", encoding="utf-8")
    (kb / "notes.txt").write_text("not markdown", encoding="utf-8")
    store = ChromaStore(collection_name(kb), path=tmp_path / "chroma")
    report = ingest(kb, store, counting)
    assert report.added == ["guides/setup.mdx"]
    assert store.table().texts == ["Plug in the hub."]


def test_half_written_document_is_re_embedded(tiny_kb: Path, store: ChromaStore, counting: CountingEncoder) -> None:
    ingest(tiny_kb, store, counting)
    doc = "refund-policy.md"
    assert doc in store.doc_hashes()
    store._collection.delete(ids=[f"{doc}#0"])  # simulate a crash between writes
    assert doc not in store.doc_hashes()
    counting.reset()
    report = ingest(tiny_kb, store, counting)
    assert report.added + report.updated == [doc] and doc in store.doc_hashes()


def test_add_document_writes_markdown_and_indexes_it(
    tiny_kb: Path, store: ChromaStore, counting: CountingEncoder
) -> None:
    ingest(tiny_kb, store, counting)
    counting.reset()
    reviewed = tiny_kb.parent / "home" / "reviewed-answers"
    doc = add_document(reviewed, store, counting, "Do you ship to Iceland?", "Yes: Express only, 4-6 business days.")
    assert doc == "reviewed-answers/do-you-ship-to-iceland.md"
    assert (
        (reviewed / "do-you-ship-to-iceland.md").read_text(encoding="utf-8").startswith("# Do you ship to Iceland?\n")
    )
    assert not (tiny_kb / "reviewed-answers").exists()
    assert len(counting.texts) == 1
    top = Retriever(store, counting.inner).retrieve("do you ship to iceland", k=3).passages[0]
    assert top.doc == doc
    # The next full ingest, with the reviewed folder, sees the file as unchanged; without it, the answer is gone.
    counting.reset()
    report = ingest(tiny_kb, store, counting, reviewed_dir=reviewed)
    assert report.chunks_embedded == 0 and doc in report.unchanged
    assert ingest(tiny_kb, store, counting).removed == [doc]
    with pytest.raises(ValueError):
        add_document(reviewed, store, counting, "  ", "text")


def test_reviewed_answers_in_the_kb_folder_are_still_read_and_the_homes_copy_wins(
    tiny_kb: Path, store: ChromaStore, counting: CountingEncoder
) -> None:
    """Older versions wrote reviewed answers into the KB folder: they stay indexed, under the same name."""
    legacy = tiny_kb / "reviewed-answers" / "can-i-pay-in-bitcoin.md"
    legacy.parent.mkdir()
    legacy.write_text("# Can I pay in bitcoin?\n\nNo, cards and invoices only.\n", encoding="utf-8")
    reviewed = tiny_kb.parent / "home-reviewed"
    reviewed.mkdir()
    (reviewed / "can-i-pay-in-bitcoin.md").write_text("# Can I pay in bitcoin?\n\nNot yet.\n", encoding="utf-8")
    files = knowledge_files(tiny_kb, reviewed)
    assert files["reviewed-answers/can-i-pay-in-bitcoin.md"] == reviewed / "can-i-pay-in-bitcoin.md"
    assert knowledge_files(tiny_kb)["reviewed-answers/can-i-pay-in-bitcoin.md"] == legacy
    ingest(tiny_kb, store, counting, reviewed_dir=reviewed)
    top = Retriever(store, counting.inner).retrieve("pay with bitcoin", k=1).passages[0]
    assert top.doc == "reviewed-answers/can-i-pay-in-bitcoin.md" and "Not yet" in top.text


def test_missing_folder_is_a_clear_error(tmp_path: Path, store: ChromaStore, counting: CountingEncoder) -> None:
    with pytest.raises(FileNotFoundError, match="not found"):
        ingest(tmp_path / "nope", store, counting)


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=0, max_size=300))
def test_collection_names_are_always_valid(name: str) -> None:
    candidate = collection_name(Path("/tmp") / name.replace("/", "_").replace("\x00", "") if name else Path("/"))
    assert VALID_NAME.match(candidate), candidate
    assert ".." not in candidate


def test_slugify() -> None:
    assert slugify("How do I get a refund?") == "how-do-i-get-a-refund"
    assert slugify("Überweisung & SEPA!") == "uberweisung-sepa"
    assert slugify("???") == "untitled"


def test_documents_with_no_text_are_not_a_change_on_every_run(tmp_path: Path, counting: CountingEncoder) -> None:
    kb = tmp_path / "docs"
    kb.mkdir()
    (kb / "empty.md").write_text("", encoding="utf-8")
    (kb / "front.md").write_text("---\ntitle: x\n---\n", encoding="utf-8")
    (kb / "real.md").write_text("# Real\n\nThe hub pairs in five seconds.\n", encoding="utf-8")
    store = ChromaStore(collection_name(kb), path=tmp_path / "chroma")
    first = ingest(kb, store, counting)
    assert first.added == ["real.md"] and first.empty == ["empty.md", "front.md"]
    revision = store.revision()
    second = ingest(kb, store, counting)
    assert not second.changed and second.empty == ["empty.md", "front.md"] and store.revision() == revision
    (kb / "real.md").write_text("", encoding="utf-8")  # a document emptied: its chunks go
    third = ingest(kb, store, counting)
    assert third.updated == ["real.md"] and store.count() == 0
    assert ingest(kb, store, counting).empty == ["empty.md", "front.md", "real.md"]


def test_a_file_name_that_is_not_utf8_does_not_stop_the_rest(tmp_path: Path, counting: CountingEncoder) -> None:
    kb = tmp_path / "docs"
    kb.mkdir()
    (kb / "good.md").write_text("# Good\n\nThe hub pairs in five seconds.\n", encoding="utf-8")
    bad = os.fsdecode(b"bad\xff\xfename.md")  # undecodable bytes, as the file system gives them
    (kb / bad).write_text("# Odd name\n\nSensors report every minute.\n", encoding="utf-8")
    store = ChromaStore(collection_name(kb), path=tmp_path / "chroma")
    report = ingest(kb, store, counting)
    assert sorted(report.added) == ["bad\ufffd\ufffdname.md", "good.md"] and store.count() == 2
    assert not ingest(kb, store, counting).changed  # the readable name is stable from run to run


@pytest.mark.parametrize(
    ("encoded", "name"),
    [
        ("# Café Säntis\n\nThe café’s sensors report every minute.\n".encode("cp1252"), "windows-1252"),
        ("# Café Säntis\n\nThe café's sensors report every minute.\n".encode("latin-1"), "latin-1"),
        ("# Café Säntis\n\nThe café’s sensors report every minute.\n".encode("utf-16"), "utf-16 with its mark"),
        (codecs.BOM_UTF8 + "# Café Säntis\n\nThe café’s sensors report every minute.\n".encode(), "utf-8 with a mark"),
    ],
)
def test_documents_in_other_encodings_are_read_as_written(
    tmp_path: Path, counting: CountingEncoder, encoded: bytes, name: str
) -> None:
    kb = tmp_path / "docs"
    kb.mkdir()
    (kb / "cafe.md").write_bytes(encoded)
    store = ChromaStore(collection_name(kb), path=tmp_path / "chroma")
    assert ingest(kb, store, counting).added == ["cafe.md"], name
    table = store.table()
    chunk = " ".join([*table.titles, *table.sections, *table.texts])
    assert "Café Säntis" in chunk and "café" in chunk and "\ufffd" not in chunk and "\ufeff" not in chunk, chunk


def test_stray_legacy_bytes_in_utf8_do_not_garble_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "mixed.md"
    path.write_bytes("Zürich – ".encode() + "Genève, “Malmö”".encode("cp1252") + " and 5 €.".encode())
    assert read_text(path) == "Zürich – Genève, “Malmö” and 5 €."
    undefined = tmp_path / "undefined.md"  # 0x81 has no Windows-1252 character: only it is read as Latin-1
    undefined.write_bytes("It’s a café — “quoted”".encode("cp1252") + b" \x81")
    assert read_text(undefined) == "It’s a café — “quoted” \x81"


def test_linked_folders_are_read_once_and_links_back_up_do_not_loop(tmp_path: Path) -> None:
    kb = tmp_path / "docs"
    (kb / "guides").mkdir(parents=True)
    (kb / "guides" / "hub.md").write_text("# Hub\n\nPairs in five seconds.\n", encoding="utf-8")
    outside = tmp_path / "shared-docs"
    outside.mkdir()
    (outside / "billing.md").write_text("# Billing\n\nInvoices are monthly.\n", encoding="utf-8")
    (kb / "billing").symlink_to(outside, target_is_directory=True)  # a folder kept elsewhere
    (kb / "guides-copy").symlink_to(kb / "guides", target_is_directory=True)  # the same folder again
    (kb / "guides" / "up").symlink_to(kb, target_is_directory=True)  # a loop
    (kb / "a").mkdir()
    (kb / "a" / "to-z").symlink_to(kb / "z", target_is_directory=True)  # a link met before its real folder
    (kb / "z").mkdir()
    (kb / "z" / "sso.md").write_text("# SSO\n\nSAML on Enterprise.\n", encoding="utf-8")
    (kb / "alias.md").symlink_to(kb / "z" / "sso.md")  # a linked file inside the folder: read once
    assert list(find_documents(kb)) == ["billing/billing.md", "guides/hub.md", "z/sso.md"]
