"""The JSON API over the real app: authentication (cookie + CSRF header, bearer tokens), thread ownership,
validation errors, a finance answer, an escalation decided through the API and the SSE stream."""

from __future__ import annotations

import json

import httpx

from app.web.copilot_holder import get_user_store

from .conftest import UNANSWERABLE, Web, make_settings

FINANCE = "What was our CAC by channel last quarter?"


async def bearer(web: Web, username: str) -> httpx.AsyncClient:
    store = await get_user_store()
    token = store.create_token(username)
    client = web.client()
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def sse_events(body: str) -> list[tuple[str, dict]]:
    events = []
    for block in body.split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in lines:
            events.append((lines["event"], json.loads(lines["data"])))
    return events


async def test_requests_without_credentials_get_401_json(web: Web):
    client = web.client()
    for response in (
        await client.post("/api/ask", json={"message": FINANCE}),
        await client.get("/api/threads/abc"),
        await client.get("/api/reviews"),
    ):
        assert response.status_code == 401
        assert "error" in response.json() and "Bearer" in response.json()["error"]
    bad = await client.get("/api/reviews", headers={"Authorization": "Bearer gtm_not-a-real-token"})
    assert bad.status_code == 401 and "invalid" in bad.json()["error"]


async def test_bearer_token_asks_a_finance_question_and_reads_the_thread(web: Web):
    client = await bearer(web, "staff")
    response = await client.post("/api/ask", json={"message": FINANCE, "thread_id": None})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["route"] == "finance" and body["agents"] == ["finance"]
    assert "CAC" in body["answer"] and "$" in body["answer"] and not body["escalated"]
    assert set(body) >= {"answer", "route", "agents", "citations", "confidence", "thread_id", "charts"}
    thread = await client.get(f"/api/threads/{body['thread_id']}")
    assert thread.status_code == 200
    messages = thread.json()["messages"]
    assert messages[0] == {"role": "user", "name": None, "content": FINANCE}
    assert messages[-1]["role"] == "assistant" and messages[-1]["content"] == body["answer"]
    assert thread.json()["status"] == "complete"


async def test_staff_cannot_read_or_continue_another_users_thread(web: Web):
    owner = await bearer(web, "staff")
    asked = (await owner.post("/api/ask", json={"message": FINANCE})).json()
    from app.auth.users import UserStore

    store: UserStore = await get_user_store()
    store.add("kim", "staff", "kim-password-1")
    other = await bearer(web, "kim")
    refused = await other.get(f"/api/threads/{asked['thread_id']}")
    assert refused.status_code == 403 and "another user" in refused.json()["error"]
    hijack = await other.post("/api/ask", json={"message": "and last month?", "thread_id": asked["thread_id"]})
    assert hijack.status_code == 403
    reviewer = await bearer(web, "reviewer")  # reviewers read any thread (they decide escalations)
    assert (await reviewer.get(f"/api/threads/{asked['thread_id']}")).status_code == 200
    missing = await owner.get("/api/threads/no-such-thread")
    assert missing.status_code == 404 and "no thread" in missing.json()["error"]


async def test_cookie_session_post_needs_the_csrf_header(web: Web):
    client = await web.login("staff")
    without = await client.post("/api/ask", json={"message": FINANCE})
    assert without.status_code == 403 and "X-CSRF-Token" in without.json()["error"]
    wrong = await client.post("/api/ask", json={"message": FINANCE}, headers={"X-CSRF-Token": "forged"})
    assert wrong.status_code == 403
    me = (await client.get("/api/session")).json()
    assert me["username"] == "staff" and me["role"] == "staff" and me["csrf_token"]
    ok = await client.post("/api/ask", json={"message": FINANCE}, headers={"X-CSRF-Token": me["csrf_token"]})
    assert ok.status_code == 200 and ok.json()["route"] == "finance"
    assert (await client.get(f"/api/threads/{ok.json()['thread_id']}")).status_code == 200


async def test_input_validation_gives_clear_json_errors(web: Web):
    client = await bearer(web, "staff")
    empty = await client.post("/api/ask", json={"message": "   "})
    assert empty.status_code == 422 and empty.json() == {"error": "message: must not be empty"}
    for invisible in ("\x08", "\u200b\u200d", "\u202a", "\x00"):
        refused = await client.post("/api/ask", json={"message": invisible})
        assert refused.status_code == 422 and "no visible text" in refused.json()["error"], invisible
    limit = web.settings.max_request_chars
    long = await client.post("/api/ask", json={"message": "x" * (limit + 1)})
    assert long.status_code == 413 and "too long" in long.json()["error"]
    missing = await client.post("/api/ask", json={"thread_id": "t1"})
    assert missing.status_code == 422 and "message" in missing.json()["error"]
    not_json = await client.post("/api/ask", content=b"{", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 422 and "error" in not_json.json()
    bad_thread = await client.post("/api/ask", json={"message": FINANCE, "thread_id": "../etc/passwd"})
    assert bad_thread.status_code == 422 and "thread_id" in bad_thread.json()["error"]
    staff_reviews = await client.get("/api/reviews")
    assert staff_reviews.status_code == 403 and "reviewer" in staff_reviews.json()["error"]


async def test_escalation_listed_and_approved_through_the_api(web: Web):
    staff = await bearer(web, "staff")
    asked = (await staff.post("/api/ask", json={"message": UNANSWERABLE})).json()
    assert asked["escalated"] and asked["review_id"]
    assert (await staff.get(f"/api/threads/{asked['thread_id']}")).json()["status"] == "pending_review"
    conflict = await staff.post("/api/ask", json={"message": "any news?", "thread_id": asked["thread_id"]})
    assert conflict.status_code == 409 and "waiting for a reviewer" in conflict.json()["error"]
    streamed = await staff.post("/api/ask?stream=true", json={"message": "any news?", "thread_id": asked["thread_id"]})
    assert streamed.status_code == 409 and asked["review_id"] in streamed.json()["error"]
    reviewer = await bearer(web, "reviewer")
    pending = (await reviewer.get("/api/reviews")).json()["reviews"]
    assert [r["review_id"] for r in pending] == [asked["review_id"]]
    assert pending[0]["requester"] == "staff" and "white-label" in pending[0]["question"]
    assert {"resellers", "rebrand"} <= set(pending[0]["not_covered"]["unknown"])  # what the KB never mentions
    text = "No white-label edition today; resellers can join our partner programme."
    decide = f"/api/reviews/{asked['review_id']}/decide"
    bad = await reviewer.post(decide, json={"action": "edit"})
    assert bad.status_code == 422 and "edited answer" in bad.json()["error"]
    # refused, and the review still pending: too long, control characters, a long note, text with approve
    huge = await reviewer.post(decide, json={"action": "edit", "text": "B" * 20_001})
    assert huge.status_code == 413 and "limit is 20,000" in huge.json()["error"]
    ctrl = await reviewer.post(decide, json={"action": "edit", "text": "ok\u0000ctrl\u001b[31m"})
    assert ctrl.status_code == 422 and "control characters (U+0000, U+001B)" in ctrl.json()["error"]
    long_note = await reviewer.post(decide, json={"action": "reject", "note": "n" * 2001})
    assert long_note.status_code == 422 and "note" in long_note.json()["error"]
    swapped = await reviewer.post(decide, json={"action": "approve", "text": "COMPLETELY DIFFERENT TEXT"})
    assert swapped.status_code == 422 and "use the action edit" in swapped.json()["error"]
    assert [r["review_id"] for r in (await reviewer.get("/api/reviews")).json()["reviews"]] == [asked["review_id"]]
    decided = await reviewer.post(f"/api/reviews/{asked['review_id']}/decide", json={"action": "edit", "text": text})
    assert decided.status_code == 200, decided.text
    assert text in decided.json()["answer"]
    again = await reviewer.post(f"/api/reviews/{asked['review_id']}/decide", json={"action": "approve"})
    assert again.status_code == 409
    thread = (await staff.get(f"/api/threads/{asked['thread_id']}")).json()
    assert thread["status"] == "complete" and text in thread["last_answer"]
    assert (await reviewer.get("/api/reviews")).json()["reviews"] == []


async def test_a_decision_through_the_api_can_add_the_answer_to_the_knowledge_base(
    start_web, tmp_path, web_seeded_db, fresh_kb
):
    settings = make_settings(tmp_path, web_seeded_db, *fresh_kb)
    async with start_web(settings) as web:
        staff = await bearer(web, "staff")
        asked = (await staff.post("/api/ask", json={"message": UNANSWERABLE})).json()
        assert asked["escalated"]
        # the same question asked again before anyone answered it: a second review waits for the same answer
        twin = (await staff.post("/api/ask", json={"message": UNANSWERABLE.upper() + "  "})).json()
        assert twin["escalated"] and twin["review_id"] != asked["review_id"]
        reviewer = await bearer(web, "reviewer")
        decide = f"/api/reviews/{asked['review_id']}/decide"
        refused = await reviewer.post(decide, json={"action": "reject", "add_to_kb": True})
        assert refused.status_code == 422 and "rejected answer" in refused.json()["error"]
        text = "No white-label edition today; resellers can join our partner programme."
        decided = await reviewer.post(decide, json={"action": "edit", "text": text, "add_to_kb": True})
        assert decided.status_code == 200, decided.text
        document = decided.json()["kb_document"]
        assert document.startswith("reviewed-answers/") and (settings.reviewed_path / document.split("/")[1]).exists()
        assert not (fresh_kb[1] / "reviewed-answers").exists()  # the source folder is never written
        assert decided.json()["also_answered"] == [twin["review_id"]]
        thread = (await staff.get(f"/api/threads/{twin['thread_id']}")).json()
        assert thread["status"] == "complete" and text in thread["last_answer"]
        assert (await reviewer.get("/api/reviews")).json()["reviews"] == []
        again = (await staff.post("/api/ask", json={"message": UNANSWERABLE})).json()
        assert not again["escalated"] and "partner programme" in again["answer"], again
        assert document in again["citations"]


async def test_stream_yields_steps_and_tokens_then_done(web: Web):
    client = await bearer(web, "staff")
    response = await client.post("/api/ask?stream=true", json={"message": FINANCE})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "step" and kinds[-1] == "done" and kinds.count("done") == 1
    assert "token" in kinds and kinds.index("token") < kinds.index("done")
    nodes = [data["node"] for kind, data in events if kind == "step"]
    assert "supervisor" in nodes or any("finance" in n for n in nodes), nodes
    done = events[-1][1]
    streamed = "".join(data["text"] for kind, data in events if kind == "token")
    assert done["route"] == "finance" and "CAC" in done["answer"]
    assert streamed.strip() and streamed.strip() in done["answer"]
    accept = await client.post(
        "/api/ask", json={"message": FINANCE, "thread_id": done["thread_id"]}, headers={"Accept": "text/event-stream"}
    )
    assert sse_events(accept.text)[-1][0] == "done"
