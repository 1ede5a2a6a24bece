"""Tool selection for the offline model: which bound tool fits a request, with which arguments.

Tools are ranked by the cosine similarity between the request and each tool's name and description
(MiniLM embeddings), plus a bonus when the request names one of the tool's enum values (a metric,
a channel). Arguments come from `slots.fill_arguments`.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from typing import Any, NamedTuple

import numpy as np

from app.data.periods import SAME_LAST_YEAR_PATTERN, parse_period
from app.embeddings import get_embedder
from graph.llm.slots import MAX_CALLS, _enum_matches, _resolve, fill_arguments, find_period, year_before

ENUM_BONUS = 0.15
"""Added to a tool's score for each of its enum arguments the request names a value of (unless `x-no-bonus`)."""
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
        if schema.get("x-no-bonus"):  # the what-if's channel: "spend on events" does not ask for a scenario
            continue
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
_SAME_PERIOD = re.compile(
    r"\b(?:the\s+)?same\s+(?:period|time\s*frame|window|dates|quarter|month|week)\b"
    r"(?!\s+(?:(?:of\s+)?last|a|one|the\s+previous|the\s+prior|previous|prior)\s+year)"
    r"|\b(?:that|those)\s+(?:period|time\s*frame|window|dates|months|weeks|quarters)\b",
    re.I,
)
"""A request that points back at the period just discussed ("... paid social in the same period?")."""
_THEN = re.compile(
    r"\b(?:back\s+)?then\W*$|\bat\s+(?:that|the\s+same)\s+time\b|\bin\s+that\s+(?:month|quarter|week|year)\b", re.I
)
"""A short request that points back at the period just discussed ("what was the CAC then?")."""
THEN_MAX_WORDS = 8
"""Longest request read as pointing back by "then" ("if we cut spend, what would CAC be then?" is a request of its own)."""
_PREPOSITION = re.compile(r"^(?:in|for|during|over)\s+", re.I)
"""A preposition the period slot keeps in front of a bare month ("for March"): dropped before stepping back."""


class FollowUp(NamedTuple):
    """What the offline model does with a follow-up fragment: tool calls, or a reply when there is none to make."""

    calls: list[dict[str, Any]]
    """The tool calls (empty when `reply` is set)."""
    reply: str | None = None
    """Why the fragment changes nothing that can be called ("and last quarter?" after an email draft)."""


class _Turn(NamedTuple):
    """The tool of one turn and its argument sets (one per call)."""

    function: dict[str, Any]
    sets: list[dict[str, Any]]


def continues_thread(request: str) -> bool:
    """Whether `request` continues the request before it though it does not open like a follow-up.

    "Q2 vs Q3" gives only periods, and "and what about paid social in the same period?" points back at the
    period just discussed: both take everything else from the turn before.
    """
    short_then = bool(_THEN.search(request)) and len(re.findall(r"[\w$%'-]+", request)) <= THEN_MAX_WORDS
    return bool(_SAME_PERIOD.search(request)) or short_then or (_names_period(request) and _only_arguments(request))


def plan_follow_up(request: str, earlier: list[str], tools: list[dict[str, Any]]) -> FollowUp:
    """The tool calls for a follow-up fragment ("and last month?", "what about LTV?").

    Args:
        request: The fragment.
        earlier: The requests it continues, oldest first: a whole request, then any fragments after it.
        tools: The bound tools.

    Returns:
        The calls, or a reply when the fragment only gives a period and the turn before called a tool
        that takes none (an email draft): calling it again would ignore the period, and another tool would
        be a guess.

    Each earlier turn is planned again as it was (the offline model is deterministic), so the fragment is
    layered on the previous turn's tool and every one of its argument sets: "and what about paid social in
    the same period?" after "Q2 vs Q3" keeps both quarters. A fragment that gives only arguments keeps the
    previous tool; one that names its own tool ("and by channel?") takes the arguments the two share.
    """
    if not tools or not earlier:
        return FollowUp(plan_tool_calls(request, tools))
    turns = [_Turn(*_choose(earlier[0], tools))]
    for i, text in enumerate(earlier[1:], start=1):
        step = _follow(text, earlier[:i], turns, tools)
        if isinstance(step, _Turn):  # a turn answered with a reply changed nothing
            turns.append(step)
    step = _follow(request, earlier, turns, tools)
    if isinstance(step, str):
        return FollowUp([], step)
    seed = f"{' '.join(earlier)}|{request}"
    return FollowUp([_tool_call(seed, step.function["name"], i, args) for i, args in enumerate(step.sets)])


def _follow(request: str, earlier: list[str], turns: list[_Turn], tools: list[dict[str, Any]]) -> _Turn | str:
    """The turn `request` makes of the ones before it, or the reply when it gives a period the last tool cannot take.

    The tool is chosen on the fragment alone plus all the requests together (its score in both rankings
    summed), unless the fragment gives only arguments: then it is the previous turn's tool. A fragment that
    gives only values of enum arguments ("what about paid search only?", "what was the CAC then?") keeps the
    last tool that takes them: the previous turn's, else an earlier turn's ("CAC last quarter" → "and by
    channel?" → "paid search only?" is CAC for paid search), else the best-ranked tool that takes them.
    Arguments are the previous turn's (those the chosen tool takes), then what the fragment gives; "the
    quarter before" steps back from the period so far.
    """
    turn = turns[-1]
    base: list[dict[str, Any]] | None = None
    given = _given_fields(request, tools)
    if _only_arguments(request):  # "and for last month?": the tool of the turn before
        function = turn.function
        if _names_period(request) and _period_field(function.get("parameters", {})) is None:
            return _no_period_reply(request, function, tools)
    elif given and (earlier_turn := next((t for t in reversed(turns) if given <= _fields(t.function)), None)):
        function = earlier_turn.function
        if earlier_turn is not turn:  # the turn that took these arguments, in the period discussed last
            parameters = function.get("parameters", {})
            base = [{**old, **_shared(args, parameters)} for old in earlier_turn.sets for args in turn.sets]
    else:  # "and by channel?" also names its own tool: its score alone and together, summed
        together = rank_tools(" ".join([*earlier, request]), tools)
        summed = dict((t["function"]["name"], s) for s, t in together)
        candidates = [item for item in rank_tools(request, tools) if given <= _fields(item[1]["function"])]
        best = max(
            candidates or rank_tools(request, tools),
            key=lambda item: (item[0] + summed[item[1]["function"]["name"]], item[1]["function"]["name"]),
        )
        function = best[1]["function"]
    parameters = function.get("parameters", {})
    if base is not None:
        pass
    elif function["name"] == turn.function["name"]:
        base = turn.sets
    else:  # another tool: what the requests said in its terms, then the previous turn's arguments it shares
        said: dict[str, Any] = {}
        for text in earlier:
            said = _layer(said, fill_arguments(parameters, text)[0], text, parameters)
        base = [{**said, **_shared(args, parameters)} for args in turn.sets]
    sets = [_layer(args, given, request, parameters) for args in base for given in fill_arguments(parameters, request)]
    return _Turn(function, _distinct(sets)[:MAX_CALLS])


def _choose(request: str, tools: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The tool for a whole request and its argument sets (see `plan_tool_calls`)."""
    ranked = rank_tools(request, tools)
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
            return candidate, args_sets
    return best, filled


def _shared(args: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
    """The arguments another tool takes too, with a value it allows (a period, a channel it knows)."""
    props = parameters.get("properties", {})
    shared = {}
    for name, value in args.items():
        if name in props:
            schema = _resolve(props[name], parameters)
            if "enum" not in schema or value in schema["enum"]:
                shared[name] = value
    return shared


def _distinct(sets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`sets` without repeats, in order (a new period for every earlier one leaves one call)."""
    seen: list[dict[str, Any]] = []
    for args in sets:
        if args not in seen:
            seen.append(args)
    return seen


def _period_field(parameters: dict[str, Any]) -> str | None:
    """The tool's period argument, if it takes one (the slot filler fills string fields named "...period...")."""
    return next((f for f in parameters.get("properties", {}) if "period" in f.lower()), None)


def _names_period(text: str) -> bool:
    """Whether `text` gives a period or steps back from one ("last quarter", "the quarter before")."""
    return find_period(text) is not None or _UNIT_BEFORE.search(text) is not None


def _no_period_reply(request: str, function: dict[str, Any], tools: list[dict[str, Any]]) -> str:
    """Why a period-only fragment is not applied to a tool that takes no period, and what would take one."""
    what = str(function.get("description", "")).split(".")[0].strip() or function["name"]
    period = (find_period(request) or _UNIT_BEFORE.search(request).group(0)).strip()  # type: ignore[union-attr]
    period = _PREPOSITION.sub("", period)
    dated = [
        t["function"]["name"].replace("_", " ")
        for t in tools
        if _period_field(t["function"].get("parameters", {})) is not None
    ]
    offer = f": {', '.join(dated)} can be asked for a period" if dated else ""
    return (
        f"The previous request ({function['name']}: {what[:1].lower()}{what[1:]}) does not depend on a period, "
        f'so "{request.strip()}" changes nothing in it. Say what you would like for {period}{offer}.'
    )


def _tool_call(seed: str, name: str, index: int, args: dict[str, Any]) -> dict[str, Any]:
    """A tool call with a stable id (the same request plans the same ids)."""
    digest = hashlib.sha1(f"{seed}|{name}|{index}".encode()).hexdigest()[:12]
    return {"name": name, "args": args, "id": f"call_{digest}", "type": "tool_call"}


_FILLER = frozenset(
    "and or but also plus so what how about for in on at of the a an then now same only just instead vs versus "
    "compared to with it that this those these them please again too ok okay from over during was were is our "
    "back time".split()
)
"""Words of a follow-up that name neither a tool nor an argument."""


def _fields(function: dict[str, Any]) -> set[str]:
    """The argument names a tool takes."""
    return set(function.get("parameters", {}).get("properties", {}))


def _given_fields(fragment: str, tools: list[dict[str, Any]]) -> set[str]:
    """The enum arguments a fragment gives when it gives nothing else ("what about paid search only?" → channel).

    Empty when the fragment has other words ("and by channel?" names a tool of its own) or names no enum value.
    """
    rest, fields = f" {_UNIT_BEFORE.sub(' ', fragment.lower())} ", set()
    while period := find_period(rest):
        rest = rest.replace(period.lower(), " ")
    for tool in tools:
        parameters = tool["function"].get("parameters", {})
        for name, raw in parameters.get("properties", {}).items():
            schema = _resolve(raw, parameters)
            if "enum" not in schema or schema.get("x-find"):
                continue
            aliases = schema.get("x-aliases", {})
            for value in _enum_matches(schema["enum"], aliases, rest):
                fields.add(name)
                names = {str(value), str(value).replace("_", " "), str(value).replace("_", "-")}
                names.update(str(a) for a in aliases.get(str(value), []))
                for n in sorted(names, key=len, reverse=True):
                    rest = re.sub(rf"(?<![a-z0-9]){re.escape(n.lower())}(?![a-z0-9])", " ", rest)
    words = [w for w in re.findall(r"[a-z0-9$%]+", rest) if w not in _FILLER]
    return fields if fields and not words else set()


def _only_arguments(fragment: str) -> bool:
    """A fragment that gives only periods ("and for last month?", "and the quarter before?", "Q2 vs Q3")."""
    rest = _UNIT_BEFORE.sub(" ", fragment)
    while period := find_period(rest):
        rest = rest.replace(period, " ")
    return not [w for w in re.findall(r"[a-z0-9$%]+", rest.lower()) if w not in _FILLER]


def _layer(
    args: dict[str, Any], given: dict[str, Any], text: str, parameters: dict[str, Any] | None = None
) -> dict[str, Any]:
    """`args` updated with what `text` gave.

    "The quarter before" steps back from the period in `args` (from the tool's default period when the
    requests gave none), "the same month last year" (or "a year ago") takes it a year earlier.
    """
    merged = {**args, **given}
    step_back = _UNIT_BEFORE.search(text)
    period = next((f for f in args if "period" in f.lower()), None)
    if step_back and period is None and parameters is not None and (field := _period_field(parameters)):
        default = _resolve(parameters["properties"][field], parameters).get("default")
        if isinstance(default, str) and default:
            period, args = field, {**args, field: default}
    if step_back and period and period not in given:
        merged[period] = step_back_from(step_back.group(1).lower(), str(args[period]))
    elif period and isinstance(given.get(period), str) and _SAME_LAST_YEAR.fullmatch(given[period]):
        merged[period] = year_before(args[period])
    return merged


def step_back_from(unit: str, phrase: str) -> str:
    """The period phrase for the `unit` (quarter, month, year, week) before the period `phrase` names.

    The step never lands on a period that still holds `phrase`'s: the quarter before March is the quarter
    before Q1 (Q4), not Q1, which the day before 1 March falls in. A finance user stepping back a quarter
    from a month means the previous quarter, and the tool's label names it ("Q4 2025").
    """
    inner = _PREPOSITION.sub("", phrase.strip())
    stepped = f"the {unit} before {inner}"
    today = date.today()
    try:
        before, then = parse_period(stepped, today), parse_period(inner, today)
    except ValueError:  # "Q7 2025": the tool says what is wrong with it
        return stepped
    if before is not None and then is not None and before.end >= then.start:
        return f"the {unit} before {stepped}"
    return stepped


def plan_tool_calls(request: str, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tool calls the offline model makes for `request`: the best tool, fanned out if asked."""
    if not tools:
        return []
    function, filled = _choose(request, tools)
    return [_tool_call(request, function["name"], i, args) for i, args in enumerate(filled)]
