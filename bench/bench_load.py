"""Load: concurrent chats through the real server's JSON API, then the dashboard's figures.

Goals: zero errors, zero lost messages, no "database is locked" in the server log; latency p50/p95/p99
per turn are reported (no goal: they depend on the machine and `--latency`).

Steps: a fresh `GTM_HOME` (`gtm setup`), the real server (`gtm serve`, offline model, optionally
`GTM_OFFLINE_LATENCY_S` to simulate a hosted model), a staff account with an API token
(`gtm users add` / `gtm users token`), then `--chats` concurrent chats, each its own thread of 2-3
turns mixing finance, insights, marketing and support questions (`POST /api/ask` with the bearer
token). Afterwards every thread is read back (`GET /api/threads/{id}`): each question and each answer
must be in it. The server log is searched for "database is locked" and tracebacks; the admin signs in
and the `/admin` dashboard's figures are printed, with the server's resident memory.

Run: .venv/bin/python bench/bench_load.py [--chats 50] [--latency 0] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_startup import ServerProcess, gtm, prepare_home, rss_mb, server_env  # noqa: E402

QUESTIONS = {
    "finance": [
        "What was our CAC last quarter?",
        "What is our LTV to CAC ratio?",
        "What is our runway?",
        "What is our gross margin?",
        "Show CAC by channel",
    ],
    "insights": [
        "Segment customers with RFM",
        "Which customers are likely to churn?",
        "Show cohort retention",
    ],
    "marketing": [
        "How did our channels perform in the last 30 days?",
        "Which channel has the best ROAS?",
    ],
    "support": [
        "How long do I have to return a sensor?",
        "Does the Growth plan include SSO?",
        "What are your support hours?",
    ],
}
"""Questions per domain (none escalates or waits for an approval, so every turn gets an answer)."""

LOAD_USER = "loadbot"


def pct(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * (len(ordered) - 1)))))]


@dataclass
class Turn:
    """One question of a chat and what came back."""

    question: str
    domain: str
    latency_s: float = 0.0
    status: int = 0
    answer: str = ""
    route: str | None = None
    error: str = ""


@dataclass
class Chat:
    """One conversation: its thread and turns."""

    index: int
    turns: list[Turn] = field(default_factory=list)
    thread_id: str | None = None


def plan_chats(n: int, seed: int) -> list[Chat]:
    """`n` chats of 2-3 turns, each turn from a different domain where possible."""
    rng = random.Random(seed)
    domains = list(QUESTIONS)
    chats = []
    for index in range(n):
        picked = rng.sample(domains, k=rng.choice((2, 3)))
        chats.append(Chat(index, [Turn(rng.choice(QUESTIONS[d]), d) for d in picked]))
    return chats


async def run_chat(client: httpx.AsyncClient, chat: Chat, start: asyncio.Event) -> None:
    """Send the chat's turns one after the other on its thread."""
    await start.wait()
    for turn in chat.turns:
        body = {"message": turn.question, "thread_id": chat.thread_id}
        started = time.perf_counter()
        try:
            response = await client.post("/api/ask", json=body)
            turn.status = response.status_code
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            turn.error = f"{type(exc).__name__}: {exc}"
            turn.latency_s = time.perf_counter() - started
            return
        turn.latency_s = time.perf_counter() - started
        if response.status_code != 200:
            turn.error = f"HTTP {response.status_code}: {str(data.get('error', data))[:200]}"
            return
        turn.answer = str(data.get("answer") or "")
        turn.route = data.get("route")
        chat.thread_id = data.get("thread_id") or chat.thread_id
        if not turn.answer:
            turn.error = "empty answer"


async def check_thread(client: httpx.AsyncClient, chat: Chat) -> list[str]:
    """What is missing from the chat's thread as the server stored it."""
    if chat.thread_id is None:
        return [f"chat {chat.index}: no thread"]
    response = await client.get(f"/api/threads/{chat.thread_id}")
    if response.status_code != 200:
        return [f"chat {chat.index}: GET thread -> {response.status_code}"]
    messages = response.json()["messages"]
    questions = [m["content"] for m in messages if m["role"] == "user"]
    answers = [m["content"] for m in messages if m["role"] == "assistant"]
    lost = []
    for turn in chat.turns:
        if turn.error:
            continue
        if turn.question not in questions:
            lost.append(f"chat {chat.index}: question {turn.question!r} missing")
        if turn.answer not in answers:
            lost.append(f"chat {chat.index}: answer to {turn.question!r} missing")
    asked = sum(1 for t in chat.turns if not t.error)
    if len(questions) != asked:
        lost.append(f"chat {chat.index}: {len(questions)} questions stored for {asked} asked")
    return lost


class TableText(HTMLParser):
    """Rows of the HTML tables with an id, as lists of cell texts: `{table_id: [[cell, ...], ...]}`."""

    def __init__(self) -> None:
        """Start empty."""
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self.heading = ""
        self._in_h1 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Track tables, rows, cells and the page heading."""
        if tag == "table":
            self._table = dict(attrs).get("id") or f"table{len(self.tables)}"
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "h1":
            self._in_h1 = True

    def handle_endtag(self, tag: str) -> None:
        """Close cells, rows and tables."""
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._table and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None
        elif tag == "h1":
            self._in_h1 = False

    def handle_data(self, data: str) -> None:
        """Collect text."""
        if self._cell is not None:
            self._cell.append(data)
        if self._in_h1:
            self.heading += data


async def admin_dashboard(base_url: str, password: str) -> TableText:
    """Sign in as `admin` through the login form and parse `/admin`."""
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        form = await client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]*)"', form.text)
        assert token, "no CSRF token on /login"
        signed_in = await client.post(
            "/login", data={"username": "admin", "password": password, "next": "/admin", "csrf_token": token.group(1)}
        )
        assert signed_in.status_code == 303, f"admin sign-in failed: {signed_in.status_code}"
        page = await client.get("/admin")
        assert page.status_code == 200, f"/admin -> {page.status_code}"
        parsed = TableText()
        parsed.feed(page.text)
        return parsed


def read_accounts(home: Path) -> dict[str, str]:
    """The demo accounts written at first start."""
    text = (home / "demo-accounts.txt").read_text(encoding="utf-8")
    return {line.split("\t")[0]: line.split("\t")[1] for line in text.splitlines() if not line.startswith("#")}


async def load(base_url: str, token: str, chats: list[Chat]) -> tuple[float, list[str]]:
    """Run every chat at once; returns the wall time and the lost messages."""
    limits = httpx.Limits(max_connections=len(chats) + 5, max_keepalive_connections=len(chats) + 5)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=900, limits=limits) as client:
        start = asyncio.Event()
        tasks = [asyncio.create_task(run_chat(client, chat, start)) for chat in chats]
        started = time.perf_counter()
        start.set()
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - started
        lost: list[str] = []
        for chat in chats:
            lost += await check_thread(client, chat)
    return wall, lost


def main(n_chats: int, latency_s: float, seed: int) -> dict[str, object]:
    """Prepare, start, load, check; prints and returns the figures."""
    with tempfile.TemporaryDirectory(prefix="gtm-bench-load-") as tmp:
        home = Path(tmp) / "home"
        env = server_env(home, GTM_OFFLINE_LATENCY_S=str(latency_s))
        print(f"gtm setup: {prepare_home(home, env):.1f} s")
        log_path = Path(tmp) / "server.log"
        server = ServerProcess(env=env, log_path=log_path)
        times = server.start(wait_ready=False)  # requests are served while the background warm-up runs
        print(f"server up in {times['healthz']:.1f} s; RSS {rss_mb(server.pid):.0f} MB")
        try:
            gtm(env, "users", "add", LOAD_USER, "--role", "staff", "--password-stdin", input_text="load-pw-1\n")
            token = json.loads(gtm(env, "users", "token", LOAD_USER, "--json"))["token"]
            chats = plan_chats(n_chats, seed)
            turns = sum(len(c.turns) for c in chats)
            print(f"{n_chats} concurrent chats, {turns} turns, offline model latency {latency_s:g} s per call ...")
            wall, lost = asyncio.run(load(server.url, token, chats))
            rss_after = rss_mb(server.pid)
            dashboard = asyncio.run(admin_dashboard(server.url, read_accounts(home)["admin"]))
        finally:
            server.stop()
        log_text = log_path.read_text(encoding="utf-8", errors="replace")

    all_turns = [t for c in chats for t in c.turns]
    done = [t for t in all_turns if not t.error]
    errors = [f"chat {c.index}: {t.question!r}: {t.error}" for c in chats for t in c.turns if t.error]
    latencies = [t.latency_s for t in done]
    by_position: dict[int, list[float]] = {}
    for chat in chats:
        for position, turn in enumerate(chat.turns, 1):
            if not turn.error:
                by_position.setdefault(position, []).append(turn.latency_s)
    locked = log_text.count("database is locked")
    tracebacks = log_text.count("Traceback")
    wrong_route = [t for t in done if t.route and t.route != t.domain]

    print(f"\nwall time {wall:.1f} s for {len(all_turns)} turns ({len(done) / wall:.2f} answered turns/s)")
    if latencies:
        print(
            f"latency per turn: p50 {pct(latencies, 0.5):.2f} s, p95 {pct(latencies, 0.95):.2f} s, "
            f"p99 {pct(latencies, 0.99):.2f} s, max {max(latencies):.2f} s"
        )
        for position, values in sorted(by_position.items()):
            print(f"  turn {position}: n={len(values)} p50 {pct(values, 0.5):.2f} s, p95 {pct(values, 0.95):.2f} s")
    print(f"errors: {len(errors)}")
    for line in errors[:10]:
        print(f"  {line}")
    print(f"lost messages: {len(lost)}")
    for line in lost[:10]:
        print(f"  {line}")
    print(f'"database is locked" in the server log: {locked}; tracebacks: {tracebacks}')
    print(f"routes different from the question's domain (informational): {len(wrong_route)}")
    print(f"server RSS after the load: {rss_after:.0f} MB")
    print(f"\n/admin — {' '.join(dashboard.heading.split())}")
    for table in ("targets", "routes"):
        for row in dashboard.tables.get(table, []):
            print("  " + " | ".join(row))
    print(f"\nload average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPU(s)")
    return {
        "chats": n_chats,
        "turns": len(all_turns),
        "latency_s": latency_s,
        "wall_s": wall,
        "p50_s": pct(latencies, 0.5) if latencies else None,
        "p95_s": pct(latencies, 0.95) if latencies else None,
        "p99_s": pct(latencies, 0.99) if latencies else None,
        "errors": len(errors),
        "lost": len(lost),
        "database_locked": locked,
        "tracebacks": tracebacks,
        "rss_after_mb": rss_after,
        "dashboard": dashboard.tables,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=50, help="concurrent chats (default 50)")
    parser.add_argument("--latency", type=float, default=0.0, help="GTM_OFFLINE_LATENCY_S of the server (default 0)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the question mix")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON object")
    args = parser.parse_args()
    figures = main(args.chats, args.latency, args.seed)
    if args.json:
        print(json.dumps(figures, default=str))
    ok = figures["errors"] == 0 and figures["lost"] == 0 and figures["database_locked"] == 0
    sys.exit(0 if ok else 1)
