"""Cold start and memory of the real server: spawn → `/healthz` → `/readyz`, and resident memory.

Goals: cold start to ready ≤ 15 s; resident memory ≤ 1.2 GB. A fresh `GTM_HOME` is prepared first with
`gtm setup` (demo data, the project's knowledge base indexed) — that is installation, not start-up, so
it is not timed. Then the server (`gtm serve`, offline model) is started `--runs` times on that home.
The first start also creates the demo accounts and embeds the router's examples and the knowledge-base
sentences, which it saves in `GTM_HOME/cache/` for the next starts: it is reported on its own line as well.
Each run reports the time from process spawn until `/healthz` answers (liveness: the server listens;
the models still load in the background) and until `/readyz` answers 200 (the whole warm-up done:
embedding model, classifier, knowledge-base index and sentence vectors), and the server's VmRSS from
`/proc/PID/status` once ready.

`ServerProcess` and `prepare_home` are shared with `bench_load.py`.

Run: .venv/bin/python bench/bench_startup.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests import server_process  # noqa: E402

START_TIMEOUT_S = 600.0
GOAL_READY_S = 15.0
GOAL_RSS_MB = 1200.0


def server_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a server on `home`: offline model, no inherited GTM settings or secrets."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("GTM_") and key not in ("CHAINLIT_AUTH_SECRET", "OPENAI_API_KEY", "REDIS_URL")
    }
    env |= {
        "GTM_HOME": str(home),
        "GTM_KB_DIR": str(REPO_ROOT / "knowledge_base"),
        "GTM_LLM_PROVIDER": "offline",
        "GTM_DEMO_MODE": "true",
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    return env | extra


def gtm(env: dict[str, str], *args: str, input_text: str | None = None, timeout: float = 600) -> str:
    """Run `gtm ARGS` with `env` (and `input_text` on stdin); returns stdout (raises with stderr on failure)."""
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli.main", *args],
        cwd=REPO_ROOT,
        env=env,
        input=input_text,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"gtm {' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return proc.stdout


def prepare_home(home: Path, env: dict[str, str]) -> float:
    """`gtm setup` on a fresh home (seed + knowledge base); returns its duration in seconds."""
    home.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    gtm(env, "setup")
    return time.perf_counter() - started


def rss_mb(pid: int) -> float:
    """Resident memory of a process (VmRSS), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


@dataclass
class ServerProcess(server_process.ServerProcess):
    """`gtm serve` in a subprocess on a free loopback port, its output in `log_path`; `start()` times it."""

    start_timeout_s: float = START_TIMEOUT_S

    def start(self, *, wait_ready: bool = True) -> dict[str, float]:
        """Spawn the server and wait for `/healthz`, then (`wait_ready`) `/readyz`; returns the times in seconds."""
        return self.launch(wait_ready=wait_ready)


def main(runs: int) -> dict[str, object]:
    """Prepare a home, start the server `runs` times, print and return the figures."""
    with tempfile.TemporaryDirectory(prefix="gtm-bench-start-") as tmp:
        home = Path(tmp) / "home"
        env = server_env(home)
        setup_s = prepare_home(home, env)
        print(f"gtm setup (not timed as start-up): {setup_s:.1f} s")
        rows = []
        for run in range(1, runs + 1):
            server = ServerProcess(env=env, log_path=Path(tmp) / "server.log")
            try:
                times = server.start()
                memory = rss_mb(server.pid)
            finally:
                server.stop()
            rows.append({"run": run, **times, "rss_mb": memory})
            print(
                f"run {run}: /healthz after {times['healthz']:.2f} s, /readyz after {times['readyz']:.2f} s, "
                f"RSS {memory:.0f} MB" + (" (first start: creates the demo accounts)" if run == 1 else "")
            )
        worst_ready = max(r["readyz"] for r in rows)
        worst_rss = max(r["rss_mb"] for r in rows)
        print(
            f"cold start to ready (worst of {runs}): {worst_ready:.2f} s (goal ≤ {GOAL_READY_S:.0f} s) "
            f"{'OK' if worst_ready <= GOAL_READY_S else 'MISSED'}; "
            f"RSS when ready (worst): {worst_rss:.0f} MB (goal ≤ {GOAL_RSS_MB:.0f} MB) "
            f"{'OK' if worst_rss <= GOAL_RSS_MB else 'MISSED'}"
        )
        figures: dict[str, object] = {
            "setup_s": setup_s,
            "runs": rows,
            "worst_ready_s": worst_ready,
            "worst_rss_mb": worst_rss,
        }
        if len(rows) > 1:
            restart = max(r["readyz"] for r in rows[1:])
            figures["worst_restart_ready_s"] = restart
            print(
                f"  first start on the new home: ready after {rows[0]['readyz']:.2f} s; restarts (worst of "
                f"{len(rows) - 1}): {restart:.2f} s {'OK' if restart <= GOAL_READY_S else 'MISSED'}"
            )
        print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPU(s)")
        return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="server starts on the same home (default 3)")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON object")
    args = parser.parse_args()
    figures = main(args.runs)
    if args.json:
        print(json.dumps(figures))
