"""The chat and the reviewer console in a real browser with an OpenAI-compatible model.

The server (`gtm serve`, on loopback) talks to a scripted OpenAI-compatible server (`tests.fake_openai`)
over HTTP, as it would to OpenAI, vLLM or llama.cpp. The chat names the model that answers; a supported
answer streams in; when the model's grounding check finds that no passage states the answer, the question
escalates, and the reviewer console shows the model's check next to the draft.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import Server, start_server
from tests.browser.test_chat_browser import ASSISTANT, send, shot, sign_in, wait_for_answer
from tests.fake_openai import FakeOpenAI

pytestmark = pytest.mark.slow

GROWTH_QUESTION = "How much does the Growth plan cost per month?"
GROWTH_ANSWER = "The Growth plan costs $199 per month, or $1,990 per year [plans-and-pricing.md]. Was this helpful?"
GROWTH_EVIDENCE = "The Growth plan costs $199 per month or $1,990 per year"
STARTER_QUESTION = "How many API requests per day does the Starter plan allow?"


@pytest.fixture(scope="module")
def model() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI().start()
    fake.route_json = {"route": "support", "reason": "a product question"}
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def hosted(tmp_path_factory: pytest.TempPathFactory, model: FakeOpenAI) -> Iterator[Server]:
    running = start_server(
        tmp_path_factory.mktemp("hosted"),
        {
            "GTM_LLM_PROVIDER": "openai",
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": model.base_url,
            "GTM_SUPPORT__MODEL": "local-support-model",
        },
        log_name="server-hosted.log",
    )
    try:
        yield running
    finally:
        running.stop()


def test_hosted_answer_then_a_grounding_no_shown_to_the_reviewer(browser: Any, hosted: Server, model: FakeOpenAI):
    requester = sign_in(browser, hosted, "staff")
    model.answer_text = GROWTH_ANSWER
    model.grade_json = {"answerable": True, "evidence": GROWTH_EVIDENCE}
    send(requester, GROWTH_QUESTION)
    body = wait_for_answer(requester, "$199 per month")
    banner = requester.locator(ASSISTANT).first.inner_text()  # posted with the first answer, which names the model
    assert f"local-support-model (support) at 127.0.0.1:{model.port}" in banner, banner
    assert "sk-test" not in requester.inner_text("body")
    assert "is open for it" not in body  # answered, not escalated
    graded = [r for r in model.requests if "ContextGrade" in str(r.get("response_format") or r.get("tool_choice"))]
    assert graded and GROWTH_QUESTION in str(graded[-1]["messages"])  # the check saw this question's passages

    model.answer_text = "The Starter plan allows 1,000 API requests per day [plans-and-pricing.md]. Was this helpful?"
    model.grade_json = {"answerable": False, "evidence": ""}
    send(requester, STARTER_QUESTION)
    body = wait_for_answer(requester, "is open for it")
    assert "no passage I found states the answer" in body
    review = re.search(r"(R-\d{5})", body.split(STARTER_QUESTION)[-1])
    assert review, body[-600:]
    shot(requester, "hosted-a-grounding-no-escalates")

    reviewer = sign_in(browser, hosted, "reviewer", next_path="/review")
    item = reviewer.locator(f"section#{review.group(1)}")
    item.wait_for(timeout=15_000)
    check = item.locator(".grounding").inner_text()
    assert re.fullmatch(r"Model's check:\s*no passage below states the answer\.", check.strip()), check
    assert "1,000 API requests per day" in item.inner_text()  # the model's draft, for the reviewer to judge
    shot(reviewer, "hosted-b-console-shows-the-models-check")
    item.locator("button[value=approve]").click()
    reviewer.wait_for_load_state()
    assert f"{review.group(1)} approved by reviewer" in reviewer.inner_text("body")
    requester.locator(ASSISTANT).get_by_text("1,000 API requests per day").last.wait_for(timeout=20_000)
