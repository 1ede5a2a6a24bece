"""Sheets attached in the chat: checks, saving, and the Finance agent answering about the exact file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.web import uploads
from graph.llm.slots import fill_arguments

CSV = "vendor,amount,month\nAcme,1200.50,Jan\nGlobex,800,Feb\nAcme,99.5,Feb\n"


@dataclass
class FakeElement:
    """What Chainlit hands over for an attached file."""

    name: str
    path: str
    size: int | None = None


def _file(tmp_path: Path, name: str, data: bytes) -> FakeElement:
    path = tmp_path / "incoming" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    return FakeElement(name=name, path=str(path), size=len(data))


async def test_csv_is_saved_with_a_unique_name(tmp_path: Path) -> None:
    folder = tmp_path / "home" / "uploads" / "thread-1"
    outcome = await uploads.save_uploads([_file(tmp_path, "Q3 spend.csv", CSV.encode())], folder)
    assert outcome.refused == []
    [name] = outcome.saved
    assert name.startswith("Q3-spend-") and name.endswith(".csv")
    assert (folder / name).read_text() == CSV


async def test_other_types_large_and_fake_files_are_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(uploads, "MAX_UPLOAD_BYTES", 100)
    elements = [
        _file(tmp_path, "notes.pdf", b"%PDF-1.4"),
        _file(tmp_path, "big.csv", b"a,b\n" + b"1,2\n" * 100),
        _file(tmp_path, "fake.xlsx", b"not a zip"),
        _file(tmp_path, "empty.csv", b""),
        FakeElement(name="gone.csv", path=str(tmp_path / "missing.csv")),
    ]
    outcome = await uploads.save_uploads(elements, tmp_path / "home")
    assert outcome.saved == []
    assert len(outcome.refused) == 5
    assert "only CSV and XLSX" in outcome.refused[0]
    assert "the limit is" in outcome.refused[1]
    assert "not a valid XLSX" in outcome.refused[2]
    assert "empty" in outcome.refused[3]
    assert "could not be read" in outcome.refused[4]


def test_request_names_the_attachment_and_the_tool_reads_it() -> None:
    assert uploads.with_attachments("", ["a-1.csv"]) == "Describe and total this sheet (attached: a-1.csv)"
    request = uploads.with_attachments("What is the total?", ["a-1.csv"])
    schema = {"properties": {"sql": {"type": "string"}, "file": {"type": "string"}}}
    assert fill_arguments(schema, request) == [{"file": "a-1.csv"}]
    assert fill_arguments(schema, "select sum(amount) from sheet (attached: a-1.csv)") == [
        {"sql": "select sum(amount) from sheet", "file": "a-1.csv"}
    ]


async def test_finance_agent_totals_the_attached_sheet(web) -> None:
    home = web.settings.home
    (home / "uploads").mkdir(exist_ok=True)
    name = uploads.safe_name("spend.csv")
    (home / "uploads" / name).write_text(CSV)
    copilot = await web.copilot()
    try:
        result = await copilot.ask(uploads.with_attachments("", [name]))
    finally:
        (home / "uploads" / name).unlink()
    assert result.route == "finance"
    assert name in result.answer
    assert "2,100.00" in result.answer


async def test_a_threads_attachment_is_read_by_that_thread_only(web) -> None:
    """One user's sheet is never another thread's answer; the thread that attached it reads it in follow-ups."""
    settings = web.settings
    mine, theirs = "thread-with-the-sheet", "another-users-thread"
    folder = settings.uploads_path(mine)
    assert folder.parent == settings.uploads_path() and folder != settings.uploads_path(theirs)
    folder.mkdir(parents=True)
    name = uploads.safe_name("spend.csv")
    (folder / name).write_text(CSV)
    copilot = await web.copilot()
    try:
        first = await copilot.ask(uploads.with_attachments("", [name]), thread_id=mine)
        assert first.route == "finance" and name in first.answer and "2,100.00" in first.answer
        other = await copilot.ask("Describe and total the uploaded sheet", thread_id=theirs)
        assert name not in other.answer and "2,100.00" not in other.answer
        assert "no sheet uploaded yet" in other.answer
        named = await copilot.ask(f"Describe and total this sheet (attached: {name})", thread_id="a-third-thread")
        assert "2,100.00" not in named.answer and f"no uploaded sheet named '{name}'" in named.answer
        again = await copilot.ask("Describe and total the uploaded sheet", thread_id=mine)  # no attachment this time
        assert name in again.answer and "2,100.00" in again.answer
    finally:
        (folder / name).unlink()
