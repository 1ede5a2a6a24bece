"""The supervisor's route names: one per single agent, plus the two multi-agent plans."""

from __future__ import annotations

from typing import Final, Literal, get_args

Route = Literal[
    "marketing",
    "finance",
    "insights",
    "support",
    "parallel",
    "sequential:insights,marketing,finance",
]
"""Where the supervisor sends a request."""

Agent = Literal["marketing", "finance", "insights", "support"]
"""A single specialist agent."""

AGENTS: Final[tuple[Agent, ...]] = get_args(Agent)
"""The four specialist agents, in the seed's order."""

ROUTES: Final[tuple[Route, ...]] = get_args(Route)
"""Every valid route, in a fixed order (also the column order of classifier scores)."""

SEQUENTIAL_WINBACK: Final = "sequential:insights,marketing,finance"
"""The win-back plan: Insights picks customers, Marketing drafts, Finance costs it."""

PARALLEL: Final = "parallel"
"""The multi-domain report: agents run side by side and an aggregator merges them."""


def parse_route(value: str) -> Route:
    """Validate a route name.

    Args:
        value: A candidate route name (surrounding whitespace and case are ignored).

    Returns:
        The matching `Route`.

    Raises:
        ValueError: If `value` is not one of `ROUTES`.
    """
    name = value.strip().lower()
    for route in ROUTES:
        if route == name:
            return route
    raise ValueError(f"unknown route {value!r}; expected one of {', '.join(ROUTES)}")
