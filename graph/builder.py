"""The whole state machine, wired (and only wired: every node lives in `graph/nodes/`).

    supervisor ─route_decision─┬─ marketing | finance | insights → execute_tools → validate_results
                               │      ├─ respond                 (valid)
                               │      ├─ retry → execute_tools   (attempt < 3) │ handle_error (attempt ≥ 3,
                               │      │        or nothing a retry could change) │ respond (the rest succeeded)
                               │      └─ handle_error            (nothing usable, not retryable)
                               ├─ support → rag_search → confidence_check ─┬─ respond          (≥ 0.7)
                               │     │                                     └─ escalate → human_review → respond
                               │     └─ support_tools (ticket requests) → execute_tools → ... (as above)
                               ├─ parallel ─Send×4→ run_branch → aggregate → respond
                               ├─ winback_insights → winback_marketing → winback_finance → stage_outbox
                               │        ├─ approve_send (interrupt) → send_emails → respond
                               │        └─ respond                  (nothing drafted)
                               └─ respond  (clarify: a greeting, thanks, emoji; the supervisor's own reply)
    respond → END (a follow-up on the same thread starts again at supervisor), or → supervisor while a
    compound message ("the refund policy, and our CAC last quarter") has parts left; handle_error likewise

`build_graph()` returns the uncompiled builder: the app compiles it with the SQLite (or Postgres)
checkpointer, each test with its own.
"""

from __future__ import annotations

from langgraph.graph import START, StateGraph

from graph.context import Context
from graph.nodes import outbox, parallel, parts, respond, supervisor, support, tool_agents, winback
from graph.state import GraphState, InputState


def build_graph() -> StateGraph[GraphState, Context, InputState, GraphState]:
    """The uncompiled GTM Copilot graph."""
    g = StateGraph(GraphState, context_schema=Context, input_schema=InputState)

    g.add_node("supervisor", supervisor.supervise)
    g.add_edge(START, "supervisor")
    g.add_conditional_edges("supervisor", supervisor.route_decision)

    for agent in ("marketing", "finance", "insights"):
        g.add_node(agent, tool_agents.make_planner(agent))
        g.add_edge(agent, "execute_tools")
    g.add_node("execute_tools", tool_agents.execute_tools)
    g.add_node("validate_results", tool_agents.validate_results)
    g.add_node("retry", tool_agents.retry, destinations=("execute_tools", "respond", "handle_error"))
    g.add_node("handle_error", tool_agents.handle_error)
    g.add_edge("execute_tools", "validate_results")
    g.add_conditional_edges("validate_results", tool_agents.after_validation)
    g.add_conditional_edges("handle_error", parts.after_part)

    g.add_node("support", support.start_support)
    g.add_node("support_tools", tool_agents.make_planner("support"))
    g.add_edge("support_tools", "execute_tools")
    g.add_node("rag_search", support.rag_search)
    g.add_node("confidence_check", support.confidence_check)
    g.add_node("escalate", support.escalate)
    g.add_node("human_review", support.human_review)
    g.add_conditional_edges("support", support.support_mode)
    g.add_edge("rag_search", "confidence_check")
    g.add_conditional_edges("confidence_check", support.after_confidence)
    g.add_edge("escalate", "human_review")
    g.add_edge("human_review", "respond")

    g.add_node("parallel", parallel.dispatch_parallel, destinations=("run_branch",))
    g.add_node("run_branch", parallel.run_branch)
    g.add_node("aggregate", parallel.aggregate)
    g.add_edge("run_branch", "aggregate")
    g.add_edge("aggregate", "respond")

    g.add_node("winback_insights", winback.winback_insights)
    g.add_node("winback_marketing", winback.winback_marketing)
    g.add_node("winback_finance", winback.winback_finance)
    g.add_edge("winback_insights", "winback_marketing")
    g.add_edge("winback_marketing", "winback_finance")
    g.add_edge("winback_finance", "stage_outbox")

    g.add_node("stage_outbox", outbox.stage_outbox, destinations=("approve_send", "respond"))
    g.add_node("approve_send", outbox.approve_send)
    g.add_node("send_emails", outbox.send_emails)
    g.add_edge("approve_send", "send_emails")
    g.add_edge("send_emails", "respond")

    g.add_node("respond", respond.respond)
    g.add_conditional_edges("respond", parts.after_part)
    return g
