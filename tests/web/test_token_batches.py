"""Streamed tokens reach the browser in batches: the first at once, then at most one batch per interval."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from app.web.token_batches import TokenBatches


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def recorder() -> tuple[list[str], Callable[[str], Awaitable[None]]]:
    """A list of what was sent, and the `send` that appends to it."""
    sent: list[str] = []

    async def send(text: str) -> None:
        sent.append(text)

    return sent, send


async def test_the_first_token_goes_at_once_and_later_ones_are_joined_per_interval():
    sent, send = recorder()
    clock = Clock()
    batches = TokenBatches(send, interval=0.05, clock=clock)
    await batches("Returns ")
    assert sent == ["Returns "], "the first token must not wait"
    for token in ("are ", "accepted ", "within "):
        clock.now += 0.01
        await batches(token)
    assert sent == ["Returns "], "tokens inside the interval are held"
    clock.now += 0.03  # 0.06 s after the first batch
    await batches("30 ")
    assert sent == ["Returns ", "are accepted within 30 "]
    clock.now += 0.01
    await batches("days.")
    await batches.flush()
    await batches.flush()  # nothing pending: no empty batch
    assert sent == ["Returns ", "are accepted within 30 ", "days."]
    assert "".join(sent) == "Returns are accepted within 30 days." and batches.sends == 3


async def test_a_slow_stream_is_sent_token_by_token():
    sent, send = recorder()
    clock = Clock()
    batches = TokenBatches(send, interval=0.05, clock=clock)
    for token in ("one ", "two ", "three"):
        await batches(token)
        clock.now += 0.2
    assert sent == ["one ", "two ", "three"]


async def test_discarded_tokens_are_never_sent():
    sent, send = recorder()
    batches = TokenBatches(send, interval=10.0, clock=Clock())
    await batches("draft ")
    await batches("text")
    batches.discard()
    await batches.flush()
    assert sent == ["draft "]
