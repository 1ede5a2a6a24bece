"""Typed payloads of the human-review interrupts: what the reviewer sees and what they decide.

Two kinds of pause share the `interrupt()` mechanism and are told apart by the payload's `type`:
`support_review` (an escalated support answer) and `outbox_approval` (win-back emails waiting to be
sent). Payloads written before `type` existed are support reviews.
"""

from __future__ import annotations

import unicodedata
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

SUPPORT_REVIEW = "support_review"
"""`type` of a support escalation's interrupt payload."""
OUTBOX_APPROVAL = "outbox_approval"
"""`type` of an outbox approval's interrupt payload."""
MAX_NOTE_CHARS = 2000
"""Longest reviewer note (the console's field holds as much)."""
ALLOWED = frozenset({"U+0009", "U+000A", "U+000D"})
"""Control characters a reviewer's text may hold: tab and line breaks."""


def interrupt_type(value: Any) -> str:
    """The kind of a pending interrupt from its payload (`support_review` when untyped)."""
    if isinstance(value, dict):
        return str(value.get("type") or SUPPORT_REVIEW)
    return SUPPORT_REVIEW


class ReviewRequest(BaseModel):
    """The interrupt payload: an escalated support question and the draft answer."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["support_review"] = "support_review"
    """Kind of pause (see `interrupt_type`)."""
    review_id: str
    """Review (and ticket) reference shown to the requester."""
    question: str
    """The requester's question."""
    draft: str
    """The answer drafted from the knowledge base."""
    confidence: float = Field(ge=0.0, le=1.0)
    """Confidence of the draft, 0–1."""
    passages: list[dict[str, Any]] = []
    """Retrieved passages: doc, section, score, text."""
    requester: str = "anonymous"
    """Who asked."""


class ReviewDecision(BaseModel):
    """The reviewer's decision, sent with `Command(resume=...)`."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["approve", "edit", "reject"]
    """Approve the draft as is, replace it with `text`, or reject the question."""
    text: str | None = None
    """The edited answer (required for `edit`; callers cap its length, `GTM_MAX_REQUEST_CHARS`)."""
    note: str | None = Field(default=None, max_length=MAX_NOTE_CHARS)
    """A note to the requester or the audit log."""
    reviewer: str = "reviewer"
    """Who decided."""

    @field_validator("text", "note")
    @classmethod
    def _printable(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Text reaches the requester's chat, the ticket and the audit log: no control characters."""
        bad = sorted({f"U+{ord(c):04X}" for c in value or "" if unicodedata.category(c) in ("Cc", "Cs")} - ALLOWED)
        if bad:
            raise ValueError(f"the {info.field_name} contains control characters ({', '.join(bad[:5])})")
        return value

    @model_validator(mode="after")
    def _edit_needs_text(self) -> ReviewDecision:
        if self.action == "edit" and not (self.text or "").strip():
            raise ValueError("an edit needs the edited answer text")
        return self


def error_text(error: Any) -> str:
    """One validation error of a decision as `field: message`, without pydantic's "Value error, " prefix."""
    where = ".".join(str(p) for p in error.get("loc", ()))
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}" if where and not message.startswith(f"the {where}") else message


class OutboxRecipient(BaseModel):
    """One drafted email waiting in the outbox."""

    model_config = ConfigDict(extra="forbid")

    customer_id: str
    """Customer the email is for."""
    name: str
    """Contact (or company) name."""
    email: str | None
    """Address on file (`None`: the email cannot be sent)."""
    segment: str = ""
    """RFM segment."""
    p_alive: float | None = None
    """Probability the customer is still active (BG/NBD)."""
    clv_12m: float | None = None
    """Expected 12-month value if reactivated (USD)."""
    subject: str
    """Subject line of the draft."""
    body: str
    """Body of the draft."""


class OutboxReviewRequest(BaseModel):
    """The interrupt payload of a win-back send: who gets which email, and what the campaign costs."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["outbox_approval"] = "outbox_approval"
    """Kind of pause (see `interrupt_type`)."""
    thread_id: str
    """Conversation the campaign belongs to."""
    campaign_id: str
    """Id of the request that started the campaign (outbox rows are keyed by thread, campaign and customer)."""
    request: str
    """The requester's words."""
    requester: str = "anonymous"
    """Who asked."""
    recipients: list[OutboxRecipient]
    """The drafts waiting for approval."""
    campaign_cost: float
    """Estimated campaign cost (USD)."""
    expected_value: float = 0.0
    """Expected reactivated value (USD)."""
    roi_estimate: float
    """(value − cost) / cost."""
    cost_breakdown: list[str] = []
    """How the cost and the ROI were computed, one line each."""


class OutboxDecision(BaseModel):
    """The approver's decision on an outbox, sent with `Command(resume=...)`.

    `approve_all` sends every draft (with any `edits`); `approve_some` sends all but the `drop`ped
    ones; `reject` sends nothing.
    """

    model_config = ConfigDict(extra="forbid")

    action: Literal["approve_all", "approve_some", "reject"]
    """What to do with the drafts."""
    edits: dict[str, str] = {}
    """Replacement text by customer id (a first line `Subject: ...` also replaces the subject)."""
    drop: list[str] = []
    """Customer ids not to email (`approve_some`)."""
    reviewer: str = "reviewer"
    """Who decided."""
    note: str | None = None
    """A note for the requester and the outbox record."""

    @model_validator(mode="after")
    def _consistent(self) -> OutboxDecision:
        if self.action == "reject" and (self.edits or self.drop):
            raise ValueError("a rejection sends nothing: leave out edits and drop")
        if self.action == "approve_some" and not self.drop:
            raise ValueError("approve_some needs the customer ids to drop (or use approve_all)")
        if self.action == "approve_all" and self.drop:
            raise ValueError("approve_all sends every draft: use approve_some to drop recipients")
        if both := sorted(set(self.drop) & set(self.edits)):
            raise ValueError(f"customer {both[0]} is both edited and dropped")
        if empty := sorted(cid for cid, text in self.edits.items() if not text.strip()):
            raise ValueError(f"the edit for customer {empty[0]} is empty")
        return self
