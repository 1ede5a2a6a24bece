"""CLI errors keep their closing quote, and `--customer ""` says what is missing."""

from __future__ import annotations

import pytest

from app.cli.main import main


def _error(capsys: pytest.CaptureFixture[str], args: list[str]) -> str:
    assert main(args) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture
def database(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "status", "--json"]) == 0  # creates the business tables in this test's GTM_HOME
    capsys.readouterr()


def test_unknown_customer_keeps_its_closing_quote(database: None, capsys: pytest.CaptureFixture[str]) -> None:
    err = _error(capsys, ["ticket", "create", "--subject", "Hub offline", "--customer", "C99999"])
    assert err.endswith("no customer with id 'C99999'")


@pytest.mark.parametrize("customer", ["", "   "])
@pytest.mark.parametrize("action", [["create", "--subject", "Hub offline"], ["list"]])
def test_an_empty_customer_option_is_a_clear_error(
    database: None, capsys: pytest.CaptureFixture[str], action: list[str], customer: str
) -> None:
    err = _error(capsys, ["ticket", *action, "--customer", customer])
    assert "--customer needs a customer id" in err


@pytest.mark.parametrize("args", [["users", "token", "hstaff"], ["users", "disable", "hstaff"]])
def test_unknown_user_keeps_its_closing_quote(database: None, capsys: pytest.CaptureFixture[str], args) -> None:
    assert _error(capsys, args).endswith("no user 'hstaff'")
