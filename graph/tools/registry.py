"""Each agent's tools, built with their dependencies injected."""

from __future__ import annotations

from typing import Any

from langchain_core.tools import BaseTool

from app.settings import Settings
from graph.state import AgentName
from graph.tools.deps import ToolDeps


def build_tools(engine: Any, settings: Settings) -> dict[AgentName, list[BaseTool]]:
    """The tools of every agent, over the business database `engine`."""
    from graph.tools.finance import build_finance_tools
    from graph.tools.insights import build_insights_tools
    from graph.tools.marketing import build_marketing_tools
    from graph.tools.support import build_support_tools

    deps = ToolDeps(engine=engine, settings=settings)
    return {
        "marketing": build_marketing_tools(deps),
        "finance": build_finance_tools(deps),
        "insights": build_insights_tools(deps),
        "support": build_support_tools(deps),
    }
