from pathlib import Path

import pytest

from graph.prompts import PLACEHOLDERS, PROMPTS_DIR, PromptError, load_prompt_file, render


@pytest.mark.parametrize("name", list(PLACEHOLDERS))
def test_every_prompt_file_loads(name):
    prompts = load_prompt_file(name)
    for prompt in PLACEHOLDERS[name]:
        assert getattr(prompts, prompt).strip()


def _copy(tmp_path: Path, name: str, transform) -> Path:
    text = (PROMPTS_DIR / f"{name}_prompts.yaml").read_text()
    (tmp_path / f"{name}_prompts.yaml").write_text(transform(text))
    return tmp_path


def test_missing_placeholder_names_file_prompt_and_variable(tmp_path):
    folder = _copy(tmp_path, "support", lambda t: t.replace("{context}", "the context"))
    with pytest.raises(PromptError) as err:
        load_prompt_file("support", folder)
    message = str(err.value)
    assert "support_prompts.yaml" in message and "answer_query" in message and "{context}" in message


def test_unknown_key_is_rejected(tmp_path):
    folder = _copy(tmp_path, "finance", lambda t: t + "\nsurprise: |\n  hello\n")
    with pytest.raises(PromptError, match="surprise"):
        load_prompt_file("finance", folder)


def test_unknown_placeholder_is_rejected(tmp_path):
    folder = _copy(tmp_path, "insights", lambda t: t.replace("{request}", "{request} {mystery}"))
    with pytest.raises(PromptError, match="mystery"):
        load_prompt_file("insights", folder)


def test_render_requires_every_value():
    with pytest.raises(PromptError, match="confidence"):
        render("support", "answer_query", query="q", context="c")
    text = render(
        "support", "answer_query", query="Where is my order?", context="[shipping.md] 3-5 days", confidence=0.9
    )
    assert "Where is my order?" in text and "Was this helpful?" in text
