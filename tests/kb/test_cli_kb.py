"""`gtm kb ingest|search|add|calibrate` through the real entry point."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from app.cli.main import main
from app.embeddings import Embedder
from app.settings import get_settings

from .conftest import TINY_KB, write_kb


@pytest.fixture
def cli_kb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, embedder: Embedder) -> Path:
    kb = write_kb(tmp_path / "cli-kb", TINY_KB)
    monkeypatch.setenv("GTM_KB_DIR", str(kb))
    get_settings.cache_clear()
    return kb


def _lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_ingest_then_search_json(cli_kb: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kb", "ingest", "--json"]) == 0
    report = _lines(capsys.readouterr().out)[0]
    assert report["docs_added"] == 5 and report["total_chunks"] >= 5
    assert main(["kb", "ingest", str(cli_kb), "--json"]) == 0
    assert _lines(capsys.readouterr().out)[0]["chunks_embedded"] == 0

    assert main(["kb", "search", "how much is express shipping", "--json", "-k", "2"]) == 0
    result = _lines(capsys.readouterr().out)
    assert len(result) == 1
    assert set(result[0]) >= {"results", "confidence"}
    assert len(result[0]["results"]) == 2
    first = result[0]["results"][0]
    assert set(first) >= {"doc", "section", "score", "text"}
    assert first["doc"] == "shipping-and-delivery.md" and "$35" in first["text"]
    assert 0.0 <= result[0]["confidence"] <= 1.0


def test_search_stdin_batch(cli_kb: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    queries = "refund for an annual plan\n\n429 too many requests\nbattery life\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(queries))
    assert main(["kb", "search", "-", "--json"]) == 0
    out = _lines(capsys.readouterr().out)
    assert [o["results"][0]["doc"] for o in out] == [
        "refund-policy.md",
        "api-access-and-rate-limits.md",
        "battery-life-and-replacement.md",
    ]
    assert [o["query"] for o in out] == ["refund for an annual plan", "429 too many requests", "battery life"]


def test_a_query_that_is_not_utf8_gets_its_own_error_and_the_batch_goes_on(
    cli_kb: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = b"refund for an annual plan\ncaf\xe9 walrus\nbattery life\n"  # Latin-1 bytes in a UTF-8 stream
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8", errors="surrogateescape"))
    assert main(["kb", "search", "-", "--json"]) == 0
    first, bad, last = _lines(capsys.readouterr().out)
    assert first["results"][0]["doc"] == "refund-policy.md" and last["results"][0]["doc"].startswith("battery")
    assert bad == {"query": "caf\ufffd walrus", "error": bad["error"]} and "not valid UTF-8" in bad["error"]
    assert main(["kb", "search", "caf\udce9"]) == 2  # one query: a one-line error, no traceback
    assert "not valid UTF-8" in capsys.readouterr().err


def test_search_plain_text_and_errors(cli_kb: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kb", "search", "okta single sign-on"]) == 0
    out = capsys.readouterr().out
    assert "confidence" in out and "sso-and-scim.md" in out
    assert main(["kb", "search", "   ", "--json"]) == 2
    assert "empty" in capsys.readouterr().err
    assert main(["kb", "search", "refund", "-k", "0"]) == 2
    assert "between 1 and 50" in capsys.readouterr().err
    assert main(["kb", "ingest", str(cli_kb / "missing")]) == 2
    assert "not found" in capsys.readouterr().err


def test_search_with_no_index_and_no_folder_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], embedder: Embedder
) -> None:
    monkeypatch.setenv("GTM_KB_DIR", str(tmp_path / "nope"))
    get_settings.cache_clear()
    assert main(["kb", "search", "refund", "--json"]) == 2
    err = capsys.readouterr().err
    assert "knowledge base is empty" in err and "nope" in err and "GTM_KB_DIR" in err


def test_add_document(cli_kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    body = tmp_path / "answer.md"
    body.write_text("Yes, Lumio ships to Iceland with Express only.", encoding="utf-8")
    assert main(["kb", "add", "Do you ship to Iceland?", str(body), "--json"]) == 0
    doc = _lines(capsys.readouterr().out)[0]["doc"]
    assert (get_settings().reviewed_path / doc.removeprefix("reviewed-answers/")).is_file()
    assert not (cli_kb / "reviewed-answers").exists()
    assert main(["kb", "search", "shipping to iceland", "--json", "-k", "1"]) == 0
    assert _lines(capsys.readouterr().out)[0]["results"][0]["doc"] == doc


def test_calibrate_writes_a_model(cli_kb: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    questions = tmp_path / "labelled.jsonl"
    rows = [
        ("refund on an annual plan", True),
        ("express shipping price", True),
        ("okta sso", True),
        ("battery life of the sensors", True),
        ("API rate limit on growth", True),
        ("what is the capital of Mongolia", False),
        ("best pizza recipe", False),
        ("who won the world cup", False),
    ]
    questions.write_text("\n".join(json.dumps({"question": q, "answerable": a}) for q, a in rows), encoding="utf-8")
    output = tmp_path / "model.json"
    assert main(["kb", "calibrate", "--questions", str(questions), "--output", str(output), "--json"]) == 0
    summary = _lines(capsys.readouterr().out)[0]
    assert output.is_file() and summary["questions"] == 8
    assert json.loads(output.read_text())["meta"]["fitted_on"] == str(questions)
