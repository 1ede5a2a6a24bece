"""Outbox: stage the win-back drafts, wait for an explicit approval (`interrupt()`), send the approved ones.

    winback_finance → stage_outbox ─┬→ approve_send (interrupt) → send_emails → respond
                                    └→ respond                  (nothing was drafted)

* `stage_outbox` writes one outbox row per drafted email (idempotently) and shows the requester who
  was selected, sample drafts, the cost and the ROI. It is a node of its own because a node runs again
  from its top on resume: its message must be committed before the pause.
* `approve_send` only reads before `interrupt()`; on resume it applies the typed `OutboxDecision`
  (approve all, drop some, edit some, or reject) to the outbox, once. An edit that lost the compliance
  footer (sign-off, postal address, unsubscribe link) gets it back, and the outcome says so.
* `send_emails` sends the `approved` rows through the configured sender. The outbox row is the source
  of truth: a row is claimed before it is sent and marked `sent` right after, so a resumed or retried
  run never sends the same email twice.

`retry_update` is the state update that writes a later `gtm outbox retry` into the finished thread, so the
thread's result and last answer show the current counts.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Literal

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.config import get_config
from langgraph.runtime import Runtime
from langgraph.types import Command, interrupt

from app.outbox import Delivery, Outbox, OutboxItem
from graph.context import Context, Services
from graph.llm.resilience import LLMCallFailed
from graph.llm.writers import OFFLINE_TAG
from graph.nodes.common import results_json, system_message, task_message, text_of
from graph.review import OutboxDecision, OutboxRecipient, OutboxReviewRequest
from graph.state import GraphState

SAMPLE_DRAFTS = 2
"""Drafts shown in full to the requester before the pause."""


def thread_id_of() -> str:
    """The current run's thread id (from the run config)."""
    return str(get_config().get("configurable", {}).get("thread_id", ""))


def campaign_id_of(state: GraphState) -> str:
    """The campaign's id: the id of the request message that started the win-back."""
    for message in reversed(state.get("messages", [])):
        if isinstance(message, HumanMessage):
            return str(message.id or "")
    return ""


def _outbox(services: Services) -> Outbox:
    if services.outbox is None:
        raise RuntimeError("no outbox configured: Services.outbox is required for the win-back pipeline")
    return services.outbox


def _statuses(items: list[OutboxItem]) -> dict[str, str]:
    return {i.customer_id: i.status for i in items}


def _money(value: Any) -> str:
    return f"${float(value or 0):,.0f}"


def _proposal_parts(state: GraphState, items: list[OutboxItem]) -> list[dict[str, Any]]:
    """What the requester sees before the pause: cost and ROI, the recipients, sample drafts."""
    results = state.get("results", {})
    selected = {str(c["customer_id"]): c for c in state.get("churned_customers", [])}
    rows = []
    for item in items:
        c = selected.get(item.customer_id, {})
        rows.append(
            [
                item.customer_id,
                item.name,
                item.email or "(no address)",
                c.get("plan", ""),
                c.get("churned_date", ""),
                c.get("value_12m", c.get("clv_12m")),
            ]
        )
    parts: list[dict[str, Any]] = []
    if "finance" in results:
        parts.append(results["finance"])
    parts.append(
        {
            "headline": f"{len(items)} account{'s' if len(items) != 1 else ''} selected for the win-back (Starter or "
            "Growth, cancelled in the last 90 days, no win-back in the last 12 months)",
            "facts": [],
            "table": {
                "columns": ["customer", "contact", "email", "plan", "cancelled", "12-month value $"],
                "rows": rows,
            },
        }
    )
    for item in items[:SAMPLE_DRAFTS]:
        parts.append(
            {
                "headline": f"Sample draft for {item.name} ({item.customer_id})",
                "facts": [f"Subject: {item.subject}", quoted_body(item.body)],
            }
        )
    return parts


def quoted_body(body: str) -> str:
    """An email body as a quote under its list item, every line and paragraph break kept (whole: no cut link)."""
    lines = body.strip().splitlines()
    return "Body:\n" + "\n".join(f"  > {line}".rstrip() if line.strip() else "  >" for line in lines)


def _approval_notice(items: list[OutboxItem]) -> str:
    """What waits for approval; where to approve it is each surface's to say (the chat, `gtm ask`, the API)."""
    return (
        f"**Nothing has been sent.** {len(items)} emails are waiting in the outbox for approval: approve them all, "
        "edit a draft or drop recipients, or reject the campaign."
    )


async def stage_outbox(state: GraphState, runtime: Runtime[Context]) -> Command[Literal["approve_send", "respond"]]:
    """Put the drafts in the outbox (idempotent) and show the requester what would be sent."""
    services = runtime.context.services
    drafts = state.get("email_drafts", {})
    if not drafts:
        return Command(goto="respond")
    thread_id = thread_id_of()
    # The offline model's marker belongs in the chat, not in a customer's inbox.
    clean = {cid: text.strip().removeprefix(OFFLINE_TAG).lstrip() for cid, text in drafts.items()}
    items = await _outbox(services).stage(thread_id, campaign_id_of(state), clean)
    values = {"request": state["request"], "results_json": results_json(_proposal_parts(state, items))}
    messages = [
        system_message("marketing", services, services.tools.get("marketing", [])),
        task_message("marketing.analysis_answer", values),
    ]
    try:
        reply = await services.model("marketing").ainvoke(messages, config={"tags": ["proposal", "nostream"]})
        proposal = text_of(reply).rstrip()
    except LLMCallFailed as exc:  # the drafts are staged all the same; only the summary is missing
        proposal = exc.user_message
    text = f"{proposal}\n\n{_approval_notice(items)}"
    return Command(
        goto="approve_send",
        update={"answer": text, "messages": [AIMessage(text, name="marketing")], "outbox_status": _statuses(items)},
    )


def _review_request(
    state: GraphState, thread_id: str, campaign_id: str, items: list[OutboxItem]
) -> OutboxReviewRequest:
    selected = {str(c["customer_id"]): c for c in state.get("churned_customers", [])}
    finance = state.get("results", {}).get("finance", {})

    def value_12m(customer_id: str) -> Any:
        # The value the chat's table shows (former MRR x 12 + hardware CLV), not the hardware CLV alone.
        c = selected.get(customer_id, {})
        return c.get("value_12m", c.get("clv_12m"))

    return OutboxReviewRequest(
        thread_id=thread_id,
        campaign_id=campaign_id,
        request=state.get("request", ""),
        requester=state.get("user_id") or "anonymous",
        recipients=[
            OutboxRecipient(
                customer_id=i.customer_id,
                name=i.name,
                email=i.email,
                segment=str(selected.get(i.customer_id, {}).get("segment", "")),
                p_alive=selected.get(i.customer_id, {}).get("p_alive"),
                clv_12m=value_12m(i.customer_id),
                subject=i.subject,
                body=i.body,
            )
            for i in items
        ],
        campaign_cost=float(state.get("campaign_cost") or 0.0),
        expected_value=float(finance.get("data", {}).get("expected_value") or 0.0),
        roi_estimate=float(state.get("roi_estimate") or 0.0),
        cost_breakdown=[str(f) for f in finance.get("facts", [])],
    )


async def approve_send(state: GraphState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Pause with the drafts for an explicit approval; resume with a typed `OutboxDecision` and apply it."""
    outbox = _outbox(runtime.context.services)
    thread_id, campaign_id = thread_id_of(), campaign_id_of(state)
    drafts = await outbox.items(thread_id, campaign_id, "draft")  # read only: this runs again on resume
    if not drafts:  # already decided (a replayed step): nothing to approve
        return {}
    request = _review_request(state, thread_id, campaign_id, drafts)
    decision = OutboxDecision.model_validate(interrupt(request.model_dump()))
    edits = decision.edits if decision.action != "reject" else {}
    footer_added = await outbox.footer_gaps(edits) if edits else {}
    items = await outbox.decide(
        thread_id,
        campaign_id,
        action=decision.action,
        edits=decision.edits,
        drop=decision.drop,
        reviewer=decision.reviewer,
        note=decision.note,
    )
    applied = {**decision.model_dump(), "footer_added": footer_added}
    winner = next((i for i in items if i.decided_by), None)
    if winner is not None and winner.decided_by != decision.reviewer:  # another approver's decision came first
        action = "reject" if all(i.status == "dropped" for i in items) else "approve_some"
        applied = {"action": action, "reviewer": winner.decided_by, "note": winner.note, "footer_added": {}}
    return {"outbox_status": _statuses(items), "results": {"outbox_decision": applied}}


def _listed(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} or {parts[-1]}"


def delivery_report(items: list[OutboxItem], decision: dict[str, Any] | None) -> dict[str, Any]:
    """The outcome of a campaign's outbox as a structured result (from the rows, the source of truth)."""
    counts = Counter(i.status for i in items)
    sent, dropped, failed = counts["sent"], counts["dropped"], counts["failed"]
    headline = f"Win-back emails: sent {sent}, dropped {dropped}, failed {failed}"
    if decision and decision.get("action") == "reject":
        headline = f"Win-back campaign rejected by {decision.get('reviewer')}: nothing was sent (dropped {dropped})"
    facts = []
    if decision:
        note = f" — “{decision['note']}”" if decision.get("note") else ""
        facts.append(f"Decision: {decision.get('action')} by {decision.get('reviewer')}{note}")
    footer_added: dict[str, list[str]] = (decision or {}).get("footer_added") or {}
    for customer_id, parts in footer_added.items():
        facts.append(
            f"{customer_id}: the approver's edit had no {_listed(parts)}; the compliance footer was re-appended "
            "before sending (every marketing email keeps the sender, postal address and unsubscribe link)"
        )
    for i in items:
        who = f"{i.customer_id} {i.name} <{i.email or 'no address'}>"
        if i.status == "sent":
            when = i.sent_at.strftime("%Y-%m-%d %H:%M UTC") if i.sent_at else ""
            edited = ", edited by the approver" if i.original_body is not None else ""
            edited += " (compliance footer re-appended)" if i.customer_id in footer_added else ""
            facts.append(f"{who}: sent {when}{edited} (Message-ID {i.message_id})")
        elif i.status == "failed":
            facts.append(f"{who}: FAILED — {i.error}")
        elif i.status == "sending":
            facts.append(f"{who}: delivery not confirmed (interrupted mid-send; check Message-ID {i.message_id})")
        else:
            facts.append(f"{who}: {i.status}")
    result: dict[str, Any] = {
        "headline": headline,
        "facts": facts,
        "data": {"sent": sent, "dropped": dropped, "failed": failed, "recipients": len(items)},
    }
    if failed:
        result["recommendation"] = (
            f"{failed} email(s) could not be sent; check the SMTP settings (GTM_SMTP_*) and the errors above."
        )
    return result


async def send_emails(state: GraphState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Send the approved emails, each exactly once, and record the outcome per recipient."""
    services = runtime.context.services
    outbox = _outbox(services)
    if services.sender is None:
        raise RuntimeError("no sender configured: Services.sender is required to send approved emails")
    thread_id, campaign_id = thread_id_of(), campaign_id_of(state)
    delivery = await outbox.deliver(thread_id, campaign_id, services.sender)
    items = await outbox.items(thread_id, campaign_id)
    decision = state.get("results", {}).get("outbox_decision")
    return {
        "send_status": {i.customer_id: i.status == "sent" for i in items},
        "outbox_status": _statuses(items),
        "results": {"outbox": delivery_report(items, decision)},
        "errors": [f"outbox: email to {cid} failed: {error}" for cid, error in delivery.failed.items()],
    }


def _report_text(result: dict[str, Any]) -> str:
    """A structured result as Markdown: the headline in bold, the facts as a list, the recommendation."""
    lines = [f"**{result['headline']}**", *(f"- {fact}" for fact in result.get("facts", []))]
    if result.get("recommendation"):
        lines += ["", f"**Recommendation:** {result['recommendation']}"]
    return "\n".join(lines)


def retry_update(values: dict[str, Any], items: list[OutboxItem], delivery: Delivery) -> dict[str, Any]:
    """The state update that records a retry (`gtm outbox retry`) in a finished win-back thread.

    The per-recipient statuses (every campaign of the thread) and the outbox result and last answer (its latest
    campaign, the one the thread's answer is about) are recomputed from the rows, so the thread no longer shows
    the counts of before the retry.

    Args:
        values: the thread's current state.
        items: the thread's outbox rows after the retry.
        delivery: what the retry did.
    """
    decision = values.get("results", {}).get("outbox_decision")
    latest = [i for i in items if i.campaign_id == items[-1].campaign_id] if items else []  # what the thread shows
    report = delivery_report(latest, decision)
    retried = f"Retried the failed emails: {len(delivery.sent)} sent now, {len(delivery.failed)} still failing"
    report["facts"] = [retried, *report["facts"]]
    answer = _report_text(report)
    return {
        "send_status": {i.customer_id: i.status == "sent" for i in items},
        "outbox_status": _statuses(items),
        "results": {"outbox": report},
        "answer": answer,
        "messages": [AIMessage(answer, name="marketing")],
    }
