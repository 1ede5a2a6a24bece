"""`gtm review list` (text): what it says about each escalation's evidence, as the reviewer console does."""

from __future__ import annotations

from app.cli.review_cmd import evidence_lines


def test_words_not_covered_are_listed_rarest_first_as_given():
    item = {"not_covered": {"unknown": ["resellers", "rebrand"], "unmatched": ["white"]}, "grounding": None}
    assert evidence_lines(item) == [
        "  never in the knowledge base: resellers, rebrand",
        "  not in the passages: white",
    ]


def test_each_kind_of_model_verdict_reads_differently():
    no = {"grounding": {"answerable": False, "evidence": "", "verified": False}}
    yes = {"grounding": {"answerable": True, "evidence": "Starter allows 1,000 requests a day.", "verified": True}}
    unfounded = {"grounding": {"answerable": True, "evidence": "made up", "verified": False}}
    assert evidence_lines(no) == ["  model's check: no passage states the answer"]
    assert evidence_lines(yes) == ['  model\'s check: the passages answer it: "Starter allows 1,000 requests a day."']
    assert evidence_lines(unfounded) == [
        "  model's check: it says they answer it, but its quote is not in the passages"
    ]


def test_an_offline_review_with_everything_covered_says_nothing_more():
    assert evidence_lines({"not_covered": {"unknown": [], "unmatched": []}, "grounding": None}) == []
    assert evidence_lines({}) == []
