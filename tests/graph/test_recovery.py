"""Crash recovery in process: a run left `running` by a dead worker is finished by the next start-up.

The SIGKILL tests (`tests/durability`) cover the real crash; here the checkpoint states a crash can leave are
made directly, including one the real test met once under load: the thread idle, ending on its user's
request with nothing left to run."""

from __future__ import annotations

import socket
import subprocess
import sys

from langchain_core.messages import AIMessage, HumanMessage

from app.runs import runs
from app.runtime import Copilot

QUESTION = "What is the API rate limit on the Starter plan?"


def _abandon(copilot: Copilot, thread_id: str) -> int:
    """A `running` row for `thread_id` whose worker is a dead process of this host."""
    assert copilot.runs is not None
    run_id = copilot.runs.start(thread_id, "sam", "ask")
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    with copilot.runs.engine.begin() as conn:
        conn.execute(runs.update().where(runs.c.id == run_id).values(worker=f"{socket.gethostname()}:{child.pid}"))
    return run_id


async def test_a_thread_left_on_its_unanswered_request_is_asked_again(copilot: Copilot):
    config = {"configurable": {"thread_id": "lost"}}
    request = HumanMessage(QUESTION, id="m-1")
    await copilot.graph.aupdate_state(config, {"messages": [request]}, as_node="respond")  # idle, no answer
    assert (await copilot.thread("lost"))["status"] == "complete"
    run_id = _abandon(copilot, "lost")

    posted: list[str] = []

    async def on_resumed(thread_id: str, result) -> None:
        posted.append(result.answer)

    assert await copilot.resume_interrupted(on_resumed=on_resumed) == ["lost"]
    messages = (await copilot.graph.aget_state(config)).values["messages"]
    assert [type(m) for m in messages] == [HumanMessage, AIMessage] and messages[0].id == "m-1"  # not duplicated
    assert "1,000" in messages[-1].content and posted == [messages[-1].content]
    assert [(r.id, r.status) for r in copilot.runs.list("lost")] == [(run_id, "done")]


async def test_a_thread_that_was_answered_is_only_closed(copilot: Copilot):
    answered = await copilot.ask(QUESTION, user_id="sam")
    before = (await copilot.graph.aget_state({"configurable": {"thread_id": answered.thread_id}})).values["messages"]
    _abandon(copilot, answered.thread_id)
    assert await copilot.resume_interrupted() == []
    after = (await copilot.graph.aget_state({"configurable": {"thread_id": answered.thread_id}})).values["messages"]
    assert after == before and [r.status for r in copilot.runs.list(answered.thread_id)] == ["done", "done"]
