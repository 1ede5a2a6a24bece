"""What tools need from the app, injected when the tools are built (never part of a tool's schema)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

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
