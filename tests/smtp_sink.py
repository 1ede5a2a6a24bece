"""A real SMTP server (aiosmtpd) on a free loopback port that keeps what it receives, for the outbox tests."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from tests.server_process import free_port


@dataclass
class Inbox:
    """What the loopback SMTP server received (the win-back emails the app sends)."""

    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook
        """Keep one received message."""
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        """The messages sent to `address`."""
        return [m for m in self.messages if address in str(m["To"])]


@contextmanager
def running_inbox() -> Iterator[tuple[Inbox, int]]:
    """Start the SMTP server; yields its inbox and port, and stops it on exit."""
    from aiosmtpd.controller import Controller

    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()
