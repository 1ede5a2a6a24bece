"""Win-back pipeline (seed: sequential Insights → Marketing → Finance, `WinBackState`).

Follows the win-back policy in `knowledge_base/brand-voice.md`. Insights picks the accounts the policy
allows (`churn_risk` with `winback_eligible`: Starter and Growth accounts cancelled in the 90 days up to
the data's last date, no win-back in the last 12 months, most valuable first); Marketing drafts one email
each with one incentive (a free month of the plan the account had, valid 14 days, the real deadline),
a named sender, the address and an unsubscribe link; Finance costs each account's free month at its
plan price. `customer_ids`, `churned_customers`, `email_drafts`, `campaign_cost` and `roi_estimate`
carry the real values from one agent to the next. When no account qualifies, nothing is drafted and
the reply says why.

A request that names customers ("a win-back email for C00409") drafts for those customers only, and says
why the policy leaves any of them out. Accounts left out because of an earlier win-back are counted by how
far it went (sent, or only drafted and waiting for approval: `Outbox.winback_statuses`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from typing import Any

from langgraph.runtime import Runtime

from app.outbox import Outbox, OutboxStatus
from graph.context import Context
from graph.llm.resilience import LLMCallFailed
from graph.nodes.common import system_message, task_message, text_of
from graph.state import AgentName, GraphState
from graph.tools.executor import call_with_retries
from graph.tools.insights import winback_chart
from graph.tools.marketing import customer_ids_in, email_values

MAX_DRAFTS = 25
"""Drafts written per run (the rest of the list can be drafted on approval)."""
DRAFT_CONCURRENCY = 5
"""Drafts written at once with a hosted model."""
NAMED_POOL = 500
"""Eligible accounts searched for the customers a request names (the tool's largest list)."""
STATUS_WORDS: dict[OutboxStatus, str] = {
    "sent": "sent",
    "sending": "interrupted mid-send (may have been delivered)",
    "failed": "failed to send (`gtm outbox retry` may still send it)",
    "approved": "approved and not sent yet",
    "draft": "drafted and waiting for approval, not sent",
}
"""How far an earlier win-back went, in words (by outbox status)."""


async def _call(runtime: Runtime[Context], agent: AgentName, name: str, args: dict[str, Any]) -> dict[str, Any]:
    services = runtime.context.services
    settings = services.settings
    return await call_with_retries(
        services.tool(agent, name), agent, args, attempts=settings.max_tool_attempts, timeout_s=settings.tool_timeout_s
    )


def _policy_verdicts(engine: Any, customer_ids: list[str], as_of: dt.date) -> dict[str, tuple[str, str, str]]:
    """The win-back policy's rule, reason and contact name for each of `customer_ids` that exists."""
    from graph.tools.insights import account_frame, last_winbacks, winback_status

    accounts = account_frame(engine, customer_ids=customer_ids).to_dict(orient="records")
    sent = last_winbacks(engine, customer_ids)
    verdicts = {}
    for account in accounts:
        cid = str(account["customer_id"])
        verdict = winback_status(account, as_of, sent.get(cid))
        verdicts[cid] = (verdict.rule, verdict.reason, str(account["contact_name"] or account["name"]))
    return verdicts


def _cooldown_ids(engine: Any, as_of: dt.date, window_days: int) -> list[str]:
    """The accounts of the win-back window that the policy leaves out because of an earlier win-back."""
    from graph.tools.insights import account_frame

    pool = account_frame(engine, churned_since=as_of - dt.timedelta(days=window_days))
    ids = [str(c) for c in pool["customer_id"]]
    return [cid for cid, (rule, _, _) in _policy_verdicts(engine, ids, as_of).items() if rule == "cooldown"]


def _status_counts(statuses: dict[str, OutboxStatus]) -> str:
    counts = Counter(statuses.values())
    return ", ".join(f"{counts[s]} {STATUS_WORDS[s]}" for s in STATUS_WORDS if counts[s])


async def _explain_cooldown(outbox: Outbox, result: dict[str, Any]) -> dict[str, Any]:
    """Say how far the earlier win-backs of the accounts left out went: sent, or only drafted (not sent)."""
    data = result.get("data", {})
    left_out = int(data.get("rules", {}).get("cooldown", 0))
    if not left_out or "as_of" not in data:
        return result
    as_of = dt.date.fromisoformat(str(data["as_of"]))
    ids = await asyncio.to_thread(_cooldown_ids, outbox.engine, as_of, int(data.get("window_days", 90)))
    statuses = await outbox.winback_statuses(ids)
    counts = Counter(statuses.values())
    fact = f"Left out: {left_out} accounts with a win-back in the last 12 months ({_status_counts(statuses)})"
    old = f"Left out: {left_out} "
    facts = [fact if f.startswith(old) and "12 months" in f else f for f in result.get("facts", [])]
    return {**result, "facts": facts, "data": {**data, "earlier_winbacks": dict(counts)}}


async def _left_out_reasons(
    runtime: Runtime[Context], missing: list[str], as_of: dt.date | None, outbox: Outbox | None
) -> dict[str, str]:
    """Why the policy leaves out each named customer that is not selected, in words."""
    engine = runtime.context.services.extras.get("engine") or (outbox.engine if outbox else None)
    verdicts = await asyncio.to_thread(_policy_verdicts, engine, missing, as_of) if engine and as_of else {}
    statuses = await outbox.winback_statuses(missing) if outbox else {}
    reasons: dict[str, str] = {}
    for cid in missing:
        rule, reason, name = verdicts.get(cid, ("unknown", "no customer with this id", cid))
        if rule == "cooldown" and cid in statuses:
            reason = f"{reason}; that win-back was {STATUS_WORDS[statuses[cid]]}"
        elif rule in ("ok", "discount"):
            reason = f"not among the {NAMED_POOL} most valuable qualifying accounts"
        reasons[cid] = f"{cid} ({name}): no win-back email, {reason}"
    return reasons


async def _only_named(
    runtime: Runtime[Context], result: dict[str, Any], named: list[str], outbox: Outbox | None
) -> dict[str, Any]:
    """Narrow the selection to the customers the request names; say why the policy leaves any of them out."""
    data = result.get("data", {})
    eligible = {str(c["customer_id"]): c for c in data.get("customers", [])}
    chosen = [eligible[cid] for cid in named if cid in eligible][:MAX_DRAFTS]
    missing = [cid for cid in named if cid not in eligible]
    as_of = dt.date.fromisoformat(str(data["as_of"])) if data.get("as_of") else None
    reasons = await _left_out_reasons(runtime, missing, as_of, outbox) if missing else {}
    if chosen:
        names = ", ".join(f"{c['customer_id']} ({c['name']})" for c in chosen)
        headline = f"Win-back for the customer{'s' if len(chosen) > 1 else ''} you named: {names}"
    else:
        pronoun = "them" if len(named) > 1 else "it"
        headline = f"No win-back email for {', '.join(named)}: the win-back policy leaves {pronoun} out"
    narrowed = {
        **result,
        "headline": headline,
        "facts": [*reasons.values(), *result.get("facts", [])[:1]],
        "data": {**data, "customers": chosen, "requested": named, "left_out": reasons},
    }
    picked = {str(c["customer_id"]) for c in chosen}
    if isinstance(result.get("table"), dict):
        narrowed["table"] = {**result["table"], "rows": [r for r in result["table"]["rows"] if str(r[0]) in picked]}
    narrowed["chart"] = winback_chart(chosen)  # about the customers named and selected, or none
    if not chosen:
        narrowed["recommendation"] = "Nothing to send to these customers now."
    return narrowed


async def winback_insights(state: GraphState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Insights: select the accounts the win-back policy allows, most valuable first (or the ones the request names)."""
    outbox = runtime.context.services.outbox
    named = customer_ids_in(state.get("request", ""))
    top_n = NAMED_POOL if named else MAX_DRAFTS
    result = await _call(runtime, "insights", "churn_risk", {"top_n": top_n, "winback_eligible": True})
    if outbox is not None:
        result = await _explain_cooldown(outbox, result)
    if named:
        result = await _only_named(runtime, result, named, outbox)
    customers = list(result.get("data", {}).get("customers", []))
    return {
        "current_agent": "insights",
        "next_agent": "marketing",
        "churned_customers": customers,
        "customer_ids": [str(c["customer_id"]) for c in customers],
        "results": {"insights": result},
        "charts": [result["chart"]] if result.get("chart") else [],
    }


async def winback_marketing(state: GraphState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Marketing: one personalised email per selected account, with the offer the policy allows."""
    services = runtime.context.services
    if not state.get("customer_ids"):
        skipped: dict[str, Any] = {
            "headline": "No win-back emails drafted: no account qualifies under the win-back policy",
            "facts": ["Win-backs go only to Starter and Growth accounts cancelled in the last 90 days, once a year."],
            "data": {"drafts": 0, "failed": 0},
        }
        waiting = state.get("results", {}).get("insights", {}).get("data", {}).get("earlier_winbacks", {})
        if waiting.get("draft"):
            skipped["facts"].append(
                f"{waiting['draft']} win-back emails drafted earlier are waiting for approval and were not sent: "
                "approve or reject them in the outbox (`gtm outbox list --status draft`)"
            )
        return {"current_agent": "marketing", "next_agent": "finance", "results": {"marketing": skipped}}
    contexts = await _call(
        runtime, "marketing", "customer_context", {"customer_ids": state.get("customer_ids", [])[:MAX_DRAFTS]}
    )
    model = services.model("marketing")
    system = system_message("marketing", services, services.tools.get("marketing", []))
    gate = asyncio.Semaphore(DRAFT_CONCURRENCY)

    async def draft(ctx: dict[str, Any]) -> tuple[str, str | LLMCallFailed]:
        values = email_values(ctx, tone="warm")
        async with gate:
            try:
                reply = await model.ainvoke(
                    [system, task_message("marketing.email_draft", values)], config={"tags": ["nostream"]}
                )
            except LLMCallFailed as exc:  # this customer gets no draft; the others still do
                return str(ctx["customer_id"]), exc
        return str(ctx["customer_id"]), text_of(reply)

    written = await asyncio.gather(*(draft(c) for c in contexts.get("data", {}).get("customers", [])))
    drafts = {cid: text for cid, text in written if isinstance(text, str)}
    failures = [text for _, text in written if isinstance(text, LLMCallFailed)]
    result: dict[str, Any] = {
        "headline": f"{len(drafts)} personalised win-back emails drafted",
        "facts": [f"{len(failures)} could not be drafted: {failures[0].user_message}"] if failures else [],
        "data": {"drafts": len(drafts), "failed": len(failures)},
    }
    if failures:
        result.update(ok=False, error=str(failures[0]))
    return {
        "current_agent": "marketing",
        "next_agent": "finance",
        "email_drafts": drafts,
        "send_status": {cid: False for cid in drafts},
        "results": {"marketing": result},
    }


def _selection_fact(state: GraphState) -> str | None:
    """How many accounts the policy made eligible and how many the campaign selected, in words.

    "78 accounts eligible under the win-back policy, the 25 most valuable selected"; for a request that names
    customers, how many of them were selected. None when Insights said nothing about eligibility.
    """
    data = state.get("results", {}).get("insights", {}).get("data", {})
    selected = len(state.get("customer_ids", []))
    if "requested" in data:
        named = len(data["requested"])
        return f"{selected} of the {named} customer{'s' if named != 1 else ''} you named selected (the win-back policy)"
    if "eligible" not in data:
        return None
    eligible = int(data["eligible"])
    rule = "Starter or Growth, cancelled in the last 90 days, no win-back in the last 12 months"
    if selected < eligible:
        return f"{eligible} accounts eligible under the win-back policy ({rule}), the {selected} most valuable selected"
    return f"{eligible} account{'s' if eligible != 1 else ''} eligible under the win-back policy ({rule}), all selected"


async def winback_finance(state: GraphState, runtime: Runtime[Context]) -> dict[str, Any]:
    """Finance: campaign cost (each account's free month × expected redemptions + sending) and ROI."""
    customers = state.get("churned_customers", [])
    drafted = set(state.get("email_drafts", {}))
    if not drafted:
        skipped = {"headline": "Nothing to cost: no win-back emails were drafted", "facts": [], "data": {}}
        return {
            "current_agent": "finance",
            "next_agent": None,
            "campaign_cost": 0.0,
            "roi_estimate": 0.0,
            "results": {"finance": skipped},
        }
    result = await _call(
        runtime,
        "finance",
        "campaign_economics",
        {"customers": [c for c in customers if str(c["customer_id"]) in drafted]},
    )
    data = result.get("data", {})
    if selection := _selection_fact(state):
        result = {**result, "facts": [selection, *result.get("facts", [])]}
    return {
        "current_agent": "finance",
        "next_agent": None,
        "campaign_cost": float(data.get("campaign_cost", 0.0)),
        "roi_estimate": float(data.get("roi", 0.0)),
        "results": {"finance": result},
    }
