"""What tools need from the app, injected when the tools are built (never part of a tool's schema)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel

from app.settings import Settings


@dataclass
class ToolDeps:
    """The business database engine and the settings."""

    engine: Any
    """SQLAlchemy engine of the business database."""
    settings: Settings
    """App settings (home folder for uploads, thresholds)."""

    def today(self) -> dt.date:
        """The "today" of period phrases: the last day with data (demo data may end in the past)."""
        from app.data.queries import data_bounds

        try:
            _, last = data_bounds(self.engine)
        except Exception:  # noqa: BLE001 - an empty database falls back to the calendar
            return dt.date.today()
        return last or dt.date.today()

    def period(self, text: str | None, default: str) -> Any:
        """Parse a period phrase relative to `today()`.

        Raises:
            InvalidToolInput: the phrase is not understood.
        """
        from app.data.periods import parse_period
        from graph.tools.base import InvalidToolInput

        phrase = (text or default).strip()
        parsed = parse_period(phrase, self.today())
        if parsed is None:
            raise InvalidToolInput(
                f"period {phrase!r} not understood: try 'last quarter', 'Q3 2025', 'last 30 days' or 'March 2025'"
            )
        return parsed


def make_tool(
    deps: ToolDeps,
    fn: Callable[..., Any],
    name: str,
    description: str,
    schema: type[BaseModel],
    *,
    internal: bool = False,
    writes: str | None = None,
) -> BaseTool:
    """Wrap a synchronous tool function `fn(deps, **args)` as an async LangChain tool.

    The function runs in a worker thread (database and pandas work stay off the event loop);
    `deps` is injected, so it never appears in the schema the model sees. `internal` tools are used
    by pipelines (win-back) but not offered to the model. `writes` marks a tool that changes data: it is
    what the user is told when a call times out, since the write may still complete in its thread, so the
    call is not retried (`graph.tools.executor`). The tool's metadata also carries the backoff bounds of
    `deps.settings`, which `graph.tools.executor.call_with_retries` waits between attempts.
    """

    async def run(**kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, deps, **kwargs)

    metadata = {
        "internal": internal,
        "writes": writes,
        "retry_wait_s": (deps.settings.retry_wait_min_s, deps.settings.retry_wait_max_s),
    }
    return StructuredTool.from_function(
        coroutine=run, name=name, description=description, args_schema=schema, metadata=metadata
    )
