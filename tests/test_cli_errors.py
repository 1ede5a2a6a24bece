"""Bad input on the command line: one clear line on stderr, a non-zero exit, never a traceback."""

from __future__ import annotations

import subprocess
import sys

import pytest


def gtm(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli.main", *args], input=stdin, capture_output=True, text=True, timeout=240
    )


@pytest.mark.parametrize(
    "args,needle",
    [
        (["ask", ""], "empty"),
        (["ask", "   "], "empty"),
        (["ask", "x" * 100_000], "100,000 characters"),
        (["ask", "what is\x1b[2J our CAC\x07"], "control characters"),
        (["route", ""], "empty"),
        (["thread", "show", "no-such-thread"], "no thread"),
        (["review", "approve", "R-99999"], "no review with id 'R-99999'"),  # the id quoted on both sides
        (["review", "edit", "R-00001", "--text", ""], "empty"),
    ],
)
def test_bad_input_gives_one_clear_line(args, needle):
    proc = gtm(*args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert needle in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout


def test_stdin_batch_reports_bad_lines_without_stopping():
    proc = gtm(
        "route",
        "-",
        stdin="what was our CAC last quarter?\n"
        + "y" * 30_000
        + "\nsegment\x00 customers\nsegment customers with RFM\n",
    )
    out = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(out) == 4
    assert '"route": "finance"' in out[0] and '"error"' in out[1] and "control characters" in out[2]
    assert '"route": "insights"' in out[3]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
