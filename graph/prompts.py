"""Prompt templates: `prompts/*.yaml`, validated on load by pydantic models with `extra="forbid"`.

Each prompt declares the placeholders it must contain (`PLACEHOLDERS`); a file with a missing or
unexpected placeholder, an unknown key or a missing prompt fails with one error naming the file, the
prompt and the variable. Rendering checks that every placeholder gets a value.
"""

from __future__ import annotations

import string
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from app.settings import REPO_ROOT

PROMPTS_DIR = REPO_ROOT / "prompts"
"""Where the YAML prompt files live."""

PromptFileName = Literal["marketing", "finance", "insights", "support", "supervisor"]


class PromptError(ValueError):
    """A prompt file or a rendering is invalid; the message names file, prompt and variable."""


class _PromptFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MarketingPrompts(_PromptFile):
    """`prompts/marketing_prompts.yaml`."""

    system_prompt: str
    """Marketing agent persona and rules."""
    campaign_generation: str
    """Campaign concept, key messages, CTA and success metrics."""
    email_draft: str
    """A personalised email for one customer."""
    analysis_answer: str
    """Answer from channel-analytics tool results."""


class FinancePrompts(_PromptFile):
    """`prompts/finance_prompts.yaml`."""

    system_prompt: str
    """Finance agent persona and rules."""
    metric_calculation: str
    """A metric with formula, steps, result, benchmark and recommendation."""
    revenue_forecast: str
    """Forecast with methodology, point estimate, 80% interval and assumptions."""
    analysis_answer: str
    """Answer from other finance tool results (calculator, sheets)."""


class InsightsPrompts(_PromptFile):
    """`prompts/insights_prompts.yaml`."""

    system_prompt: str
    """Insights agent persona and rules."""
    analysis_answer: str
    """Finding, numbers, method and action from analytics results."""


class SupportPrompts(_PromptFile):
    """`prompts/support_prompts.yaml`."""

    system_prompt: str
    """Support agent persona and rules."""
    answer_query: str
    """Answer from retrieved context, cited, under 100 words."""
    grade_system: str
    """Instructions of the grounding check (`graph.llm.grounding`)."""
    grade_context: str
    """Do these passages answer this question, and which sentence does."""
    analysis_answer: str
    """Answer a ticket request (look up, list, open, update) from the ticket tools' results."""


class SupervisorPrompts(_PromptFile):
    """`prompts/supervisor_prompts.yaml`."""

    system_prompt: str
    """Routing instructions for LLM intent classification."""
    classify: str
    """The classification request."""
    report_section: str
    """One agent's section of the weekly report, written by that agent's model."""
    weekly_report: str
    """The aggregated parallel report."""


FILE_MODELS: dict[PromptFileName, type[_PromptFile]] = {
    "marketing": MarketingPrompts,
    "finance": FinancePrompts,
    "insights": InsightsPrompts,
    "support": SupportPrompts,
    "supervisor": SupervisorPrompts,
}

PLACEHOLDERS: dict[PromptFileName, dict[str, frozenset[str]]] = {
    "marketing": {
        "system_prompt": frozenset({"brand_voice", "customer_segment", "tools"}),
        "campaign_generation": frozenset(
            {"campaign_type", "target_segment", "product_name", "campaign_goal", "budget", "segment_data"}
        ),
        "email_draft": frozenset(
            {
                "customer_name",
                "last_purchase_date",
                "last_product",
                "rfm_segment",
                "channel",
                "recommended_product",
                "incentive",
                "tone",
            }
        ),
        "analysis_answer": frozenset({"request", "results_json"}),
    },
    "finance": {
        "system_prompt": frozenset({"tools"}),
        "metric_calculation": frozenset({"metric_name", "time_period", "data_json"}),
        "revenue_forecast": frozenset(
            {"forecast_period", "historical_data", "model_output", "growth_rate", "churn_rate", "seasonality"}
        ),
        "analysis_answer": frozenset({"request", "results_json"}),
    },
    "insights": {
        "system_prompt": frozenset({"tools"}),
        "analysis_answer": frozenset({"request", "results_json"}),
    },
    "support": {
        "system_prompt": frozenset({"tools"}),
        "answer_query": frozenset({"query", "context", "confidence"}),
        "grade_system": frozenset(),
        "grade_context": frozenset({"query", "context"}),
        "analysis_answer": frozenset({"request", "results_json"}),
    },
    "supervisor": {
        "system_prompt": frozenset(),
        "classify": frozenset({"request", "previous_route"}),
        "report_section": frozenset({"agent", "section_title", "period", "results_json"}),
        "weekly_report": frozenset({"period", "sections_json"}),
    },
}
"""The placeholders each prompt must contain, exactly."""


def placeholders_of(template: str) -> set[str]:
    """The `{name}` placeholders of a template (ignoring `{{` escapes)."""
    return {field for _, field, _, _ in string.Formatter().parse(template) if field}


def load_prompt_file(name: PromptFileName, directory: Path = PROMPTS_DIR) -> _PromptFile:
    """Load and validate `<directory>/<name>_prompts.yaml`.

    Raises:
        PromptError: the file is missing, is not YAML, has unknown or missing prompts, or a prompt's
            placeholders differ from the expected ones.
    """
    path = directory / f"{name}_prompts.yaml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PromptError(f"{path}: prompt file not found") from exc
    except yaml.YAMLError as exc:
        raise PromptError(f"{path}: not valid YAML ({exc})") from exc
    try:
        model = FILE_MODELS[name].model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(file)"
        raise PromptError(f"{path}: prompt '{where}': {first['msg']}") from exc
    for prompt, expected in PLACEHOLDERS[name].items():
        found = placeholders_of(getattr(model, prompt))
        if missing := sorted(expected - found):
            raise PromptError(f"{path}: prompt '{prompt}' is missing the placeholder {{{missing[0]}}}")
        if unknown := sorted(found - expected):
            raise PromptError(f"{path}: prompt '{prompt}' has an unknown placeholder {{{unknown[0]}}}")
    return model


@cache
def get_prompts(name: PromptFileName) -> Any:
    """The validated prompts of one file (cached per process)."""
    return load_prompt_file(name)


def render(name: PromptFileName, prompt: str, **values: Any) -> str:
    """Fill one prompt's placeholders.

    Raises:
        PromptError: a placeholder has no value (names the file, prompt and variable).
    """
    template: str = getattr(get_prompts(name), prompt)
    missing = sorted(placeholders_of(template) - values.keys())
    if missing:
        raise PromptError(f"{name}_prompts.yaml: prompt '{prompt}' needs a value for {{{missing[0]}}}")
    return template.format(**{k: values[k] for k in placeholders_of(template)})
