"""The Support agent's ticket requests go to its ticket tools (look up, list, open, update), not to RAG."""

from __future__ import annotations

import pytest

from app.runtime import Copilot
from app.tickets import TicketStore
from graph.nodes.support import support_mode


@pytest.mark.parametrize(
    ("request_text", "mode"),
    [
        ("What's the status of ticket 12?", "support_tools"),
        ("Open a ticket: the hub keeps rebooting", "support_tools"),
        ("List open urgent tickets", "support_tools"),
        ("Mark ticket #7 as solved", "support_tools"),
        ("How many tickets were escalated last week?", "support_tools"),
        ("How do I open a support ticket?", "rag_search"),
        ("What is your refund policy?", "rag_search"),
    ],
)
def test_ticket_requests_are_told_apart_from_questions(request_text: str, mode: str) -> None:
    assert support_mode({"request": request_text}) == mode  # type: ignore[typeddict-item]


async def _tools_of(copilot: Copilot, thread_id: str) -> list[tuple[str, dict, bool]]:
    state = (await copilot.graph.aget_state({"configurable": {"thread_id": thread_id}})).values
    return [(r["name"], r["args"], r["ok"]) for r in state["tool_calls"]]


async def test_ticket_tools_look_up_open_and_update_tickets(copilot: Copilot) -> None:
    store = TicketStore(copilot.services.extras["engine"])
    known = store.list(limit=1)[0]

    looked = await copilot.ask(f"What's the status of ticket {known['id']}?", user_id="sam")
    assert looked.route == "support" and not looked.escalated
    assert await _tools_of(copilot, looked.thread_id) == [("lookup_ticket", {"ticket_id": known["id"]}, True)]
    assert f"Ticket #{known['id']} is {known['status']}" in looked.answer and known["subject"] in looked.answer

    opened = await copilot.ask("Open a ticket: the hub in room 4 keeps rebooting", user_id="sam")
    [(name, args, ok)] = await _tools_of(copilot, opened.thread_id)
    assert (name, ok) == ("create_ticket", True) and args["subject"] == "The hub in room 4 keeps rebooting"
    new = store.list(limit=1)[0]
    assert new["subject"] == "The hub in room 4 keeps rebooting" and new["status"] == "open" and new["id"] > known["id"]
    assert f"Opened ticket #{new['id']}" in opened.answer

    updated = await copilot.ask(f"Mark ticket #{new['id']} as solved", user_id="sam")
    assert await _tools_of(copilot, updated.thread_id) == [
        ("update_ticket", {"ticket_id": new["id"], "status": "solved"}, True)
    ]
    assert store.get(new["id"])["status"] == "solved"
    assert f"Ticket #{new['id']} is now solved" in updated.answer

    missing = await copilot.ask("What's the status of ticket 999999?", user_id="sam")
    assert "no ticket #999999" in missing.answer and not missing.escalated  # a clear error, not a crash


async def test_impossible_ticket_requests_get_one_plain_answer_without_retries(copilot: Copilot) -> None:
    huge = "99999999999999999999999"  # beyond any database integer, and beyond what a checkpoint can store
    missing = await copilot.ask(f"What's the status of ticket {huge}?", user_id="sam")
    assert f"no ticket #{huge}" in missing.answer and not missing.escalated
    assert "attempt" not in missing.answer and "try again" not in missing.answer.lower()
    state = (await copilot.graph.aget_state({"configurable": {"thread_id": missing.thread_id}})).values
    assert [(r["name"], r["attempts"], r["error_kind"]) for r in state["tool_calls"]] == [
        ("lookup_ticket", 1, "fatal")
    ]  # not retried: no attempt can find it
    again = await copilot.ask(f"Mark ticket {huge} as solved", user_id="sam", thread_id=missing.thread_id)
    assert f"no ticket #{huge}" in again.answer  # the thread was saved and goes on

    store = TicketStore(copilot.services.extras["engine"])
    known = store.list(limit=1)[0]
    odd = await copilot.ask(f"Mark ticket {known['id']} as banana", user_id="sam")
    assert "open, pending, solved, closed" in odd.answer and store.get(known["id"])["status"] == known["status"]


async def test_ticket_counts_are_every_match_and_show_means_look_up(copilot: Copilot) -> None:
    store = TicketStore(copilot.services.extras["engine"])
    for i in range(12):  # more open tickets than one page of the list
        store.create(f"Sensor {i} offline", None, priority="normal", category="hardware", channel="chat")
    total = store.count(status="open")
    assert total >= 12 and total == len(store.list(status="open", limit=500))

    listed = await copilot.ask("How many open tickets do we have?", user_id="sam")
    assert f"{total:,} open tickets; the 10 newest" in listed.answer, listed.answer

    known = store.list(limit=1)[0]
    shown = await copilot.ask(f"show me ticket #{known['id']}", user_id="sam")
    assert await _tools_of(copilot, shown.thread_id) == [("lookup_ticket", {"ticket_id": known["id"]}, True)]
    assert f"Ticket #{known['id']} is {known['status']}" in shown.answer


async def test_a_closed_ticket_is_not_solved_again_and_a_repeat_changes_nothing(copilot: Copilot) -> None:
    store = TicketStore(copilot.services.extras["engine"])
    ticket = store.create("Old invoice question", None, priority="low", category="billing", channel="chat")
    store.update(ticket["id"], status="closed")
    refused = await copilot.ask(f"Mark ticket {ticket['id']} as solved", user_id="sam")
    assert f"ticket #{ticket['id']} is closed: reopen it" in refused.answer, refused.answer
    assert store.get(ticket["id"])["status"] == "closed"

    store.update(ticket["id"], status="solved")
    before = store.get(ticket["id"])["updated_at"]
    again = await copilot.ask(f"Mark ticket {ticket['id']} as solved", user_id="sam")
    assert f"Ticket #{ticket['id']} is already solved" in again.answer
    assert store.get(ticket["id"])["updated_at"] == before  # nothing was written
