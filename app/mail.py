"""Sending email: a pluggable `Sender`, and `SmtpSender` (stdlib `smtplib`, run in a worker thread).

The outbox (`app.outbox`) decides *what* may be sent and records what was; a sender only delivers one
message and says how it failed. Two kinds of failure matter to the outbox:

* `SenderUnavailable` — the server cannot be reached or refuses the session (connection refused,
  timeout, TLS or login failure): every remaining message would fail the same way, so the outbox stops
  trying and records the error for each of them.
* `SendError` — this one message was refused (bad recipient, rejected content); the others may still go.

Every marketing email also carries what the brand voice (`knowledge_base/brand-voice.md`, "Lumio email
structure") and anti-spam law require, whoever wrote its body: a sign-off by the named sender, the company's
postal address and the recipient's own unsubscribe link (`compliance_footer`, re-appended by
`with_compliance_footer` to a body that lost them), and a `List-Unsubscribe` header (`unsubscribe_headers`).
"""

from __future__ import annotations

import asyncio
import hashlib
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Protocol

from app.settings import Settings

SENDER_NAME = "Maria Jensen"
"""Who signs Lumio's lifecycle emails: a named person, never "The Lumio team" (brand-voice.md)."""
SENDER_ROLE = "Customer Success Lead"
"""The sender's role, written under the name."""
ADDRESS_US = "Lumio, Inc., Austin, Texas"
"""Footer address for every contact outside the EU (including the UK and Canada)."""
ADDRESS_EU = "Lumio B.V., Rotterdam"
"""Footer address for contacts in the European Union."""
EU_COUNTRIES = frozenset(
    "Austria Belgium Bulgaria Croatia Cyprus Czechia Denmark Estonia Finland France Germany Greece Hungary "
    "Ireland Italy Latvia Lithuania Luxembourg Malta Netherlands Poland Portugal Romania Slovakia Slovenia "
    "Spain Sweden".split()
)
"""Countries whose contacts are served by Lumio B.V."""
UNSUBSCRIBE_URL = "https://lumio.io/unsubscribe?customer={customer_id}"
"""The unsubscribe link in every marketing email's footer (and its `List-Unsubscribe` header)."""


class SendError(Exception):
    """One message could not be delivered to the server; other messages may still succeed."""


class SenderUnavailable(SendError):
    """The mail server cannot be used at all (unreachable, TLS or authentication failure)."""


class Sender(Protocol):
    """Delivers one composed email (`EmailMessage`) to a mail server."""

    @property
    def from_address(self) -> str:
        """The `From:` header this sender uses."""
        ...

    async def send(self, message: EmailMessage) -> None:
        """Deliver `message`.

        Raises:
            SenderUnavailable: the server cannot be used (nothing else will get through either).
            SendError: this message was refused.
        """
        ...


def message_id(from_address: str, *parts: str) -> str:
    """A deterministic `Message-ID` for one logical email: the same parts always give the same id.

    Re-sending the same outbox row therefore carries the same id, which lets a mail log (or a receiving
    server) recognise a duplicate.
    """
    domain = parseaddr(from_address)[1].rpartition("@")[2] or "localhost"
    digest = hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:32]
    return f"<gtm.{digest}@{domain}>"


def postal_address(country: str | None) -> str:
    """The company address a contact in `country` gets in the footer (EU contacts: Lumio B.V.)."""
    return ADDRESS_EU if country in EU_COUNTRIES else ADDRESS_US


def unsubscribe_url(customer_id: str) -> str:
    """The recipient's own unsubscribe link."""
    return UNSUBSCRIBE_URL.format(customer_id=customer_id)


def unsubscribe_headers(customer_id: str) -> dict[str, str]:
    """The `List-Unsubscribe` header (RFC 2369) of a marketing email to `customer_id`."""
    return {"List-Unsubscribe": f"<{unsubscribe_url(customer_id)}>"}


def sign_off(name: str = SENDER_NAME, role: str = SENDER_ROLE) -> str:
    """The sender's sign-off: "Best regards," then their name, then their role at Lumio."""
    return f"Best regards,\n{name}\n{role}, Lumio"


def unsubscribe_line(link: str) -> str:
    """The footer line that carries the recipient's unsubscribe link."""
    return f"Unsubscribe: {link}"


def _footer_parts(customer_id: str, country: str | None) -> dict[str, tuple[str, str]]:
    """Each required footer part: what shows it is there, and the text that adds it."""
    address, link = postal_address(country), unsubscribe_url(customer_id)
    return {
        "sender signature": (SENDER_NAME, sign_off()),
        "postal address": (address, address),
        "unsubscribe link": (link, unsubscribe_line(link)),
    }


def compliance_footer(customer_id: str, country: str | None) -> str:
    """The sign-off, postal address and unsubscribe link every marketing email ends with."""
    sign_off, address, link = (text for _, text in _footer_parts(customer_id, country).values())
    return f"{sign_off}\n\n{address}\n{link}"


def missing_compliance(body: str, customer_id: str, country: str | None) -> list[str]:
    """The required footer parts `body` lacks: "sender signature", "postal address", "unsubscribe link"."""
    return [part for part, (marker, _) in _footer_parts(customer_id, country).items() if marker not in body]


def with_compliance_footer(body: str, customer_id: str, country: str | None) -> tuple[str, list[str]]:
    """`body` with the footer parts it lacks re-appended (in footer order), and the names of those parts.

    A body that already has all of them is returned unchanged, so applying this twice changes nothing.
    """
    missing = missing_compliance(body, customer_id, country)
    if not missing:
        return body, []
    parts = _footer_parts(customer_id, country)
    sign_off = [parts["sender signature"][1]] if "sender signature" in missing else []  # a paragraph of its own
    lines = [parts[name][1] for name in missing if name != "sender signature"]
    return "\n\n".join([body.rstrip(), *sign_off, *(["\n".join(lines)] if lines else [])]), missing


def compose(
    *,
    from_address: str,
    to: str,
    subject: str,
    body: str,
    msg_id: str,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """A plain-text email with the given headers (UTF-8, `Date` set now)."""
    message = EmailMessage()
    message["From"] = from_address
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = msg_id
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message


class SmtpSender:
    """Sends through an SMTP server with `smtplib`, one connection per message, off the event loop."""

    def __init__(
        self,
        host: str,
        port: int,
        from_address: str,
        *,
        starttls: bool = False,
        user: str | None = None,
        password: str | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        """Remember the server; nothing connects until `send`."""
        self.host = host
        self.port = port
        self._from = from_address
        self.starttls = starttls
        self.user = user
        self._password = password
        self.timeout_s = timeout_s

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpSender:
        """The sender configured by `GTM_SMTP_*`."""
        return cls(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_from,
            starttls=settings.smtp_starttls,
            user=settings.smtp_user,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            timeout_s=settings.smtp_timeout_s,
        )

    @property
    def from_address(self) -> str:
        """The `From:` header."""
        return self._from

    def __repr__(self) -> str:
        return f"SmtpSender({self.host}:{self.port}, starttls={self.starttls}, user={self.user!r})"

    def _send_sync(self, message: EmailMessage) -> None:
        where = f"{self.host}:{self.port}"
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
        except (OSError, smtplib.SMTPException) as exc:
            raise SenderUnavailable(f"cannot connect to the SMTP server {where}: {_reason(exc)}") from exc
        try:
            try:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.user:
                    smtp.login(self.user, self._password or "")
            except (OSError, smtplib.SMTPException) as exc:
                raise SenderUnavailable(f"the SMTP server {where} refused the session: {_reason(exc)}") from exc
            try:
                smtp.send_message(message)
            except smtplib.SMTPServerDisconnected as exc:
                raise SenderUnavailable(f"the SMTP server {where} disconnected: {_reason(exc)}") from exc
            except (OSError, smtplib.SMTPException) as exc:
                raise SendError(f"the SMTP server {where} refused the message: {_reason(exc)}") from exc
        finally:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()

    async def send(self, message: EmailMessage) -> None:
        """Deliver `message` (the blocking SMTP conversation runs in a worker thread).

        Raises:
            SenderUnavailable: the server is unreachable or refused the session.
            SendError: the server refused this message.
        """
        await asyncio.to_thread(self._send_sync, message)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {' '.join(text.split())}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "recipient refused: " + ", ".join(exc.recipients)
    return " ".join(str(exc).split()) or type(exc).__name__
