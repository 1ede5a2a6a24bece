"""Tool selection for the offline model: which bound tool fits a request, with which arguments.

Tools are ranked by the cosine similarity between the request and each tool's name and description
(MiniLM embeddings), plus a bonus when the request names one of the tool's enum values (a metric,
a channel). Arguments come from `slots.fill_arguments`.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from app.embeddings import get_embedder
from graph.llm.slots import _enum_matches, _resolve, fill_arguments

ENUM_BONUS = 0.15
"""Added to a tool's score when the request names one of its enum values."""
REQUIRED_BONUS = 0.15
"""Added to a tool's score when the request fills all of its required arguments."""
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


def _enum_bonus(tool: dict[str, Any], text: str) -> float:
    params = tool["function"].get("parameters", {})
    for raw in params.get("properties", {}).values():
        schema = _resolve(raw, params)
        if "enum" in schema and _enum_matches(schema["enum"], schema.get("x-aliases", {}), text):
            return ENUM_BONUS
    return 0.0


def _required_bonus(tool: dict[str, Any], text: str) -> float:
    """A tool whose required (non-enum) arguments the request gives, every one of them (a ticket number, a subject)."""
    params = tool["function"].get("parameters", {})
    props = params.get("properties", {})
    required = set(params.get("required", []))
    if not required or all("enum" in _resolve(props.get(name, {}), params) for name in required):
        return 0.0  # enum arguments already earn the enum bonus
    filled = fill_arguments(params, text)
    return REQUIRED_BONUS if all(required <= set(args) for args in filled) else 0.0


def rank_tools(request: str, tools: list[dict[str, Any]]) -> list[tuple[float, dict[str, Any]]]:
    """Tools with their scores, best first (ties broken by name, so the order is deterministic)."""
    if not tools:
        return []
    query = get_embedder().encode([request])[0]
    sims = _description_vectors(tools) @ query
    scored = [
        (float(s) + _enum_bonus(t, request) + _required_bonus(t, request), t) for s, t in zip(sims, tools, strict=True)
    ]
    return sorted(scored, key=lambda item: (-item[0], item[1]["function"]["name"]))


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
    calls = []
    for i, args in enumerate(filled):
        digest = hashlib.sha1(f"{request}|{best['name']}|{i}".encode()).hexdigest()[:12]
        calls.append({"name": best["name"], "args": args, "id": f"call_{digest}", "type": "tool_call"})
    return calls
