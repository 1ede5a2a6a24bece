"""Offline support answers that must hold the key fact the knowledge base states (testers' reports).

Each question goes through the real offline pipeline: the whole project knowledge base indexed, `rag_search`'s
search, then the offline model's support writer. The answer holds the fact, cites its document, stays under
100 words and quotes nothing but the passages' own sentences.
"""

from __future__ import annotations

import pytest

from app.embeddings import Embedder
from app.kb.service import KnowledgeBase
from app.settings import REPO_ROOT, Settings

from .conftest import write_kb
from .test_support_answers import answer, assert_rules, passages_of, search


@pytest.fixture(scope="module")
def full_kb(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> KnowledgeBase:
    """The project's whole knowledge base (the wrong answers came from neighbours of the right document)."""
    folder = tmp_path_factory.mktemp("full-kb")
    docs = {p.name: p.read_text(encoding="utf-8") for p in sorted((REPO_ROOT / "knowledge_base").glob("*.md"))}
    write_kb(folder, docs)
    kb = KnowledgeBase(Settings(home=tmp_path_factory.mktemp("answers-home"), kb_dir=folder), embedder)
    kb.ingest()
    return kb


def ask(kb: KnowledgeBase, question: str) -> tuple[str, list[str]]:
    found = search(kb, question)
    passages = passages_of(found)
    text = answer(question, passages)
    return text, assert_rules(text, passages)


def test_return_window_comes_from_the_returns_policy_not_installation_days(full_kb: KnowledgeBase) -> None:
    """The chat's starter question: the 30-day return rule, not the installation guide's "2 installation days"."""
    text, cited = ask(full_kb, "How long do I have to return a sensor I don't need?")
    assert "within 30 days" in text, text
    assert "returns-and-warranty.md" in cited and "installation days" not in text, text


@pytest.mark.parametrize(
    ("question", "facts", "doc"),
    [
        ("What are the prices of your plans?", ("$49/month", "$199/month", "$999/month"), "plans-and-pricing.md"),
        ("What is the SLA uptime guarantee?", ("no SLA", "99.5%", "99.9%"), "sla-and-uptime.md"),
        ("Who are your subprocessors?", ("Amazon Web Services", "Stripe", "Datadog"), "dpa-and-subprocessors.md"),
        (
            "How often do sensors need new batteries?",
            ("Lumio Sense (LM-SENSE)", "Lumio Sense Pro", "Lumio Air", "about 2 years"),
            "battery-life-and-replacement.md",
        ),
    ],
)
def test_a_table_that_answers_is_quoted_with_every_row(
    full_kb: KnowledgeBase, question: str, facts: tuple[str, ...], doc: str
) -> None:
    text, cited = ask(full_kb, question)
    assert doc in cited, text
    for fact in facts:
        assert fact in text, f"{fact!r} missing: {text}"


def test_a_pronoun_sentence_counts_with_what_it_refers_to(full_kb: KnowledgeBase) -> None:
    """ "It does not apply to Enterprise contracts" answers a question about the nonprofit discount on Enterprise."""
    text, _ = ask(full_kb, "Is there a nonprofit discount on the Enterprise plan?")
    assert "does not apply to Enterprise contracts" in text, text


def test_a_document_outline_answer_gives_one_rule_per_line(full_kb: KnowledgeBase) -> None:
    """ "What is your refund policy?" lists each section's rule on its own line, never "…plans. Example: refunding
    an annual Growth plan: …" run together."""
    text, cited = ask(full_kb, "What is your refund policy?")
    assert cited == ["refund-policy.md"], text
    assert "not refunded for partial months" in text, text
    lines = [line for line in text.splitlines() if line.startswith("- ")]
    assert len(lines) >= 3, text
    for line in lines:
        assert line.count("Refunds on ") + line.count("Example: ") <= 1, f"two rules run together: {line}"


def test_the_outline_never_ends_a_section_on_a_dangling_colon(full_kb: KnowledgeBase) -> None:
    """A section that opens with a lead-in ("…includes these headers:") gives no half sentence to the answer."""
    text, _ = ask(full_kb, "What are the API rate limits?")
    assert "these headers:" not in text and "every request:" not in text, text
    assert "1,000 requests/day" in text, text
