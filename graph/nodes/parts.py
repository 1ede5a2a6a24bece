"""The parts of a compound message ("the refund policy, and our CAC last quarter"), answered in turn.

The supervisor splits such a message (`graph.routing.compound`) into `parts`; each part then takes its
agent's usual path, and `respond` (or `handle_error`) hands back to the supervisor while parts remain.
Only the last part appends the reply, which holds every part's answer under its request, in the order asked; a
support part runs last, so an escalation never holds the other answers back, and its notice carries them.
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage

from graph.llm.writers import OFFLINE_TAG
from graph.state import GraphState


def last_human_id(messages: list[AnyMessage]) -> str:
    """Id of the newest human message (the message a compound's parts belong to)."""
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            return str(message.id or "")
    return ""


def part_in_progress(state: GraphState) -> bool:
    """Whether the current message is compound and has parts still to answer."""
    parts = state.get("parts") or []
    return len(parts) > 1 and len(state.get("part_answers") or []) < len(parts)


def next_part(state: GraphState) -> dict[str, Any] | None:
    """The next part to answer when the supervisor is re-entered for the same message, else None."""
    if not part_in_progress(state) or state.get("parts_of") != last_human_id(state.get("messages", [])):
        return None
    return dict(state["parts"][len(state.get("part_answers") or [])])


def under_its_request(state: GraphState, answer: str) -> str:
    """One part's answer under its request, as it reads in the combined reply."""
    part = state["parts"][len(state.get("part_answers") or [])]
    return f"**{part['request']}**\n\n{answer}"


def finish_part(state: GraphState, update: dict[str, Any]) -> dict[str, Any]:
    """`respond`'s or `handle_error`'s update, for one part of a compound message.

    A part before the last keeps its answer for the reply (no message yet); the last part's message is
    the whole reply. A single request's update is returned as it is.
    """
    if not part_in_progress(state):
        return update
    answers = [*(state.get("part_answers") or []), under_its_request(state, str(update.get("answer", "")))]
    if len(answers) < len(state["parts"]):
        return {**{k: v for k, v in update.items() if k != "messages"}, "part_answers": answers}
    if state.get("escalated"):  # a reviewed answer: the escalation notice already carried the other parts
        return {**update, "part_answers": answers}
    combined = combine(in_asked_order(state["parts"], answers))
    name = next((m.name for m in update.get("messages", []) if isinstance(m, AIMessage)), None)
    return {**update, "answer": combined, "part_answers": answers, "messages": [AIMessage(combined, name=name)]}


def in_asked_order(parts: list[dict[str, Any]], answers: list[str]) -> list[str]:
    """The parts' answers in the order the message asked them (a support part runs last, not always asked last)."""

    def asked(i: int) -> int:
        place = parts[i].get("asked") if i < len(parts) else None
        return place if isinstance(place, int) else i

    order = sorted(range(len(answers)), key=lambda i: (asked(i), i))
    return [answers[i] for i in order]


def combine(answers: list[str]) -> str:
    """The parts' answers as one reply; the offline model's tag, if any part has it, once at the top."""
    tagged = f"\n\n{OFFLINE_TAG}"
    offline = any(tagged in a for a in answers)
    body = "\n\n".join(a.replace(f"{tagged} ", "\n\n").replace(tagged, "\n\n") for a in answers)
    return f"{OFFLINE_TAG} {body}" if offline else body


def after_part(state: GraphState) -> Literal["supervisor", "__end__"]:
    """Back to the supervisor while the message has parts to answer; otherwise the run ends."""
    return "supervisor" if part_in_progress(state) else "__end__"
