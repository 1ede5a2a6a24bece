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


def rank_tools(request: str, tools: list[dict[str, Any]]) -> list[tuple[float, dict[str, Any]]]:
    """Tools with their scores, best first (ties broken by name, so the order is deterministic)."""
    if not tools:
        return []
    query = get_embedder().encode([request])[0]
    sims = _description_vectors(tools) @ query
    scored = [(float(s) + _enum_bonus(t, request), t) for s, t in zip(sims, tools, strict=True)]
    return sorted(scored, key=lambda item: (-item[0], item[1]["function"]["name"]))


def plan_tool_calls(request: str, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tool calls the offline model makes for `request`: the best tool, fanned out if asked."""
    ranked = rank_tools(request, tools)
    if not ranked:
        return []
    best = ranked[0][1]["function"]
    calls = []
    for i, args in enumerate(fill_arguments(best.get("parameters", {}), request)):
        digest = hashlib.sha1(f"{request}|{best['name']}|{i}".encode()).hexdigest()[:12]
        calls.append({"name": best["name"], "args": args, "id": f"call_{digest}", "type": "tool_call"})
    return calls
