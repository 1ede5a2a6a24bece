"""Small pieces of the console and the account store, without a server."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta

import pytest

from app.auth.bootstrap import ensure_demo_accounts, load_or_create_secret
from app.auth.users import UserError, UserStore
from app.kb.reviewed import knowledge_text
from app.web.review_console import age, safe_next, word_diff


@pytest.mark.parametrize(
    "value,expected",
    [
        ("/review/audit", "/review/audit"),
        ("/chat", "/chat"),
        ("", "/review"),
        ("https://evil.example/", "/review"),
        ("//evil.example/", "/review"),
        ("/\\evil.example", "/review"),
        ("review", "/review"),
    ],
)
def test_safe_next(value, expected):
    assert safe_next(value) == expected


def test_word_diff_escapes_and_marks_changes():
    html = str(word_diff("Refunds take 5 days <b>", "Refunds take 10 days <script>x</script>"))
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;" in html
    assert "<del>5</del>" in html and "<ins>10</ins>" in html
    assert "unchanged" in str(word_diff("same  words", "same words"))
    rewritten = str(word_diff("one two three four", "five six seven eight"))
    assert "<del>one two three four</del>" in rewritten and "<ins>five six seven eight</ins>" in rewritten


def test_knowledge_text_titles_with_the_question_and_drops_tags():
    text = knowledge_text("Do you  sell gift cards?", "[offline model] No gift cards yet. Was this helpful?")
    assert text == "# Do you sell gift cards?\n\nNo gift cards yet.\n"


def test_age_in_words():
    now = datetime(2025, 1, 1, 12, tzinfo=UTC)
    assert age(now - timedelta(seconds=20), now) == "under a minute"
    assert age((now - timedelta(minutes=12)).replace(tzinfo=None), now) == "12 min"
    assert age((now - timedelta(hours=3)).isoformat(), now) == "3 h"
    assert age(now - timedelta(days=2, hours=1), now) == "2 days"


def test_user_store_rules(tmp_path):
    from app.data.db import get_engine

    store = UserStore(get_engine(f"sqlite:///{tmp_path / 'u.db'}"))
    user = store.add(" Rita ", "reviewer", "long enough pw")
    assert user.username == "rita" and user.can_review
    row = store.engine.connect().exec_driver_sql("select password_hash from users").scalar()
    assert row.startswith("$2b$") and "long enough pw" not in row
    for args, message in (
        (("bad name!", "staff", "long enough pw"), "invalid username"),
        (("sam", "owner", "long enough pw"), "unknown role"),
        (("sam", "staff", "short"), "too short"),
        (("sam", "staff", "é" * 40), "too long"),
        (("rita", "staff", "long enough pw"), "already exists"),
    ):
        with pytest.raises(UserError, match=message):
            store.add(*args)
    assert store.authenticate("RITA", "long enough pw") is not None
    assert store.authenticate("rita", "wrong password") is None
    assert store.authenticate("nobody", "long enough pw") is None
    store.set_disabled("rita", True)
    assert store.authenticate("rita", "long enough pw") is None and not store.get("rita").can_review


def test_secret_and_demo_accounts_are_created_once(tmp_path):
    from app.data.db import get_engine

    home = tmp_path / "home"
    first = load_or_create_secret(home)
    assert load_or_create_secret(home) == first and len(first) >= 32
    assert stat.S_IMODE(os.stat(home / "secret.key").st_mode) == 0o600
    store = UserStore(get_engine(f"sqlite:///{tmp_path / 'u.db'}"))
    created = ensure_demo_accounts(store, home)
    assert created is not None and set(created) == {"staff", "reviewer", "admin"}
    assert all(store.authenticate(name, password) for name, password in created.items())
    assert ensure_demo_accounts(store, home) is None  # never again once accounts exist
    assert {u.role for u in store.list()} == {"staff", "reviewer", "admin"}
