"""Chat history extras: charts persisted with their message, review outcomes written exactly once."""

from __future__ import annotations

import base64
import json
import uuid

import plotly.graph_objects as go
from chainlit.context import init_http_context
from chainlit.element import Plotly

from app.web import history
from app.web.review_watch import REVIEWER_AUTHOR, record_in_history, review_message, review_message_id
from tests.web.test_history import _thread_for


async def test_a_chart_is_stored_with_its_message_and_comes_back_with_the_thread(web) -> None:
    layer = history.data_layer()
    thread_id = await _thread_for(layer, "staff", "What was our CAC by channel?")
    init_http_context(thread_id=thread_id)
    figure = go.Figure(go.Bar(x=["paid search", "social"], y=[412.5, 288.0]))
    chart = Plotly(name="chart-0", figure=figure, display="inline")
    chart.for_id = str(uuid.uuid4())
    chart.thread_id = thread_id
    await history.SQLiteDataLayer.create_element.__wrapped__(layer, chart)  # type: ignore[attr-defined]

    thread = await layer.get_thread(thread_id)
    assert thread is not None
    [element] = thread["elements"]  # type: ignore[misc]
    assert element["name"] == "chart-0" and element["forId"] == chart.for_id and element["display"] == "inline"
    url = str(element["url"])
    assert url.startswith("data:application/json;base64,")
    stored = json.loads(base64.b64decode(url.split(",", 1)[1]))
    assert stored["data"][0]["x"] == ["paid search", "social"] and stored["data"][0]["y"] == [412.5, 288.0]


async def test_a_review_outcome_is_written_once_into_a_web_thread_only(web) -> None:
    layer = history.data_layer()
    thread_id = await _thread_for(layer, "staff", "Do you offer a white-label version?")
    review = {"review_id": "R-00042", "thread_id": thread_id, "decided_by": "reviewer"}

    assert await record_in_history(review, "Yes, through the partner programme.") is True
    assert await record_in_history(review, "Yes, through the partner programme.") is False
    thread = await layer.get_thread(thread_id)
    assert thread is not None
    outcomes = [s for s in thread["steps"] if s["type"] == "assistant_message"]
    assert len(outcomes) == 1
    assert outcomes[0]["id"] == review_message_id("R-00042")
    assert outcomes[0]["name"] == REVIEWER_AUTHOR
    assert outcomes[0]["output"] == review_message("R-00042", "reviewer", "Yes, through the partner programme.")
    assert "R-00042 · reviewed by reviewer" in outcomes[0]["output"]

    # A thread asked from the command line has no chat history: nothing to write to.
    cli = {"review_id": "R-00043", "thread_id": uuid.uuid4().hex, "decided_by": "reviewer"}
    assert await record_in_history(cli, "An answer") is False


def test_review_message_ids_are_stable_and_distinct() -> None:
    assert review_message_id("R-00001") == review_message_id("R-00001")
    assert review_message_id("R-00001") != review_message_id("R-00002")
    uuid.UUID(review_message_id("R-00001"))  # Chainlit step ids are UUIDs
