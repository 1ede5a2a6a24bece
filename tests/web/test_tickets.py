"""The ticket API and `gtm ticket create|show|update|list --json`, including the link to an escalation's review."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from app.cli import ticket_cmd
from app.cli.main import main as gtm
from app.reviews import ReviewStore
from app.settings import get_settings
from app.tickets import CHANNELS, PRIORITIES, STATUSES, TicketError, TicketStore


@pytest.fixture
def business_db(tmp_path: Path, web_seeded_db: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "business.db"
    shutil.copy(web_seeded_db, db)
    monkeypatch.setenv("GTM_DATABASE_URL", f"sqlite:///{db}")
    get_settings.cache_clear()
    return db


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    code = gtm(list(args))
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code == 0 else {"error": captured.err})


def test_ticket_cli_round_trip(business_db: Path, capsys: pytest.CaptureFixture[str]):
    code, created = run(
        capsys,
        "ticket",
        "create",
        "--subject",
        "Hub offline after firmware update",
        "--priority",
        "high",
        "--category",
        "hardware",
        "--customer",
        "C00001",
        "--json",
    )
    assert code == 0 and created["status"] == "open" and created["priority"] == "high"
    number = created["id"]

    code, shown = run(capsys, "ticket", "show", f"#{number}", "--json")
    assert code == 0 and shown["subject"] == "Hub offline after firmware update" and shown["review"] is None

    code, updated = run(
        capsys, "ticket", "update", str(number), "--status", "pending", "--priority", "urgent", "--json"
    )
    assert code == 0 and (updated["status"], updated["priority"]) == ("pending", "urgent")
    assert updated["updated_at"] >= created["updated_at"]

    code, listed = run(capsys, "ticket", "list", "--status", "pending", "--priority", "urgent", "--json")
    assert code == 0 and number in [t["id"] for t in listed["tickets"]]
    assert all(t["status"] == "pending" and t["priority"] == "urgent" for t in listed["tickets"])


@pytest.mark.parametrize(
    "args,needle",
    [
        (["ticket", "show", "999999"], "no ticket #999999"),
        (["ticket", "show", "abc"], "invalid ticket number"),
        (["ticket", "show", "99999999999999999999999"], "no ticket #99999999999999999999999"),
        (["ticket", "update", "99999999999999999999999", "--status", "solved"], "no ticket #9999999999999999"),
        (["ticket", "update", "1"], "nothing to update"),
        (["ticket", "create", "--subject", "  "], "subject is empty"),
        (["ticket", "create", "--subject", "x", "--customer", "NOPE"], "no customer"),
        (["ticket", "list", "--limit", "0"], "limit must be between"),
    ],
)
def test_ticket_cli_errors_are_one_line(business_db: Path, capsys: pytest.CaptureFixture[str], args, needle):
    assert gtm(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]


async def test_escalation_ticket_shows_its_review_and_is_solved_by_the_decision(
    business_db: Path, capsys: pytest.CaptureFixture[str]
):
    from app.services import business_engine

    engine = business_engine(get_settings())
    reviews = ReviewStore(engine)
    review_id = await reviews.open_review(
        thread_id="t-1",
        request_message_id="m-1",
        question="Do you sell gift cards?",
        draft="We do not know.",
        confidence=0.2,
        passages=[{"doc": "plans-and-pricing.md", "section": "Plans", "score": 0.4, "text": "..."}],
        requester="sam",
    )
    store = TicketStore(engine)
    ticket = store.by_review(review_id)
    assert ticket is not None and ticket["status"] == "open" and ticket["category"] == "escalation"

    code, shown = run(capsys, "ticket", "show", str(ticket["id"]), "--json")
    assert code == 0 and shown["review"]["review_id"] == review_id and shown["review"]["status"] == "pending"
    assert shown["review"]["passages"] == [{"doc": "plans-and-pricing.md", "section": "Plans", "score": 0.4}]

    await reviews.claim(review_id, "rita")
    await reviews.complete(review_id, "edit", "rita", "No gift cards, sorry. Was this helpful?", "checked with sales")
    code, shown = run(capsys, "ticket", "show", str(ticket["id"]), "--json")
    assert code == 0 and shown["status"] == "solved"
    review = shown["review"]
    assert (review["decision"], review["decided_by"], review["final_answer"]) == (
        "edit",
        "rita",
        "No gift cards, sorry. Was this helpful?",
    )
    assert [a["note"] for a in review["audit"]] == ["checked with sales"]

    assert gtm(["ticket", "show", str(ticket["id"])]) == 0
    text = capsys.readouterr().out
    assert f"review {review_id}: decided, edit by rita" in text
    code, listed = run(capsys, "ticket", "list", "--review", review_id, "--json")
    assert [t["id"] for t in listed["tickets"]] == [ticket["id"]]


def test_cli_choices_match_the_api():
    assert (ticket_cmd.STATUSES, ticket_cmd.PRIORITIES, ticket_cmd.CHANNELS) == (STATUSES, PRIORITIES, CHANNELS)
    with pytest.raises(TicketError, match="unknown status"):
        TicketStore.__new__(TicketStore).update(1, status="lost")
