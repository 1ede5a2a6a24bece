"""The Chainlit chat: streams the graph's answer, shows the route and tools as steps, renders charts."""

from __future__ import annotations

import chainlit as cl
import plotly.graph_objects as go

from app.web.copilot_holder import get_copilot

STARTERS = [
    ("Weekly report", "Give me the weekly report"),
    ("Win-back campaign", "Launch a win-back campaign for churned customers"),
    ("CAC by channel", "What was our CAC by channel last quarter?"),
    ("RFM segments", "Segment our customers with RFM"),
    ("Support question", "How long do I have to return a sensor I don't need?"),
    ("Escalation", "Do you offer a white-label version of Lumio for resellers?"),
]


@cl.set_starters
async def starters(user: cl.User | None = None, language: str | None = None) -> list[cl.Starter]:
    """Starter prompts for the demo scenarios."""
    return [cl.Starter(label=label, message=message) for label, message in STARTERS]


@cl.on_chat_start
async def start() -> None:
    """Warm the services so the first answer is quick; say which model answers."""
    copilot = await get_copilot()
    if not copilot.settings.use_openai:
        await cl.Message(
            content="🔌 **Offline model** — deterministic answers from real tools and documents, no API key needed.",
            author="GTM Copilot",
        ).send()


@cl.on_message
async def on_message(message: cl.Message) -> None:
    """Run the request through the graph on this chat's thread and stream the answer."""
    copilot = await get_copilot()
    thread_id = cl.context.session.thread_id
    user = cl.context.session.user
    author = "GTM Copilot" if copilot.settings.use_openai else "GTM Copilot · offline model"
    reply = cl.Message(content="", author=author)
    text = message.content.strip()
    if not text:
        await cl.Message(content="Please type a question.").send()
        return
    if len(text) > copilot.settings.max_request_chars:
        await cl.Message(
            content=f"That message is too long ({len(text):,} characters; the limit is "
            f"{copilot.settings.max_request_chars:,}). Please shorten it."
        ).send()
        return
    try:
        async with cl.Step(name="Supervisor", type="run") as step:
            step.input = text
            result = await copilot.ask(
                text, thread_id=thread_id, user_id=user.identifier if user else "anonymous", on_token=reply.stream_token
            )
            step.output = f"route: {result.route} · agents: {', '.join(result.agents)}"
    except Exception as exc:  # noqa: BLE001 - the chat shows a short message, never a traceback
        await cl.Message(content=f"Sorry, that request failed: {' '.join(str(exc).split())[:300]}").send()
        return
    if not reply.content or result.escalated:
        reply.content = result.answer
    elements = [
        cl.Plotly(name=f"chart-{i}", figure=go.Figure(chart), display="inline") for i, chart in enumerate(result.charts)
    ]
    reply.elements = elements  # type: ignore[assignment]
    await reply.send()
