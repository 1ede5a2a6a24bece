"""Tool selection for the offline model: which bound tool fits a request, with which arguments.

Tools are ranked by the cosine similarity between the request and each tool's name and description
(MiniLM embeddings), plus a bonus when the request names one of the tool's enum values (a metric,
a channel). Arguments come from `slots.fill_arguments`.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import numpy as np

from app.data.periods import SAME_LAST_YEAR_PATTERN
from app.embeddings import get_embedder
from graph.llm.slots import _enum_matches, _resolve, fill_arguments, find_period, year_before

ENUM_BONUS = 0.15
"""Added to a tool's score for each of its enum arguments the request names a value of."""
REQUIRED_BONUS = 0.15
"""Added to a tool's score when the request fills all of its required arguments."""
CUE_PENALTY = 0.15
"""Taken from a tool's score when it lists cue words (`x-cues`) and the request has none of them."""
REQUIRED_MARGIN = 0.2
"""How far below the best tool a runner-up may score and still be preferred because its required
arguments can be filled from the request while the best tool's cannot."""

_description_cache: dict[str, np.ndarray] = {}


def _tool_text(tool: dict[str, Any]) -> str:
    fn = tool["function"]
    return f"{fn['name'].replace('_', ' ')}: {fn.get('description', '')}"


def _description_vectors(tools: list[dict[str, Any]]) -> np.ndarray:
    texts = [_tool_text(t) for t in tools]
    key = hashlib.sha1("\x1f".join(texts).encode()).hexdigest()
    if key not in _description_cache:
        _description_cache[key] = get_embedder().encode(texts)
    return _description_cache[key]


def _fills_required(tool: dict[str, Any], text: str) -> bool:
    """Whether the request gives every required argument of `tool`."""
    params = tool["function"].get("parameters", {})
    required = set(params.get("required", []))
    return not required or all(required <= set(args) for args in fill_arguments(params, text))


def _enum_bonus(tool: dict[str, Any], text: str, callable_: bool) -> float:
    """`ENUM_BONUS` for each enum argument the request names a value of, when it gives every required argument.

    "ROAS for paid search" names the metric and the channel of `compute_metric`: it beats the all-channel table.
    """
    params = tool["function"].get("parameters", {})
    matched = 0
    for raw in params.get("properties", {}).values():
        schema = _resolve(raw, params)
        if "enum" in schema and _enum_matches(schema["enum"], schema.get("x-aliases", {}), text):
            matched += 1
    return ENUM_BONUS * matched if callable_ else 0.0  # a channel alone does not ask for a metric


def _required_bonus(tool: dict[str, Any], callable_: bool) -> float:
    """A tool whose required (non-enum) arguments the request gives, every one of them (a ticket number, a subject)."""
    params = tool["function"].get("parameters", {})
    props = params.get("properties", {})
    required = set(params.get("required", []))
    if not required or all("enum" in _resolve(props.get(name, {}), params) for name in required):
        return 0.0  # enum arguments already earn the enum bonus
    return REQUIRED_BONUS if callable_ else 0.0


def _cue_bonus(tool: dict[str, Any], text: str) -> float:
    """`ENUM_BONUS` for a tool whose strong cue words (`x-strong-cues`: "forecast", "estimate") the request uses."""
    cues = tool["function"].get("parameters", {}).get("x-strong-cues")
    return ENUM_BONUS if cues and _enum_matches(cues, {}, text) else 0.0


def _cue_penalty(tool: dict[str, Any], text: str) -> float:
    """`CUE_PENALTY` for a tool with cue words (`x-cues`) and a request without any of them.

    The forecast answers requests about the future ("next", "forecast", "will"...), not "revenue in March".
    """
    cues = tool["function"].get("parameters", {}).get("x-cues")
    if not cues:
        return 0.0
    return 0.0 if _enum_matches(cues, {}, text) else CUE_PENALTY


def rank_tools(request: str, tools: list[dict[str, Any]]) -> list[tuple[float, dict[str, Any]]]:
    """Tools with their scores, best first (ties broken by name, so the order is deterministic)."""
    if not tools:
        return []
    query = get_embedder().encode([request])[0]
    sims = _description_vectors(tools) @ query
    scored = []
    for s, t in zip(sims, tools, strict=True):
        callable_ = _fills_required(t, request)  # fills the arguments once for both bonuses
        bonus = _enum_bonus(t, request, callable_) + _required_bonus(t, callable_) + _cue_bonus(t, request)
        scored.append((float(s) + bonus - _cue_penalty(t, request), t))
    return sorted(scored, key=lambda item: (-item[0], item[1]["function"]["name"]))


_UNIT_BEFORE = re.compile(r"\b(?:the\s+)?(quarter|month|year|week)\s+before\b(?!\s+(?:last|this|q[1-4]|\d))", re.I)
"""A follow-up that steps back from the period just discussed ("and the quarter before?")."""
_SAME_LAST_YEAR = re.compile(SAME_LAST_YEAR_PATTERN, re.I)
"""A follow-up that asks for the period just discussed a year earlier ("and the same month last year?")."""


def plan_follow_up(request: str, earlier: list[str], tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tool calls for a follow-up fragment ("and last month?", "what about LTV?").

    Args:
        request: The fragment.
        earlier: The requests it continues, oldest first: a whole request, then any fragments after it.
        tools: The bound tools.

    The tool is chosen on the fragment alone plus all of them together (its score in both rankings
    summed). Arguments are read from each in turn, a later one overriding an earlier one, and "the
    quarter before" steps back from the period so far.
    """
    if not tools:
        return []
    together = rank_tools(" ".join([*earlier, request]), tools)
    if _only_arguments(request):  # "and for last month?": the tool of the requests before
        best = together[0]
    else:  # "and by channel?" also names its own tool: its score alone and together, summed
        summed = dict((t["function"]["name"], s) for s, t in together)
        best = max(
            rank_tools(request, tools),
            key=lambda item: (item[0] + summed[item[1]["function"]["name"]], item[1]["function"]["name"]),
        )
    function = best[1]["function"]
    parameters = function.get("parameters", {})
    args: dict[str, Any] = {}
    for text in earlier:
        args = _layer(args, fill_arguments(parameters, text)[0], text)
    seed = f"{' '.join(earlier)}|{request}"
    return [
        _tool_call(seed, function["name"], i, _layer(args, given, request))
        for i, given in enumerate(fill_arguments(parameters, request))
    ]


def _tool_call(seed: str, name: str, index: int, args: dict[str, Any]) -> dict[str, Any]:
    """A tool call with a stable id (the same request plans the same ids)."""
    digest = hashlib.sha1(f"{seed}|{name}|{index}".encode()).hexdigest()[:12]
    return {"name": name, "args": args, "id": f"call_{digest}", "type": "tool_call"}


_FILLER = frozenset(
    "and or but also plus so what how about for in on at of the a an then now same only just instead vs versus "
    "compared to with it that this those these them please again too ok okay from over during".split()
)
"""Words of a follow-up that name neither a tool nor an argument."""


def _only_arguments(fragment: str) -> bool:
    """A fragment that gives only a period ("and for last month?", "and the quarter before?")."""
    rest = _UNIT_BEFORE.sub(" ", fragment)
    if period := find_period(rest):
        rest = rest.replace(period, " ")
    return not [w for w in re.findall(r"[a-z0-9$%]+", rest.lower()) if w not in _FILLER]


def _layer(args: dict[str, Any], given: dict[str, Any], text: str) -> dict[str, Any]:
    """`args` updated with what `text` gave.

    "The quarter before" steps back from the period in `args`, "the same month last year" (or "a year
    ago") takes it a year earlier.
    """
    merged = {**args, **given}
    step_back = _UNIT_BEFORE.search(text)
    period = next((f for f in args if "period" in f.lower()), None)
    if step_back and period and period not in given:
        merged[period] = f"the {step_back.group(1).lower()} before {args[period]}"
    elif period and isinstance(given.get(period), str) and _SAME_LAST_YEAR.fullmatch(given[period]):
        merged[period] = year_before(args[period])
    return merged


def plan_tool_calls(request: str, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tool calls the offline model makes for `request`: the best tool, fanned out if asked."""
    ranked = rank_tools(request, tools)
    if not ranked:
        return []
    best = ranked[0][1]["function"]
    filled = fill_arguments(best.get("parameters", {}), request)
    # A tool whose required arguments the request does not give ("update ticket" without a number) is a
    # poor choice when a close runner-up can be called as asked: take the best tool that can.
    for score, tool in ranked:
        if score < ranked[0][0] - REQUIRED_MARGIN:
            break
        candidate = tool["function"]
        args_sets = fill_arguments(candidate.get("parameters", {}), request)
        required = set(candidate.get("parameters", {}).get("required", []))
        if all(required <= set(args) for args in args_sets):
            best, filled = candidate, args_sets
            break
    return [_tool_call(request, best["name"], i, args) for i, args in enumerate(filled)]
