"""Benchmark: time to first token in the browser for a support question (offline model).

Run with `.venv/bin/python bench/bench_ttft.py` (options: --runs, --sessions). It prepares a
temporary `GTM_HOME` (`gtm setup` with the browser tests' knowledge-base slice), starts the real
server on a free loopback port and drives Debian's Chromium with Playwright.

Time to first token is measured inside the page: from the click on the send button (a capture-phase
listener stamps `performance.now()`) to the first moment a new assistant message shows answer text (the
offline model's `[offline model]` prefix) in the DOM (a MutationObserver). First one session asking distinct questions one after another, then
`--sessions` browser sessions sending at the same moment. Goal: ≤ 0.5 s for one session.

`--breakdown` then shows where a request's time goes on the server, without the browser or Chainlit:
the same questions through `Copilot.ask` in-process, one at a time and then `--sessions` at once, with
each graph stage's share taken from the runtime's `on_event` updates (routing, retrieval, the draft
and its confidence, the final answer), then `--sessions` questions no earlier phase asked (nothing
about them cached), with how many embedding requests shared a forward pass (micro-batching).
Run on a quiet machine: the figures are CPU-bound.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support_questions import QUESTIONS  # noqa: E402

from app.settings import REPO_ROOT  # noqa: E402
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, KB_DOCS, Server  # noqa: E402

NEW_QUESTIONS = [
    "What happens to my data when I cancel?",
    "Can I pay by bank transfer?",
    "How do I add more seats to my account?",
    "Does the hub work without Wi-Fi?",
    "How often do sensors report readings?",
    "Do you have a discount for nonprofits?",
    "How do I export my data to CSV?",
    "What is your uptime guarantee?",
    "How do I set up single sign-on?",
    "Can I change my plan in the middle of a month?",
]
"""Questions asked by no earlier phase: nothing about them is cached yet (`--breakdown`, last phase)."""

_ARM = """() => {
  window.__ttft = new Promise((resolve) => {
    const before = document.querySelectorAll('[data-step-type="assistant_message"]').length;
    let t0 = null;
    document.querySelector('#chat-submit').addEventListener('click', () => { t0 = performance.now(); },
      {capture: true, once: true});
    const observer = new MutationObserver(() => {
      const all = document.querySelectorAll('[data-step-type="assistant_message"]');
      if (t0 !== null && all.length > before && [...all].slice(before).some((m) => /\[offline model\]|specialist/.test(m.innerText))) {
        observer.disconnect();
        resolve(performance.now() - t0);
      }
    });
    observer.observe(document.body, {subtree: true, childList: true, characterData: true});
  });
}"""


async def _session(browser: Any, server: Server, username: str) -> Any:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{server.url}/login?next=/chat")
    await page.fill("#username", username)
    await page.fill("#password", server.accounts()[username])
    await page.click("button[type=submit]")
    await page.wait_for_selector("#chat-input", timeout=60_000)
    await page.wait_for_selector("#starters", timeout=60_000)  # the chat session is up (its starters show)
    return page


async def _type(page: Any, text: str) -> None:
    await page.click("#chat-input")
    await page.keyboard.type(text)
    await page.evaluate(_ARM)


async def _ask(page: Any, text: str) -> float:
    """Send `text`; returns seconds from the click to the first answer text on screen."""
    await _type(page, text)
    await page.click("#chat-submit")
    ms: float = await page.evaluate("window.__ttft")
    await page.wait_for_timeout(300)
    return ms / 1000


async def run(server: Server, runs: int, sessions: int) -> None:
    """Measure one session, then `sessions` concurrent sessions."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        page = await _session(browser, server, "staff")
        await _ask(page, "What is your returns policy?")  # warm-up (first request of the process)
        single = []
        for i in range(runs):
            single.append(await _ask(page, QUESTIONS[i % len(QUESTIONS)]))
            print(f"  single session #{i + 1}: {single[-1] * 1000:.0f} ms", flush=True)
        await page.context.close()

        pages = [await _session(browser, server, "staff") for _ in range(sessions)]
        for p, question in zip(pages, QUESTIONS[::-1], strict=False):
            await _type(p, question)
        concurrent = await asyncio.gather(*(_click_and_wait(p) for p in pages))
        await browser.close()

    print(f"\nsingle session, {runs} distinct support questions (ms): {[round(s * 1000) for s in single]}")
    print(f"  median {statistics.median(single) * 1000:.0f} ms · max {max(single) * 1000:.0f} ms · goal ≤ 500 ms")
    ordered = sorted(concurrent)
    p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
    print(f"{sessions} concurrent sessions (ms): {[round(s * 1000) for s in ordered]}")
    print(
        f"  median {statistics.median(ordered) * 1000:.0f} ms · p90 {p90 * 1000:.0f} ms · max {ordered[-1] * 1000:.0f} ms"
    )


async def _click_and_wait(page: Any) -> float:
    await page.click("#chat-submit")
    ms: float = await page.evaluate("window.__ttft")
    return ms / 1000


STAGES = ("supervisor", "rag_search", "confidence_check", "respond")
"""The graph nodes of a confident support answer, in order (the first token is written by the last)."""


async def _timed_ask(copilot: Any, question: str) -> dict[str, float]:
    """One support question in-process; returns seconds spent in each stage (and `total`)."""
    from app.runtime import RunEvent

    loop = asyncio.get_running_loop()
    start = last = loop.time()
    spent: dict[str, float] = {}

    def on_event(event: RunEvent) -> None:
        nonlocal last
        if event.kind == "update":
            now = loop.time()
            spent[event.node] = spent.get(event.node, 0.0) + now - last
            last = now

    await copilot.ask(question, on_event=on_event)
    spent["total"] = loop.time() - start
    return spent


def _stage_table(label: str, runs: list[dict[str, float]]) -> None:
    cells = [f"{node} {statistics.median(r.get(node, 0.0) for r in runs) * 1000:.0f}" for node in (*STAGES, "total")]
    print(f"{label}: median ms per stage · " + " · ".join(cells))


async def breakdown(home: Path, kb_dir: Path, runs: int, sessions: int) -> None:
    """Where the server's time goes: stage timings of support questions, alone and `sessions` at once."""
    from app.runtime import Copilot
    from app.settings import Settings

    settings = Settings(home=home, kb_dir=kb_dir, llm_provider="offline", checkpoint_url=str(home / "bench-ckpt.db"))
    async with Copilot.open(settings) as copilot:
        await copilot.warm_up()
        await copilot.wait_warm()
        await _timed_ask(copilot, "What is your returns policy?")
        alone = [await _timed_ask(copilot, QUESTIONS[i % len(QUESTIONS)]) for i in range(runs)]
        together = await asyncio.gather(*(_timed_ask(copilot, q) for q in QUESTIONS[:sessions]))
        before = _embedding_stats()
        fresh = await asyncio.gather(*(_timed_ask(copilot, q) for q in NEW_QUESTIONS[:sessions]))
        after = _embedding_stats()
    _stage_table("one at a time", alone)
    _stage_table(f"{sessions} at once", list(together))
    _stage_table(f"{len(fresh)} new questions at once", list(fresh))
    if before and after:
        print(
            f"  embedding for the new questions: {after['requests'] - before['requests']} model requests in "
            f"{after['forward_passes'] - before['forward_passes']} forward passes "
            f"({after['merged_requests'] - before['merged_requests']} requests shared a pass)"
        )


def _embedding_stats() -> dict[str, int]:
    """The embedder's counters (empty when it has none)."""
    from app.embeddings import get_embedder

    stats = getattr(get_embedder(), "stats", None)
    if stats is None:
        return {}
    return {name: int(getattr(stats, name)) for name in ("requests", "forward_passes", "merged_requests")}


def main() -> None:
    """Prepare a home, start the server, measure, stop."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--breakdown", action="store_true", help="also time the graph's stages in-process")
    parser.add_argument("--breakdown-only", action="store_true", help="only the in-process stage timings")
    args = parser.parse_args()
    if not CHROMIUM.exists() and not args.breakdown_only:
        sys.exit("needs Debian's Chromium: apt-get install chromium")
    (REPO_ROOT / "test-artifacts").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gtm-ttft-") as tmp:
        root = Path(tmp)
        kb_dir = root / "kb"
        kb_dir.mkdir()
        for name in KB_DOCS:
            shutil.copy(REPO_ROOT / "knowledge_base" / name, kb_dir / name)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GTM_") and k != "CHAINLIT_AUTH_SECRET"}
        env |= {
            "GTM_HOME": str(root / "home"),
            "GTM_KB_DIR": str(kb_dir),
            "GTM_LLM_PROVIDER": "offline",
            "HF_HUB_OFFLINE": "1",
        }
        subprocess.run([sys.executable, "-m", "app.cli.main", "setup"], cwd=REPO_ROOT, env=env, check=True)
        if args.breakdown or args.breakdown_only:
            os.environ["HF_HUB_OFFLINE"] = "1"
            asyncio.run(breakdown(root / "home", kb_dir, args.runs, args.sessions))
            if args.breakdown_only:
                return
        server = Server(home=root / "home", env=env)
        server.start()
        try:
            asyncio.run(run(server, args.runs, args.sessions))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
