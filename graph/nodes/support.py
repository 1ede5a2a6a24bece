"""Support: RAG search → confidence check → response, or escalate → human review (`interrupt()`).

Seed: Support → RAGSearch → ConfidenceCheck → Response (≥ 0.7) | Escalate → HumanReview → Response.
On resume a node restarts from its top, so everything before `interrupt()` in `human_review` only
reads the state; the review record is written by `escalate`, a node of its own, idempotently.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any, Literal

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.config import get_config
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from graph.context import Context
from graph.llm.grounding import grade_context, grounded_confidence
from graph.llm.resilience import LLMCallFailed
from graph.llm.support_follow_up import is_fragment, standalone_question
from graph.nodes.common import system_message, task_message, text_of
from graph.nodes.parts import combine, in_asked_order, part_in_progress, under_its_request
from graph.review import ReviewDecision, ReviewRequest
from graph.routing.small_talk import small_talk
from graph.state import GraphState

MAX_PASSAGES = 5
"""Passages given to the model as context: the best of each of the top four documents, and the top
document's second best right after its best (`Retriever.retrieve(runner_up=True)`)."""


CITED = re.compile(r"\[([^\[\]\n]{1,200}?\.md)\]")
"""A document cited in an answer: `[refund-policy.md]`."""
TICKET_REQUEST = re.compile(
    r"\btickets?\s*(?:#|no\.?|number)?\s*\d+"  # "ticket #12", "ticket 12"
    r"|\b(?:open|create|file|raise|log|submit)\s+(?:a\s+|an\s+|new\s+|support\s+)*ticket\b"
    r"|\b(?:list|show|which|how\s+many|any|latest|recent)\b.*\btickets\b"
    r"|\b(?:mark|set|close|reopen|update|change)\b.*\bticket\b",
    re.IGNORECASE,
)
"""A request to work on tickets (look up, list, open, update) rather than a question for the knowledge base."""
HOW_TO = re.compile(
    r"^\s*(?:how(?!\s+many)|where|why|when|what\s+is\s+the\s+(?:process|way)|can\s+i|do\s+i)\b", re.IGNORECASE
)
"""How-to questions about tickets ("How do I open a ticket?") are knowledge-base questions."""


async def start_support(state: GraphState, runtime: Runtime[Context]) -> dict[str, Any]:
    """The Support agent takes the request; a follow-up fragment becomes the standalone question it asks.

    "and for hardware?" after "How long do refunds take?" is asked as "How long do refunds take for
    hardware?" (`graph.llm.support_follow_up`): retrieval, the confidence, the draft and the review record
    (the question a reviewer sees, the title "add to knowledge base" files the answer under) all read
    `request`, and a fragment alone finds nothing to answer it with.
    """
    update: dict[str, Any] = {"current_agent": "support"}
    request = state.get("request", "")
    if part_in_progress(state) or not request or not is_fragment(request):
        return update  # a compound message's parts are whole requests
    thread = await _support_thread(state.get("messages", []), runtime)
    question = standalone_question([*thread, request]) if thread else None
    if question is not None:
        update["request"] = question
    return update


async def _support_thread(messages: list[AnyMessage], runtime: Runtime[Context]) -> list[str]:
    """The earlier support questions a fragment continues, oldest first: a standalone question, then fragments.

    Walks back from the newest request over earlier turns, skipping small talk ("thanks!"), up to the
    last whole question; empty when a turn on the way was not answered by Support (the fragment then has
    no support question to continue), or the question was ticket work. A compound message's support
    part is the question (support runs last, so its reply closes the turn).
    """
    turns = _turns(messages)
    earlier: list[str] = []
    for text, agent in reversed(turns[:-1]):
        if agent == "supervisor" or small_talk(text) is not None:
            continue
        if agent != "support":
            return []
        if is_fragment(text):
            earlier.insert(0, text)
            continue
        question = await _support_part(text, runtime)
        if question is None or TICKET_REQUEST.search(question) and not HOW_TO.match(question):
            return []
        return [question, *earlier]
    return []


def _turns(messages: list[AnyMessage]) -> list[tuple[str, str | None]]:
    """Each human message's text with the name of the agent whose reply closed its turn (None: no reply)."""
    turns: list[tuple[str, str | None]] = []
    for message in messages:
        if isinstance(message, HumanMessage):
            turns.append((message.text if hasattr(message, "text") else str(message.content), None))
        elif isinstance(message, AIMessage) and turns and message.content and not message.tool_calls:
            turns[-1] = (turns[-1][0], message.name)
    return turns


async def _support_part(text: str, runtime: Runtime[Context]) -> str | None:
    """The support question in a whole message: the message, or its support part when it asked two things."""
    split = getattr(runtime.context.services.router, "split", None)
    parts = await split(text) if split is not None else None
    if not parts:
        return text
    return next((p.request for p in parts if p.decision.route == "support"), None)


def support_mode(state: GraphState) -> Literal["rag_search", "support_tools"]:
    """Ticket work goes to the Support agent's ticket tools; every other question to RAG search."""
    request = state.get("request", "")
    if TICKET_REQUEST.search(request) and not HOW_TO.match(request):
        return "support_tools"
    return "rag_search"


async def rag_search(state: GraphState, runtime: Runtime[Context]) -> dict[str, Any]:
    """RAGSearch: hybrid retrieval over the knowledge base."""
    knowledge = runtime.context.services.knowledge
    if knowledge is None:
        return {"passages": [], "confidence": 0.0, "errors": ["support: no knowledge base configured"]}
    found = await knowledge.asearch(state["request"], k=MAX_PASSAGES - 1, runner_up=True)
    passages = [
        {
            "doc": p.doc,
            "section": p.section,
            "score": round(float(p.score), 4),  # rank score: fused, scaled per question (the best is 1)
            "similarity": round(float(p.dense_score), 4),  # cosine similarity to the question
            "text": p.text,
        }
        for p in found.passages[:MAX_PASSAGES]
    ]
    return {"passages": passages, "confidence": float(found.confidence)}


def context_block(passages: list[dict[str, Any]]) -> str:
    """The passages as the model reads them: `[doc — section]` then the text, one block each."""
    return "\n\n".join(f"[{p['doc']} — {p['section']}]\n{p['text']}" for p in passages) or "(nothing found)"


async def confidence_check(state: GraphState, runtime: Runtime[Context]) -> dict[str, Any]:
    """ConfidenceCheck: draft the answer from the passages and settle the final confidence.

    The draft's tokens stream (untagged `nostream`), but not into the reply: the runtime passes them on as
    `token` events of this node, which the chat shows inside its Support step while the draft is written.
    Only `respond` writes the reply, and it runs only when the draft is confident enough (see `respond`).
    With an OpenAI-compatible model, its grounding check (`graph.llm.grounding`) runs beside the draft and
    its verdict is mixed into the confidence.
    """
    services = runtime.context.services
    passages = state.get("passages", [])
    retrieval = float(state.get("confidence") or 0.0)
    context = context_block(passages)
    values = {"query": state["request"], "context": context, "confidence": f"{retrieval:.2f}"}
    messages = [
        system_message("support", services, services.tools.get("support", [])),
        task_message("support.answer_query", values, {"_passages": passages}),
    ]
    model = services.model("support")
    weight = services.settings.grounding_weight
    check = None
    if services.settings.use_openai and weight > 0 and passages:
        check = asyncio.create_task(grade_context(model, state["request"], context, passages))
    try:
        reply = await model.ainvoke(messages, config={"tags": ["draft"]})
    except BaseException as exc:
        if check is not None:  # no draft, no verdict needed
            check.cancel()
        if isinstance(exc, LLMCallFailed):  # the model is unavailable: a person answers instead (never a stack trace)
            return {"answer": "", "confidence": 0.0, "citations": [], "errors": [f"support: {exc}"]}
        raise
    grounding = await check if check is not None else None
    draft = text_of(reply).strip()
    confidence = retrieval
    scorer = getattr(services.knowledge, "answer_confidence", None)
    if scorer is not None and passages:
        confidence = float(await scorer(state["request"], draft, retrieval, passages))
    confidence = grounded_confidence(confidence, grounding, weight)
    if "Let me escalate this to a specialist" in draft:
        confidence = min(confidence, 0.3)
    cited = [p["doc"] for p in passages if f"[{p['doc']}]" in draft]
    return {
        "answer": draft,
        "confidence": round(confidence, 4),
        "citations": list(dict.fromkeys(cited)),
        "grounding": grounding.as_state() if grounding is not None else None,
    }


def after_confidence(state: GraphState, runtime: Runtime[Context]) -> Literal["respond", "escalate"]:
    """High confidence → Response; below the threshold (0.7 by default) → Escalate."""
    threshold = runtime.context.services.settings.confidence_threshold
    return "respond" if (state.get("confidence") or 0.0) >= threshold else "escalate"


async def escalate(state: GraphState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Escalate: open a review (idempotent per thread and request) and tell the requester."""
    reviews = runtime.context.services.reviews
    thread_id = str(get_config().get("configurable", {}).get("thread_id", ""))
    request_id = str(state["messages"][-1].id or "") if state.get("messages") else ""
    if reviews is None:
        raise RuntimeError("no review store configured: Services.reviews is required to escalate")
    review_id = await reviews.open_review(
        thread_id=thread_id,
        request_message_id=request_id,
        question=state["request"],
        draft=state.get("answer", ""),
        confidence=float(state.get("confidence") or 0.0),
        passages=state.get("passages", []),
        requester=state.get("user_id") or runtime.context.user_id,
        grounding=state.get("grounding"),
    )
    unknown = await _unknown_words(runtime, state["request"], state.get("passages", []))
    never = f"; it never mentions {_quoted(unknown)}" if unknown else ""
    grounding = state.get("grounding")
    unread = "; no passage I found states the answer" if grounding and not grounding.get("answerable") else ""
    notice = (
        f"I'm not confident enough to answer this from our knowledge base (confidence "
        f"{float(state.get('confidence') or 0):.2f}{never}{unread}), so I've passed it to a specialist — review "
        f"**{review_id}**. You'll see their answer here as soon as they reply."
    )
    ticket = await reviews.ticket_of(review_id) if hasattr(reviews, "ticket_of") else None
    if ticket is not None:
        notice += f"\n\nTicket **#{ticket}** is open for it."
    if part_in_progress(state):  # the last part of a compound message: the notice carries the others' answers
        answers = [*(state.get("part_answers") or []), under_its_request(state, notice)]
        notice = combine(in_asked_order(state.get("parts") or [], answers))
    return {"escalated": True, "review_id": review_id, "messages": [AIMessage(notice, name="support")]}


MAX_UNKNOWN_WORDS = 3
"""Most words the escalation notice names as absent from the knowledge base."""


async def _unknown_words(runtime: Runtime[Context], question: str, passages: list[dict[str, Any]]) -> list[str]:
    """The question's words the knowledge base never mentions, rarest first (none when it cannot say)."""
    explain = getattr(runtime.context.services.knowledge, "question_gaps", None)
    if explain is None:
        return []
    try:
        gaps = await explain(question, passages)
    except Exception:  # noqa: BLE001 - the notice is complete without them
        return []
    return list(gaps.get("unknown") or [])[:MAX_UNKNOWN_WORDS]


def _quoted(words: list[str]) -> str:
    """`“a”`, `“a” or “b”`, `“a”, “b” or “c”`."""
    quoted = [f"“{word}”" for word in words]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


async def human_review(state: GraphState) -> dict[str, Any]:
    """HumanReview: pause with the draft for a reviewer; resume with their typed decision."""
    request = ReviewRequest(
        review_id=str(state.get("review_id")),
        question=state["request"],
        draft=state.get("answer", ""),
        confidence=float(state.get("confidence") or 0.0),
        passages=state.get("passages", []),
        requester=state.get("user_id", "anonymous"),
    )
    raw = interrupt(request.model_dump())
    decision = ReviewDecision.model_validate(raw)
    if decision.action == "approve":
        return {"answer": request.draft, "review_outcome": decision.action, "review_note": decision.note}
    if decision.action == "edit":
        answer = (decision.text or "").strip()
        # the reviewer's words: a document is cited only where the edit itself cites it, not for the draft's sake
        cited = list(dict.fromkeys(CITED.findall(answer)))
        return {"answer": answer, "citations": cited, "review_outcome": decision.action, "review_note": decision.note}
    note = f" Reviewer's note: {decision.note}" if decision.note else ""
    answer = (
        "A specialist reviewed your question and could not answer it from our documentation."
        f"{note} Your request {request.review_id} stays open and the team will follow up."
    )
    return {"answer": answer, "citations": [], "review_outcome": decision.action, "review_note": decision.note}
