"""Fuzzing the command line in process (`app.cli.main.main`): random text, unicode, control characters,
huge inputs and random-bytes files.

Whatever the input, `gtm` ends with a documented exit code for bad input or success (0 or 2; 1 is an
unexpected failure and counts as a bug here), prints at most a one-line `error: ...` on stderr (argparse's
own usage errors excepted) and never a traceback.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app.cli.main import main

FUZZ = settings(
    max_examples=12,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
"""Bounded: the whole module stays within a few seconds plus one model load."""

texts = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=20),  # control characters
    st.text(alphabet=st.characters(min_codepoint=0x80), min_size=1, max_size=40),  # non-ASCII, RTL, emoji
    st.integers(min_value=20_001, max_value=120_000).map(lambda n: "x" * n),  # past GTM_MAX_REQUEST_CHARS
    st.sampled_from(["-", "--", "-h", "--json", "' OR 1=1 --", "../../etc/passwd", "{{7*7}}", "%s%n", "\u202e"]),
)
"""Text arguments: random, control-only, non-ASCII, huge, and a few classic trouble makers."""


def run(capsys: pytest.CaptureFixture[str], argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    """`gtm ARGV` in process: (exit code, stdout, stderr); argparse's exits become their code."""
    capsys.readouterr()
    saved = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: usage errors (2) and --help (0)
        code = exc.code if isinstance(exc.code, int) else 2
    finally:
        sys.stdin = saved
    out, err = capsys.readouterr()
    return code, out, err


def check(result: tuple[int, str, str], argv: list[str]) -> None:
    """The contract of every command for any input."""
    code, out, err = result
    shown = [a[:60] for a in argv]
    assert "Traceback" not in out + err, shown
    assert code in (0, 2), (shown, code, err[-500:])
    lines = err.strip().splitlines()
    if code == 2 and lines and lines[0].startswith("usage:"):
        assert lines[-1].startswith("gtm") and ": error: " in lines[-1], (shown, err[-300:])
    elif code == 2:
        assert len(lines) == 1 and lines[0].startswith("error: "), (shown, err[-300:])


@FUZZ
@given(text=texts)
@example(text="\ud800")  # a lone surrogate: what undecodable bytes in an argument become
def test_route_and_thread_ids(capsys, text):
    for argv in (["route", text, "--json"], ["thread", "show", text], ["review", "approve", text]):
        check(run(capsys, argv), argv)


@settings(FUZZ, max_examples=4)
@given(text=texts)
def test_ask(capsys, text):
    argv = ["ask", text, "--json"]
    check(run(capsys, argv), argv)


@FUZZ
@given(text=texts, k=st.integers(min_value=-5, max_value=200))
def test_kb_search(capsys, text, k):
    argv = ["kb", "search", text, "-k", str(k), "--json"]
    check(run(capsys, argv), argv)


@FUZZ
@given(text=texts)
def test_finance_calc(capsys, text):
    argv = ["finance", "calc", text, "--json"]
    check(run(capsys, argv), argv)


@FUZZ
@given(content=st.binary(max_size=2000), suffix=st.sampled_from([".csv", ".xlsx", ".tsv", ".txt", ""]), sql=texts)
def test_finance_sheet_and_forecast_with_random_files(capsys, tmp_path: Path, content, suffix, sql):
    path = tmp_path / f"random{suffix}"
    path.write_bytes(content)
    for argv in (
        ["finance", "sheet", str(path), "--json"],
        ["finance", "sheet", str(path), "--sql", sql, "--json"],
        ["finance", "forecast", "--series", str(path), "--horizon", "3", "--json"],
    ):
        check(run(capsys, argv), argv)


@FUZZ
@given(
    content=st.one_of(
        st.binary(max_size=2000),
        st.lists(st.text(max_size=12), min_size=1, max_size=30).map(lambda cells: ",".join(cells).encode()),
    ),
    suffix=st.sampled_from([".csv", ".xlsx", ".tsv"]),
    columns=st.lists(texts, min_size=3, max_size=3),
)
def test_data_import_with_random_files(capsys, tmp_path: Path, content, suffix, columns):
    path = tmp_path / f"tx{suffix}"
    path.write_bytes(content)
    customer, date, amount = columns
    argv = ["data", "import", "transactions", str(path), "--customer-col", customer]
    argv += ["--date-col", date, "--amount-col", amount, "--json"]
    check(run(capsys, argv), argv)


@FUZZ
@given(subject=texts, body=texts, ticket=texts, customer=texts)
def test_tickets(capsys, subject, body, ticket, customer):
    for argv in (
        ["ticket", "create", "--subject", subject, "--body", body, "--customer", customer, "--json"],
        ["ticket", "show", ticket, "--json"],
        ["ticket", "update", ticket, "--status", "solved", "--json"],
        ["ticket", "list", "--customer", customer, "--json"],
    ):
        check(run(capsys, argv), argv)


@FUZZ
@given(username=texts, password=texts)
def test_users(capsys, monkeypatch, username, password):
    monkeypatch.setattr("app.auth.users.BCRYPT_ROUNDS", 4)
    argv = ["users", "add", username, "--role", "staff", "--password-stdin", "--json"]
    check(run(capsys, argv, stdin=password + "\n"), argv)
    argv = ["users", "token", username, "--json"]
    check(run(capsys, argv), argv)
