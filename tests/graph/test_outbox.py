"""Win-back outbox: pause for approval, send through a real SMTP server on loopback, exactly once;
and the weekly report, with each agent writing its own section, written to files by `gtm report`."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from langgraph.checkpoint.memory import InMemorySaver

from app.reviews import ReviewConflict
from app.runtime import Copilot, InvalidDecision, NoPendingApproval
from app.services import build_services
from app.settings import REPO_ROOT, Settings
from graph.context import Context
from graph.review import OutboxDecision
from graph.tools.marketing import SENDER_NAME, SENDER_ROLE
from tests.server_process import free_port
from tests.smtp_sink import Inbox

WINBACK = "Launch a win-back campaign for churned customers"


@dataclass
class SmtpServer:
    inbox: Inbox
    controller: Controller
    port: int


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on loopback, on a free port."""
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield SmtpServer(inbox, controller, port)
    try:
        controller.stop()
    except AssertionError:  # already stopped by the test
        pass


@pytest.fixture
def winback_settings(tmp_path: Path, seeded_db: Path, smtp: SmtpServer) -> Settings:
    """Settings pointing at the test SMTP server (no knowledge-base index: these routes do not search it)."""
    db = tmp_path / "business.db"
    shutil.copy(seeded_db, db)
    return Settings(
        home=tmp_path / "home",
        kb_dir=REPO_ROOT / "knowledge_base",
        database_url=f"sqlite:///{db}",
        checkpoint_url=str(tmp_path / "checkpoints.db"),
        llm_provider="offline",
        retry_wait_min_s=0.0,
        retry_wait_max_s=0.0,
        smtp_port=smtp.port,
        smtp_timeout_s=5.0,
    )


@pytest.fixture
async def copilot(winback_settings: Settings) -> AsyncIterator[Copilot]:
    async with Copilot.open(
        winback_settings, services=build_services(winback_settings), checkpointer=InMemorySaver()
    ) as c:
        yield c


async def _paused(copilot: Copilot, smtp: SmtpServer) -> tuple[str, dict[str, str]]:
    """Launch a win-back and check it stops before sending; return the thread and the emails by customer."""
    result = await copilot.ask(WINBACK, user_id="maya@lumio.io")
    assert result.route == "sequential:insights,marketing,finance"
    assert result.pending_approval and not result.escalated
    thread = await copilot.thread(result.thread_id)
    assert thread["status"] == "pending_approval" and thread["review_id"] is None

    items = await copilot.outbox_items(result.thread_id)
    state = (await copilot.graph.aget_state({"configurable": {"thread_id": result.thread_id}})).values
    assert [i.customer_id for i in items] == list(state["email_drafts"]) and len(items) >= 5
    assert {i.status for i in items} == {"draft"}
    assert all(i.email and "@" in i.email for i in items)
    assert smtp.inbox.messages == []  # nothing leaves before the approval

    # The requester saw the selected customers, sample drafts, cost and ROI before the pause.
    answer = result.answer
    assert f"${state['campaign_cost']:,.0f}" in answer and "ROI" in answer
    assert all(i.customer_id in answer for i in items[:5])
    assert items[0].subject in answer and items[0].subject != "A note from Lumio"
    assert "Nothing has been sent" in answer
    assert "[offline model]" not in items[0].body  # the chat marker does not go into customers' inboxes
    return result.thread_id, {i.customer_id: str(i.email) for i in items}


async def test_approve_with_a_drop_and_an_edit_sends_each_approved_email_once(copilot: Copilot, smtp: SmtpServer):
    thread_id, emails = await _paused(copilot, smtp)
    ids = list(emails)
    edited, dropped = ids[0], ids[1]

    assert await copilot.pending_reviews() == []  # support reviewers do not see outbox approvals
    assert [p["thread_id"] for p in await copilot.pending_approvals()] == [thread_id]
    with pytest.raises(ReviewConflict, match="waiting for approval"):
        await copilot.ask("what was our CAC?", thread_id=thread_id)
    with pytest.raises(InvalidDecision, match="NOPE"):
        await copilot.decide_outbox(thread_id, OutboxDecision(action="approve_some", drop=["NOPE"]))

    new_text = "Subject: We saved you a seat\n\nHi there — a personal note from the team. Code WB-2024 inside."
    decision = OutboxDecision(action="approve_some", drop=[dropped], edits={edited: new_text}, reviewer="rita")
    result = await copilot.decide_outbox(thread_id, decision)

    received = smtp.inbox.messages
    assert len(received) == len(ids) - 1
    assert sorted(a for m in received for a in [m["To"].addresses[0].addr_spec]) == sorted(
        emails[c] for c in ids if c != dropped
    )
    assert smtp.inbox.to(emails[dropped]) == []
    [sent_edit] = smtp.inbox.to(emails[edited])
    assert sent_edit["Subject"] == "We saved you a seat"
    # The approver's text is sent as written, and the compliance footer it lacked is re-appended.
    content = sent_edit.get_content().replace("\r\n", "\n").strip()  # SMTP line endings
    assert content.startswith("Hi there — a personal note from the team. Code WB-2024 inside.\n\nBest regards,")
    assert f"{SENDER_NAME}\n{SENDER_ROLE}, Lumio" in content
    assert content.endswith(f"Unsubscribe: https://lumio.io/unsubscribe?customer={edited}")
    assert sent_edit["From"] == "Lumio <hello@lumio.io>" and sent_edit["X-GTM-Customer"] == edited
    for message in received:  # every marketing email: a List-Unsubscribe header and the footer's link
        customer = message["X-GTM-Customer"]
        assert message["List-Unsubscribe"] == f"<https://lumio.io/unsubscribe?customer={customer}>"
        assert f"\nUnsubscribe: https://lumio.io/unsubscribe?customer={customer}" in message.get_content()
    assert f"{edited}: the approver's edit had no sender signature, postal address or unsubscribe link" in result.answer

    items = {i.customer_id: i for i in await copilot.outbox_items(thread_id)}
    assert items[dropped].status == "dropped" and items[edited].original_body and items[edited].decided_by == "rita"
    assert items[edited].body == content  # the outbox records the text that was sent
    assert {i.status for c, i in items.items() if c != dropped} == {"sent"}
    assert sorted(m["Message-ID"] for m in received) == sorted(i.message_id for c, i in items.items() if c != dropped)

    assert f"sent {len(ids) - 1}, dropped 1, failed 0" in result.answer
    assert not result.pending_approval and result.errors == []
    thread = await copilot.thread(thread_id)
    assert thread["status"] == "complete"
    state = (await copilot.graph.aget_state({"configurable": {"thread_id": thread_id}})).values
    assert state["send_status"] == {c: c != dropped for c in ids}

    # Deciding again: nothing is pending, nothing is sent.
    with pytest.raises(NoPendingApproval):
        await copilot.decide_outbox(thread_id, OutboxDecision(action="approve_all"))

    # Retrying the run from staging, from the approval and from the sending step (time travel):
    # no duplicate outbox rows, and still no email twice.
    config = {"configurable": {"thread_id": thread_id}}
    history = [s async for s in copilot.graph.aget_state_history(config)]
    replayed = []
    for snapshot in history:
        if snapshot.next in (("stage_outbox",), ("approve_send",), ("send_emails",)):
            replayed.append(snapshot.next[0])
            await copilot.graph.ainvoke(None, snapshot.config, context=Context(services=copilot.services))
    assert sorted(replayed) == ["approve_send", "send_emails", "stage_outbox"]
    assert len(smtp.inbox.messages) == len(ids) - 1
    assert len(await copilot.outbox_items(thread_id)) == len(ids)
    assert f"sent {len(ids) - 1}, dropped 1, failed 0" in (await copilot.thread(thread_id))["last_answer"]


async def test_reject_sends_nothing(copilot: Copilot, smtp: SmtpServer):
    thread_id, emails = await _paused(copilot, smtp)
    result = await copilot.decide_outbox(
        thread_id, OutboxDecision(action="reject", reviewer="lee", note="Budget frozen this month")
    )
    assert smtp.inbox.messages == []
    assert {i.status for i in await copilot.outbox_items(thread_id)} == {"dropped"}
    assert "rejected by lee" in result.answer and "Budget frozen this month" in result.answer


async def test_smtp_failure_is_recorded_per_recipient_without_crashing(copilot: Copilot, smtp: SmtpServer):
    thread_id, emails = await _paused(copilot, smtp)
    smtp.controller.stop()  # the mail server goes away before the approval

    result = await copilot.decide_outbox(thread_id, OutboxDecision(action="approve_all", reviewer="rita"))
    items = await copilot.outbox_items(thread_id)
    assert {i.status for i in items} == {"failed"}
    assert all("cannot connect to the SMTP server" in (i.error or "") for i in items)
    assert f"sent 0, dropped 0, failed {len(emails)}" in result.answer and "FAILED" in result.answer
    assert len(result.errors) == len(emails)
    assert (await copilot.thread(thread_id))["status"] == "complete"


async def test_weekly_report_sections_are_written_by_each_agents_model(winback_settings: Settings):
    from collections import Counter

    from graph.llm.offline import OfflineChatModel

    calls: Counter[str] = Counter()

    class CountingModel(OfflineChatModel):
        def _respond(self, messages):
            calls[f"{self.agent}:{messages[-1].additional_kwargs.get('gtm_task')}"] += 1
            return super()._respond(messages)

    def counting(role, settings):
        return CountingModel(agent=role)

    services = build_services(winback_settings, model_factory=counting)
    async with Copilot.open(winback_settings, services=services, checkpointer=InMemorySaver()) as copilot:
        result = await copilot.ask("give me the weekly report")
        state = (await copilot.graph.aget_state({"configurable": {"thread_id": result.thread_id}})).values
    assert result.route == "parallel" and result.errors == []
    sections = state["results"]["report"]["sections"]
    for agent in ("marketing", "finance", "insights", "support"):
        assert calls[f"{agent}:supervisor.report_section"] == 1
        assert sections[agent]["ok"] and sections[agent]["summary"]
        # the agent's section text is what the report shows under its title
        first_line = sections[agent]["summary"].removeprefix("[offline model]").strip().splitlines()[0]
        assert first_line in result.answer
    assert calls["supervisor:supervisor.weekly_report"] == 1


def test_report_cli_writes_markdown_and_html(
    winback_settings: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
):
    from app.cli.main import main
    from app.settings import get_settings

    for name, value in {
        "GTM_HOME": str(winback_settings.home),
        "GTM_DATABASE_URL": str(winback_settings.database_url),
        "GTM_CHECKPOINT_URL": str(winback_settings.checkpoint_url),
        "GTM_KB_DIR": str(winback_settings.kb_dir),
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    md, page = tmp_path / "weekly.md", tmp_path / "weekly.html"
    assert main(["report", "weekly", "--out", str(md), "--out", str(page), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["failed_sections"] == [] and out["charts"] >= 3

    text = md.read_text()
    titles = ("Marketing performance", "Revenue and unit economics", "Segments and churn risk", "Support volume")
    assert text.startswith("# Weekly GTM report")
    for title in titles:
        assert f"## {title}" in text
    assert "ROAS" in text and "forecast" in text.lower()

    html = page.read_text()
    for title in titles:
        assert title in html
    assert html.count('<div class="chart">') == out["charts"]
    assert not re.search(r"<script[^>]+src=", html)  # plotly.js is inlined once: the page works offline
    assert html.count("plotly.js v") == 1
    first_chart = html.index('<div class="chart">')
    assert html.index("Marketing performance") < first_chart < html.index("Revenue and unit economics")

    assert main(["report", "weekly", "--out", str(tmp_path / "weekly.pdf")]) == 2
    assert "use .md or .html" in capsys.readouterr().err


def _cli_environment(monkeypatch: pytest.MonkeyPatch, settings: Settings, smtp: SmtpServer, **extra: str) -> None:
    """Point the `gtm` CLI, run in this process, at the test's home, databases and SMTP server."""
    from app.settings import get_settings

    for name, value in {
        "GTM_HOME": str(settings.home),
        "GTM_DATABASE_URL": str(settings.database_url),
        "GTM_CHECKPOINT_URL": str(settings.checkpoint_url),
        "GTM_KB_DIR": str(settings.kb_dir),
        "GTM_SMTP_PORT": str(smtp.port),
        "GTM_LLM_PROVIDER": "offline",
        **extra,
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


async def test_outbox_retry_resends_only_failed_emails_once_each(
    winback_settings: Settings, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch, capsys
):
    from app.cli.main import main
    from app.settings import get_settings

    async with Copilot.open(winback_settings, services=build_services(winback_settings)) as copilot:  # SQLite
        thread_id, emails = await _paused(copilot, smtp)
        smtp.controller.stop()  # the mail server is down when the approval comes in
        await copilot.decide_outbox(thread_id, OutboxDecision(action="approve_all", reviewer="rita"))
        assert {i.status for i in await copilot.outbox_items(thread_id)} == {"failed"}

    restarted = Controller(smtp.inbox, hostname="127.0.0.1", port=smtp.port)
    restarted.start()
    try:
        _cli_environment(monkeypatch, winback_settings, smtp)
        first, *rest = sorted(emails)

        assert await asyncio.to_thread(main, ["outbox", "retry", thread_id, "--only", first, "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["sent"] == [first] and out["failed"] == {}
        assert out["outbox"][first] == "sent" and {out["outbox"][c] for c in rest} == {"failed"}
        assert len(smtp.inbox.messages) == 1 and emails[first] in str(smtp.inbox.messages[0]["To"])

        assert await asyncio.to_thread(main, ["outbox", "retry", thread_id, "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert sorted(out["sent"]) == rest and set(out["outbox"].values()) == {"sent"}
        for customer, address in emails.items():
            assert len(smtp.inbox.to(address)) == 1, customer  # exactly one email per recipient, after two retries
        ids = [m["Message-ID"] for m in smtp.inbox.messages]
        assert len(set(ids)) == len(emails)

        assert (
            await asyncio.to_thread(main, ["outbox", "retry", thread_id]) == 2
        )  # nothing left to retry: a clear error, no send
        assert "has no failed emails" in capsys.readouterr().err
        assert len(smtp.inbox.messages) == len(emails)
        assert await asyncio.to_thread(main, ["outbox", "retry", thread_id, "--only", "C99999"]) == 2
        assert "no failed email for C99999" in capsys.readouterr().err
    finally:
        restarted.stop()
        get_settings.cache_clear()

    async with Copilot.open(winback_settings, services=build_services(winback_settings)) as copilot:
        state = (await copilot.graph.aget_state({"configurable": {"thread_id": thread_id}})).values
        assert state["send_status"] == dict.fromkeys(emails, True)
        thread = await copilot.thread(thread_id)
        assert thread["status"] == "complete"
        # The thread shows the outcome after the retries, not the failures from before them.
        assert state["results"]["outbox"]["data"] == {
            "sent": len(emails),
            "dropped": 0,
            "failed": 0,
            "recipients": len(emails),
        }
        assert f"Win-back emails: sent {len(emails)}, dropped 0, failed 0" in thread["last_answer"]
        assert f"Retried the failed emails: {len(rest)} sent now, 0 still failing" in thread["last_answer"]
        assert "FAILED" not in thread["last_answer"] and f"failed {len(emails)}" not in thread["last_answer"]
        assert thread["last_answer"] == state["answer"]


def test_a_sample_draft_is_shown_whole_with_its_line_breaks() -> None:
    """The chat showed a sample as one run-on paragraph cut at 700 characters, mid-way through the unsubscribe link."""
    from graph.nodes.outbox import quoted_body

    body = "Hi Ana,\n\nYour data is kept until March 4.\n\n" + "More words. " * 80 + "\n\nBest regards,\nMaria Jensen\n"
    body += "Unsubscribe: https://lumio.io/unsubscribe?customer=C00042"
    quoted = quoted_body(body)
    lines = quoted.splitlines()
    assert lines[0] == "Body:" and lines[1] == "  > Hi Ana," and lines[2] == "  >"
    assert "  > Best regards," in lines and "  > Maria Jensen" in lines  # one line each, as sent
    assert lines[-1] == "  > Unsubscribe: https://lumio.io/unsubscribe?customer=C00042"


async def test_a_cli_rejection_is_left_in_the_requesters_chat_history(
    winback_settings: Settings, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch, capsys
):
    """`gtm outbox reject` leaves the outcome in the web chat thread, as the console does, for a requester who left."""
    from app.cli.main import main
    from app.settings import get_settings
    from app.web import history
    from app.web.review_watch import outbox_message, outbox_message_id
    from tests.web.test_history import _thread_for

    async with Copilot.open(winback_settings, services=build_services(winback_settings)) as copilot:  # SQLite
        thread_id, _ = await _paused(copilot, smtp)
        _, pending = await copilot.pending_approval(thread_id)
    chat = winback_settings.model_copy(
        update={"history_url": f"sqlite+aiosqlite:///{winback_settings.home / 'chainlit.db'}"}
    )
    history.configure(chat)
    await history.init_history(chat)
    await _thread_for(history.data_layer(), "staff", WINBACK, thread_id=thread_id)
    await history.close_history()
    _cli_environment(monkeypatch, winback_settings, smtp, GTM_HISTORY_URL=str(chat.history_url))
    try:
        note = "Hold until the pricing page is updated"
        code = await asyncio.to_thread(main, ["outbox", "reject", thread_id, "--note", note, "--reviewer", "rita"])
        assert code == 0
        out = capsys.readouterr().out
        assert await asyncio.to_thread(main, ["outbox", "reject", thread_id, "--note", "again", "--json"]) == 2
    finally:
        get_settings.cache_clear()
    assert smtp.inbox.messages == []
    history.configure(chat)
    thread = await history.data_layer().get_thread(thread_id)
    await history.close_history()
    assert thread is not None
    outcomes = [s for s in thread["steps"] if s["id"] == outbox_message_id(thread_id, pending.campaign_id)]
    assert len(outcomes) == 1
    text = outcomes[0]["output"]
    assert text.startswith("**Win-back campaign · rejected by rita**") and note in text
    assert text == outbox_message("reject", "rita", out.strip(), note)


async def test_a_watcher_waits_for_the_delivery_report_not_the_proposal(winback_settings: Settings, smtp: SmtpServer):
    """While an approval is being applied (emails going out) the thread reads `running`; the requester's chat
    watcher posts the delivery report once the run ends, never the proposal it showed before."""
    from app.web.review_watch import wait_for_review

    async with Copilot.open(winback_settings, services=build_services(winback_settings)) as copilot:  # SQLite
        thread_id, emails = await _paused(copilot, smtp)
        seen = len((await copilot.thread(thread_id))["messages"])
        reached, release = asyncio.Event(), asyncio.Event()

        async def held(_run_id: int) -> None:  # after each step's checkpoint: hold the run after the first
            reached.set()
            await release.wait()

        assert copilot.runs is not None
        copilot.runs.aheartbeat = held  # type: ignore[method-assign]
        deciding = asyncio.create_task(
            copilot.decide_outbox(thread_id, OutboxDecision(action="approve_all", reviewer="rita"))
        )
        await asyncio.wait_for(reached.wait(), 60)
        assert (await copilot.thread(thread_id))["status"] == "running"
        watcher = asyncio.create_task(wait_for_review(copilot, thread_id, seen, poll_s=0.05, timeout_s=120))
        await asyncio.sleep(0.3)
        assert not watcher.done()  # a run part-way through is not an outcome
        release.set()
        result = await deciding
        posted = await watcher
    assert posted == result.answer
    assert f"Win-back emails: sent {len(emails)}, dropped 0, failed 0" in posted
    assert "Nothing has been sent" not in posted


async def test_two_approvers_at_once_one_decision_applies_and_is_the_one_reported(
    winback_settings: Settings, smtp: SmtpServer
):
    async with Copilot.open(winback_settings, services=build_services(winback_settings)) as copilot:  # SQLite
        thread_id, emails = await _paused(copilot, smtp)
        outcomes = await asyncio.gather(
            copilot.decide_outbox(thread_id, OutboxDecision(action="approve_all", reviewer="alice")),
            copilot.decide_outbox(thread_id, OutboxDecision(action="reject", reviewer="bob", note="not now")),
            return_exceptions=True,
        )
        won = [o for o in outcomes if not isinstance(o, BaseException)]
        lost = [o for o in outcomes if isinstance(o, BaseException)]
        assert len(won) == 1 and len(lost) == 1
        assert isinstance(lost[0], ReviewConflict | NoPendingApproval), lost[0]
        items = await copilot.outbox_items(thread_id)
    deciders = {i.decided_by for i in items}
    assert len(deciders) == 1
    (winner,) = deciders
    answer = won[0].answer
    if winner == "alice":
        assert {i.status for i in items} == {"sent"} and len(smtp.inbox.messages) == len(emails)
        assert f"sent {len(emails)}" in answer and "rejected" not in answer
    else:
        assert {i.status for i in items} == {"dropped"} and smtp.inbox.messages == []
        assert "rejected by bob" in answer
