"""The graph's state: the seed's `AgentState` and `WinBackState`, typed, with reducers.

Reducers say how a node's partial update merges into the state. Per-turn fields are reset by the
supervisor at the start of each request (`merge_results(None)` / `extend_or_reset(None)` clear them),
so a follow-up on the same thread starts clean while the message history accumulates.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages

AgentName = Literal["marketing", "finance", "insights", "support"]
"""The four specialist agents (the seed's `AgentType`)."""

AGENTS: tuple[AgentName, ...] = ("marketing", "finance", "insights", "support")
"""All agents, in report order."""

REPORT_SECTIONS: dict[AgentName, str] = {
    "marketing": "Marketing performance",
    "finance": "Revenue and unit economics",
    "insights": "Segments and churn risk",
    "support": "Support volume and open escalations",
}
"""The weekly report's section title written by each agent, in report order."""

Route = Literal[
    "marketing", "finance", "insights", "support", "parallel", "sequential:insights,marketing,finance", "clarify"
]
"""Where the supervisor sends a request (the brief's routes, and `clarify` for a message that is no request)."""

WINBACK_ROUTE: Route = "sequential:insights,marketing,finance"
"""The win-back pipeline: Insights → Marketing → Finance."""

CLARIFY_ROUTE: Route = "clarify"
"""No request an agent can serve (a greeting, thanks, "what can you do?", emoji, keyboard mash, a rule change,
a vague "show me the numbers", travel or weather, an order to delete records, a message not in English): the
supervisor answers it itself (`graph.routing.small_talk`), no agent runs."""


def merge_results(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Merge agent outputs by key; an update of `None` resets to empty (start of a turn)."""
    if right is None:
        return {}
    return {**(left or {}), **right}


def extend_or_reset(left: list[Any] | None, right: list[Any] | None) -> list[Any]:
    """Append items; an update of `None` resets to empty (start of a turn)."""
    if right is None:
        return []
    return [*(left or []), *right]


class ToolCallRecord(TypedDict):
    """One tool call of the current turn and what came of it."""

    id: str
    """Tool call id (from the model's tool call)."""
    agent: AgentName
    """Agent that asked for it."""
    name: str
    """Tool name."""
    args: dict[str, Any]
    """Validated arguments."""
    ok: bool
    """Whether it produced a valid result."""
    result: Any
    """The tool's JSON-ready output (on success) or `None`."""
    error: str | None
    """A one-line error message (on failure)."""
    error_kind: str | None
    """Seed error class of the failure: `transient`, `invalid_input`, `invalid_result`, `auth` or `fatal`."""
    attempts: int
    """Attempts made so far for this call."""
    corrected: bool
    """Whether its arguments were already corrected once (invalid input is corrected only once)."""
    declined: NotRequired[bool]
    """The tool itself refused the request as asked (`FatalToolError`, `InvalidToolInput`: an unknown customer, a
    period with no data): the user is told why, and monitoring does not count it as a failure of the service
    (a `MissingDataError`, an empty database, is one)."""


class InputState(TypedDict):
    """What a caller sends: new messages (normally one human message)."""

    messages: Annotated[list[AnyMessage], add_messages]
    """Conversation history; new messages are appended (or replaced by id)."""


class AgentState(InputState, total=False):
    """The full state of one thread (the seed's `AgentState` plus what the graph needs)."""

    request: str
    """The current user request (text of the last human message)."""
    route: Route
    """The supervisor's decision for the current request."""
    route_confidence: float
    """Classifier confidence of that decision, 0–1."""
    route_reason: str
    """Why the supervisor chose the route (shown as a step in the UI)."""
    follow_up_route: Route | None
    """The route a short follow-up ("and the quarter before?") continues: the last request's, the first
    part's for a compound message (its support part goes last); a greeting or thanks keeps the one before."""
    parts: list[dict[str, Any]]
    """A compound message's requests, in the order they are answered (`request`, `route`,
    `route_confidence`, `route_reason`); empty for a single request (`graph.routing.compound`)."""
    part_answers: list[str]
    """The answers given so far to those parts, each under its request."""
    parts_of: str
    """Id of the human message the parts belong to."""
    current_agent: AgentName | None
    """Agent currently working (seed field)."""
    next_agent: AgentName | None
    """Agent that works next in a sequence (seed field)."""

    customer_ids: list[str]
    """Customers selected by Insights for Marketing (seed: Insights → Marketing)."""
    campaign_cost: float
    """Estimated campaign cost in USD (seed: Marketing → Finance)."""
    roi_estimate: float
    """Estimated return on the campaign, as a ratio (seed: Finance → Supervisor)."""

    results: Annotated[dict[str, Any], merge_results]
    """Agent outputs of the current turn keyed by agent (or `report`/`winback`)."""
    errors: Annotated[list[str], extend_or_reset]
    """Error log of the current turn, one line each."""
    retry_count: int
    """Tool-execution attempts made for the current plan (seed field)."""
    tool_calls: list[ToolCallRecord]
    """The current plan's tool calls and their outcomes."""
    charts: Annotated[list[dict[str, Any]], extend_or_reset]
    """Plotly figures (as JSON dicts) produced this turn, for the chat UI."""

    answer: str
    """The last answer written for the user."""
    citations: list[str]
    """Knowledge-base documents cited by the last support answer."""
    passages: list[dict[str, Any]]
    """Passages retrieved for the current support question (doc, section, score, text)."""
    confidence: float | None
    """Confidence of the last support answer, 0–1 (`None` for other agents)."""
    grounding: dict[str, Any] | None
    """The model's grounding verdict on the support passages (`answerable`, `evidence`, `verified`);
    `None` offline or when the check gave no verdict (`graph.llm.grounding`)."""
    escalated: bool
    """Whether the current request went to a human reviewer."""
    review_id: str | None
    """Id of the review for the current request's escalation (also the ticket link)."""
    review_outcome: str | None
    """The reviewer's decision: `approve`, `edit` or `reject`."""
    review_note: str | None
    """The reviewer's note with their decision (`None` without one); recovery records it from here."""

    timestamp: str
    """ISO time the current request started (seed field)."""
    user_id: str
    """Who asked (seed field; filled from the run config)."""
    session_id: str
    """Chat session / thread id (seed field)."""


class WinBackState(AgentState, total=False):
    """State of the win-back pipeline (seed: Insights → Marketing → Finance)."""

    churned_customers: list[dict[str, Any]]
    """Customers picked by Insights: id, name, segment, probability alive, expected value."""
    email_drafts: dict[str, str]
    """Personalised drafts by customer id, from Marketing."""
    send_status: dict[str, bool]
    """Per recipient: whether the email was sent (only after approval)."""
    outbox_status: dict[str, str]
    """Per recipient: the outbox status (`draft`, `approved`, `dropped`, `sending`, `sent`, `failed`)."""


class GraphState(WinBackState, total=False):
    """The state the compiled graph uses: every field above."""


class BranchState(TypedDict):
    """Input of one branch of the parallel report (sent with `Send`)."""

    agent: AgentName
    """Which agent this branch runs."""
    request: str
    """The request the branch answers."""
