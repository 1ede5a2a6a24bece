import json
from typing import Literal

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from pydantic import BaseModel, Field

from graph.llm.offline import OfflineChatModel
from graph.llm.slots import fill_arguments, find_expression, find_period
from graph.llm.writers import OFFLINE_TAG


class MetricArgs(BaseModel):
    """Compute a finance metric such as CAC or LTV for a period."""

    metric: Literal["cac", "ltv", "roas"] = Field(
        json_schema_extra={"x-fanout": True, "x-aliases": {"cac": ["acquisition cost"], "ltv": ["lifetime value"]}}
    )
    period: str = "last quarter"
    channel: Literal["paid_search", "email"] | None = None


class ForecastArgs(BaseModel):
    """Forecast revenue for the coming months with an 80% interval."""

    horizon_months: int = 6


def _support_message(query, passages):
    return HumanMessage(
        "rendered",
        additional_kwargs={"gtm_task": "support.answer_query", "gtm_vars": {"query": query, "_passages": passages}},
    )


def test_answers_are_deterministic_and_marked():
    model = OfflineChatModel(agent="support")
    passages = [
        {
            "doc": "refunds.md",
            "text": "Hardware can be returned within 30 days of delivery for a full refund. Boxes must be unopened.",
        },
        {"doc": "shipping.md", "text": "Standard shipping takes 3 to 5 business days."},
    ]
    msg = _support_message("How many days do I have to return hardware for a refund?", passages)
    first = model.invoke([msg]).content
    assert first == model.invoke([msg]).content
    assert first.startswith(OFFLINE_TAG)
    assert "30 days" in first and "[refunds.md]" in first
    assert first.rstrip().endswith("Was this helpful?")
    assert "[shipping.md]" not in first
    assert len(first.split()) < 100


def test_support_without_context_says_it_will_escalate():
    model = OfflineChatModel(agent="support")
    out = model.invoke([_support_message("Do you sell coffee?", [])]).content
    assert "escalate this to a specialist" in out


def test_streaming_yields_tokens_that_join_to_the_answer():
    model = OfflineChatModel(agent="support")
    msg = _support_message("refund window", [{"doc": "r.md", "text": "The refund window is 30 days from delivery."}])
    chunks = [c.content for c in model.stream([msg])]
    assert len(chunks) > 5
    assert "".join(chunks) == model.invoke([msg]).content


async def test_async_streaming_matches():
    model = OfflineChatModel(agent="support")
    msg = _support_message("refund window", [{"doc": "r.md", "text": "The refund window is 30 days from delivery."}])
    chunks = [c.content async for c in model.astream([msg])]
    assert "".join(chunks) == (await model.ainvoke([msg])).content


async def test_a_token_delay_paces_the_stream_like_a_hosted_model():
    import asyncio

    model = OfflineChatModel(agent="support", token_delay_s=0.02)
    msg = _support_message("refund window", [{"doc": "r.md", "text": "The refund window is 30 days from delivery."}])
    loop = asyncio.get_running_loop()
    arrivals, chunks = [], []
    async for chunk in model.astream([msg]):
        if chunk.content:  # langchain may close the stream with an empty chunk
            arrivals.append(loop.time())
            chunks.append(chunk.content)
    assert "".join(chunks) == (await OfflineChatModel(agent="support").ainvoke([msg])).content
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:], strict=False)]
    assert len(gaps) > 5 and min(gaps) >= 0.015, "chunks were not spaced by the token delay"


@pytest.mark.slow
def test_bind_tools_plans_the_fitting_tool_with_arguments():
    model = OfflineChatModel(agent="finance").bind_tools([MetricArgs, ForecastArgs])
    reply = model.invoke([HumanMessage("What was our customer acquisition cost and LTV last month on email?")])
    assert isinstance(reply, AIMessage)
    assert [c["name"] for c in reply.tool_calls] == ["MetricArgs", "MetricArgs"]
    assert [c["args"]["metric"] for c in reply.tool_calls] == ["cac", "ltv"]
    assert all(c["args"]["period"] == "last month" and c["args"]["channel"] == "email" for c in reply.tool_calls)
    forecast = model.invoke([HumanMessage("project revenue for the next 9 months")])
    assert forecast.tool_calls[0]["name"] == "ForecastArgs"
    assert forecast.tool_calls[0]["args"] == {"horizon_months": 9}


def test_bound_agent_tools_keep_the_hints_the_offline_model_fills_arguments_with(tmp_path):
    """The agents' tools are `BaseTool`s: their `x-aliases`, `x-fanout` and `x-find` reach the planner.

    `convert_to_openai_tool` alone drops them, so "CAC and LTV" ran CAC only and "customer C00355" was
    never read as the email's customer.
    """
    from app.settings import Settings
    from graph.tools.deps import ToolDeps
    from graph.tools.finance import build_finance_tools
    from graph.tools.marketing import build_marketing_tools

    deps = ToolDeps(engine=None, settings=Settings(home=tmp_path))
    finance = OfflineChatModel(agent="finance").bind_tools(build_finance_tools(deps))
    reply = finance.invoke([HumanMessage("What were CAC and lifetime value last quarter?")])
    assert [(c["name"], c["args"]["metric"]) for c in reply.tool_calls] == [
        ("compute_metric", "cac"),
        ("compute_metric", "ltv"),
    ]
    # revenue asked about the past is the revenue earned; the forecast needs words about the future
    for request, expected in [
        ("What was revenue in March?", ("compute_metric", {"metric": "revenue", "period": "in March"})),
        ("How much revenue did we make last month?", ("compute_metric", {"metric": "revenue", "period": "last month"})),
        ("How many months of runway do we have?", ("compute_metric", {"metric": "runway"})),
        ("What's our ARR?", ("compute_metric", {"metric": "arr"})),
        (  # a named channel: the metric for it, not the all-channel table
            "ROAS for paid search in March 2026",
            ("compute_metric", {"metric": "roas", "channel": "paid_search", "period": "March 2026"}),
        ),
        ("CAC by channel last quarter", ("cac_by_channel", {"period": "last quarter"})),
        # a name inside a longer one is that one only (found by review: NRR + revenue, MRR + revenue, three ratios)
        ("What's our net revenue retention?", ("compute_metric", {"metric": "nrr"})),
        ("What's our monthly recurring revenue?", ("compute_metric", {"metric": "mrr"})),
        ("What's our LTV:CAC ratio?", ("compute_metric", {"metric": "ltv_cac"})),
        # a channel without a metric is not a metric call that fails; no spreadsheet without a file
        ("How much did we spend on events last quarter?", ("cac_by_channel", {"period": "last quarter"})),
        ("Forecast revenue for the next 6 months", ("forecast_revenue", {"horizon_months": 6})),
        ("what will revenue look like next quarter", ("forecast_revenue", {})),
        ("Estimate revenue for Q1 2027", ("forecast_revenue", {})),
    ]:
        calls = finance.invoke([HumanMessage(request)]).tool_calls
        assert len(calls) == 1, (request, calls)
        assert (calls[0]["name"], {k: calls[0]["args"][k] for k in expected[1]}) == expected, request
    # two periods: one call per metric and period
    reply = finance.invoke([HumanMessage("What were CAC and LTV in Q1 2025 vs Q1 2026?")])
    assert [(c["args"]["metric"], c["args"]["period"]) for c in reply.tool_calls] == [
        ("cac", "Q1 2025"),
        ("cac", "Q1 2026"),
        ("ltv", "Q1 2025"),
        ("ltv", "Q1 2026"),
    ]
    # two channels: one call each; a year that is a count is not a second period
    reply = finance.invoke([HumanMessage("Compare ROAS of paid search vs paid social last quarter")])
    assert [(c["args"]["metric"], c["args"]["channel"]) for c in reply.tool_calls] == [
        ("roas", "paid_search"),
        ("roas", "paid_social"),
    ]
    reply = finance.invoke([HumanMessage("What is our CAC, LTV and payback for Q1 vs Q2 2026?")])
    assert len(reply.tool_calls) == 6  # three metrics for two periods, none dropped
    marketing = OfflineChatModel(agent="marketing").bind_tools(build_marketing_tools(deps))
    reply = marketing.invoke([HumanMessage("Draft a personalised email for customer C00355")])
    assert [(c["name"], c["args"].get("customer_id")) for c in reply.tool_calls] == [("draft_email", "C00355")]
    for request in ("Which ads bring the cheapest customers?", "Which channel had the best conversion rate?"):
        [call] = marketing.invoke([HumanMessage(request)]).tool_calls
        assert call["name"] == "channel_performance", request  # the README's example got a campaign brief


@pytest.mark.slow
def test_tool_call_streams_as_one_chunk_and_results_are_summarised():
    model = OfflineChatModel(agent="finance").bind_tools([ForecastArgs])
    chunks = list(model.stream([HumanMessage("forecast revenue for 3 months")]))
    assert chunks[0].tool_call_chunks and json.loads(chunks[0].tool_call_chunks[0]["args"]) == {"horizon_months": 3}
    result = {"headline": "Revenue will reach $1.2M", "facts": ["80% interval $1.0M–$1.4M"]}
    answer = model.invoke(
        [
            HumanMessage("forecast"),
            AIMessage("", tool_calls=[{"name": "ForecastArgs", "args": {}, "id": "1"}]),
            ToolMessage(json.dumps(result), tool_call_id="1"),
        ]
    ).content
    assert "Revenue will reach $1.2M" in answer and "80% interval" in answer


@pytest.mark.parametrize(
    "text,expected",
    [
        ("CAC last quarter", "last quarter"),
        ("revenue in Q3 2025 please", "Q3 2025"),
        ("spend over the last 30 days", "last 30 days"),
        ("how did March 2025 go", "March 2025"),
        ("What was CAC in March?", "in March"),
        ("CAC during sept", "during sept"),
        ("CAC in March 2025", "March 2025"),  # the month with its year, not the bare month
        ("CAC in Mar. 2025", "Mar. 2025"),
        ("What was CAC for the month before last?", "the month before last"),
        ("CAC the month before last 30 days", "the month before last 30 days"),
        ("CAC for FY2025", "FY2025"),
        ("nothing here", None),
    ],
)
def test_find_period(text, expected):
    assert find_period(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CAC Q1 2025 vs Q1 2026", ["Q1 2025", "Q1 2026"]),
        ("Compare CAC this quarter vs last quarter", ["this quarter", "last quarter"]),
        ("CAC last 30 days vs the previous 30 days", ["last 30 days"]),  # every metric compares with that anyway
        ("CAC and LTV last quarter", ["last quarter"]),
        ("the quarter before Q3 2025", ["the quarter before Q3 2025"]),
        ("How did paid search perform last month with 2000 clicks a day?", ["last month"]),
        ("CAC in 2025 vs 2024", ["2025", "2024"]),
    ],
)
def test_find_periods(text, expected):
    from graph.llm.slots import find_periods

    assert find_periods(text) == expected


@pytest.mark.parametrize(
    ("text", "goal"),
    [
        ("Give me 3 campaign ideas for Q1 to reach facilities managers", "reach facilities managers"),
        ("Write a LinkedIn post announcing Lumio Air", "announcing Lumio Air"),
        ("Draft a campaign for champions", None),  # no purpose stated: the segment's own goal
    ],
)
def test_find_goal(text, goal):
    from graph.llm.slots import find_goal

    assert find_goal(text) == goal


def test_find_expression_and_fill_arguments():
    assert find_expression("what is 12,000 * 1.2 + 300 for next year?") == "12,000 * 1.2 + 300"
    assert find_expression("no maths here") is None
    schema = MetricArgs.model_json_schema()
    assert fill_arguments(schema, "ROAS on paid search for last year") == [
        {"metric": "roas", "period": "last year", "channel": "paid_search"}
    ]


class NoteArgs(BaseModel):
    """Draft a personalised note for one customer."""

    customer_id: str = Field(json_schema_extra={"x-find": r"\b(C\d{5})\b"})


def _thread(*turns: tuple[str, str | None]) -> list:
    """Human turns, each followed by its answer (`None`: the supervisor's small-talk reply)."""
    messages: list = []
    for text, agent in turns:
        messages += [
            HumanMessage(text),
            AIMessage("answer" if agent else "You're welcome!", name=agent or "supervisor"),
        ]
    return messages


@pytest.mark.slow
def test_a_follow_up_keeps_every_argument_set_of_the_turn_before():
    model = OfflineChatModel(agent="finance").bind_tools([MetricArgs, ForecastArgs])
    history = _thread(("What was our CAC on email last quarter?", "finance"), ("Q2 2025 vs Q3 2025", "finance"))
    reply = model.invoke([*history, HumanMessage("and what about paid search in the same period?")])
    assert [c["args"] for c in reply.tool_calls] == [
        {"metric": "cac", "period": "Q2 2025", "channel": "paid_search"},
        {"metric": "cac", "period": "Q3 2025", "channel": "paid_search"},
    ]


@pytest.mark.slow
def test_small_talk_is_no_part_of_the_thread_and_a_period_for_a_tool_without_one_is_a_reply():
    model = OfflineChatModel(agent="marketing").bind_tools([NoteArgs, MetricArgs])
    history = _thread(("Draft a note for customer C00042", "marketing"), ("thanks!", None))
    reply = model.invoke([*history, HumanMessage("and in October?")])
    assert not reply.tool_calls and "does not depend on a period" in str(reply.content)
    assert "for October: MetricArgs can be asked for a period" in str(reply.content)
    metric = _thread(("What was our LTV last quarter?", "finance"), ("thanks!", None))
    reply = model.invoke([*metric, HumanMessage("and in October?")])
    assert [c["args"] for c in reply.tool_calls] == [{"metric": "ltv", "period": "in October"}]


@pytest.mark.parametrize(
    ("unit", "phrase", "expected"),
    [
        ("quarter", "for March", "Q4 2025"),  # not Q1 2026, which holds March
        ("quarter", "January 2026", "Q4 2025"),
        ("quarter", "Q1 2026", "Q4 2025"),
        ("month", "March 2026", "February 2026"),
        ("year", "March 2026", "2025"),
    ],
)
def test_a_step_back_never_lands_on_the_period_it_steps_back_from(unit, phrase, expected):
    from datetime import date

    from app.data.periods import parse_period
    from graph.llm.planner import step_back_from

    period = parse_period(step_back_from(unit, phrase), date(2026, 5, 15))
    assert period is not None and period.label == expected
