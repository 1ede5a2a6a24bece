"""Chat history: Chainlit's data layer on SQLite, thread listing, authorship checks and persistence."""

from __future__ import annotations

import uuid

import pytest
from chainlit.types import Pagination, ThreadFilter
from chainlit.user import User

from app.web import history
from app.web.server import create_app


async def create_step(layer: history.SQLiteDataLayer, step: dict) -> None:
    """Chainlit's `create_step` without its "wait for the first user message" queue (needs a session)."""
    await history.SQLiteDataLayer.create_step.__wrapped__(layer, step)  # type: ignore[attr-defined]


async def _thread_for(layer: history.SQLiteDataLayer, username: str, text: str, *, thread_id: str | None = None) -> str:
    """Create a thread with one user message and one run step (the way Chainlit writes them)."""
    persisted = await layer.create_user(User(identifier=username))
    assert persisted is not None
    thread_id = thread_id or str(uuid.uuid4())
    await layer.update_thread(thread_id, name=text[:40], user_id=persisted.id, tags=["demo"], metadata={"a": 1})
    now = await layer.get_current_timestamp()
    await create_step(
        layer,
        {
            "id": str(uuid.uuid4()),
            "threadId": thread_id,
            "name": username,
            "type": "user_message",
            "output": text,
            "createdAt": now,
            "streaming": False,
            "tags": ["x"],
            "metadata": {},
        },
    )
    await create_step(
        layer,
        {
            "id": str(uuid.uuid4()),
            "threadId": thread_id,
            "name": "Supervisor",
            "type": "run",
            "input": text,
            "output": "route: support",
            "createdAt": now,
            "streaming": False,
            "showInput": True,
            "modes": {"m": "x"},
        },
    )
    return thread_id


async def test_threads_persist_and_list_per_user(web, start_web) -> None:
    layer = history.data_layer()
    thread_id = await _thread_for(layer, "staff", "How long do I have to return a sensor?")

    thread = await layer.get_thread(thread_id)
    assert thread is not None
    assert thread["userIdentifier"] == "staff"
    assert thread["tags"] == ["demo"]
    assert [s["type"] for s in thread["steps"]] == ["user_message", "run"]
    assert thread["steps"][0]["tags"] == ["x"]

    staff = await layer.get_user("staff")
    assert staff is not None
    listed = await layer.list_threads(Pagination(first=20), ThreadFilter(userId=staff.id))
    assert [t["id"] for t in listed.data] == [thread_id]
    reviewer = await layer.create_user(User(identifier="reviewer"))
    assert reviewer is not None
    assert (await layer.list_threads(Pagination(first=20), ThreadFilter(userId=reviewer.id))).data == []
    assert await layer.get_thread_author(thread_id) == "staff"
    assert await layer.get_thread_author("no-such-thread") == ""


async def test_threads_survive_a_restart(start_web, web_settings) -> None:
    async with start_web(web_settings):
        thread_id = await _thread_for(history.data_layer(), "staff", "What was our CAC by channel?")
    async with start_web(web_settings):
        thread = await history.data_layer().get_thread(thread_id)
    assert thread is not None
    assert thread["steps"][0]["output"] == "What was our CAC by channel?"


async def test_staff_cannot_open_another_users_thread(web) -> None:
    thread_id = await _thread_for(history.data_layer(), "reviewer", "A private question")
    staff = await web.login("staff")
    assert (await staff.get(f"/chat/project/thread/{thread_id}")).status_code == 401
    assert (await staff.get(f"/chat/project/thread/{uuid.uuid4()}")).status_code == 404
    listed = await staff.post("/chat/project/threads", json={"pagination": {"first": 20}, "filter": {}})
    assert listed.status_code == 200, listed.text
    assert listed.json()["data"] == []

    owner = await web.login("reviewer")
    mine = await owner.get(f"/chat/project/thread/{thread_id}")
    assert mine.status_code == 200
    assert mine.json()["userIdentifier"] == "reviewer"
    listed = await owner.post("/chat/project/threads", json={"pagination": {"first": 20}, "filter": {}})
    assert [t["id"] for t in listed.json()["data"]] == [thread_id]


def test_configure_is_side_effect_free_until_used(web_settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CHAINLIT_AUTH_SECRET", raising=False)
    create_app(web_settings)
    assert not (web_settings.home / "chainlit.db").exists() or web_settings.history_url
    assert history.data_layer()._conninfo == web_settings.history_db_url


async def test_history_on_a_shared_postgresql_database(start_web, web_settings, pg_engine) -> None:
    """Several app servers share one history (GTM_HISTORY_URL): PostgreSQL takes Chainlit's bound
    booleans, the JSON-as-text columns and the review outcome, and a restarted server lists the thread."""
    import sqlalchemy as sa

    from app.web.review_watch import record_in_history

    shared = web_settings.model_copy(update={"history_url": pg_engine.url.render_as_string(hide_password=False)})
    async with start_web(shared):
        layer = history.data_layer()
        assert layer.engine.dialect.name == "postgresql"
        thread_id = await _thread_for(layer, "staff", "Do you offer a white-label version?")
        review = {"review_id": "R-00077", "thread_id": thread_id, "decided_by": "reviewer"}
        assert await record_in_history(review, "Yes, through the partner programme.") is True
        assert await record_in_history(review, "Yes, through the partner programme.") is False
    with pg_engine.connect() as conn:  # the rows are in PostgreSQL, where every server reads them
        types = conn.execute(sa.text('SELECT "type", "streaming" FROM steps WHERE "threadId" = :t'), {"t": thread_id})
        assert sorted(types.all()) == [("assistant_message", False), ("run", False), ("user_message", False)]
    assert not (web_settings.home / "chainlit.db").exists()

    async with start_web(shared) as web:  # another server (here: the same one restarted) on the same database
        thread = await history.data_layer().get_thread(thread_id)
        assert thread is not None
        by_type = {s["type"]: s for s in thread["steps"]}  # the test's two first steps share one timestamp
        assert thread["tags"] == ["demo"] and by_type["user_message"]["tags"] == ["x"]
        assert sorted(by_type) == ["assistant_message", "run", "user_message"]
        assert thread["steps"][-1]["type"] == "assistant_message"
        staff = await web.login("staff")
        listed = await staff.post("/chat/project/threads", json={"pagination": {"first": 20}, "filter": {}})
        assert [t["id"] for t in listed.json()["data"]] == [thread_id]
        opened = await staff.get(f"/chat/project/thread/{thread_id}")
        assert opened.status_code == 200
        assert "R-00077 · reviewed by reviewer" in opened.json()["steps"][-1]["output"]
