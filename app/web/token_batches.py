"""Streamed tokens sent to the browser in batches: the first at once, then at most one batch per interval.

Every `stream_token` is a websocket message and a re-render of the chat in the browser. A model that
writes a word at a time (the offline model, a fast local server) would otherwise send dozens of them per
answer. With 10 browser sessions asking at once on a 2-core machine (`bench/bench_ttft.py`), those
renders, not the server, decided when the answers appeared: batching the support draft's tokens (and
more threads for blocking work, `app.web.server.BLOCKING_THREADS`) took the median time to the answer
from 5.0–5.2 s to 2.4–2.9 s. Batching keeps the first token's latency and the text's order, and the
stream still looks live at up to 20 updates a second.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

INTERVAL_S = 0.05
"""Shortest time between two batches sent to the browser."""


class TokenBatches:
    """Forwards tokens to `send`: the first one at once, the rest joined, at most one call per `interval` s.

    Call `flush()` at the end of the stream, or the last batch stays here.
    """

    def __init__(
        self,
        send: Callable[[str], Awaitable[None]],
        interval: float = INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self._interval = interval
        self._clock = clock
        self._pending: list[str] = []
        self._last_sent: float | None = None
        self.sends = 0
        """How many batches went out (for tests and benchmarks)."""

    async def __call__(self, token: str) -> None:
        """Take one token; send what is pending if the last batch is at least `interval` old."""
        self._pending.append(token)
        if self._last_sent is None or self._clock() - self._last_sent >= self._interval:
            await self.flush()

    async def flush(self) -> None:
        """Send whatever is pending now (nothing when nothing is)."""
        if not self._pending:
            return
        text = "".join(self._pending)
        self._pending.clear()
        self._last_sent = self._clock()
        self.sends += 1
        await self._send(text)

    def discard(self) -> None:
        """Forget pending tokens (the caller replaces the streamed text with the whole of it)."""
        self._pending.clear()
