"""Typed payloads of the human-review interrupt: what the reviewer sees and what they decide."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ReviewRequest(BaseModel):
    """The interrupt payload: an escalated support question and the draft answer."""

    model_config = ConfigDict(extra="forbid")

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
    """The edited answer (required for `edit`)."""
    note: str | None = None
    """A note to the requester or the audit log."""
    reviewer: str = "reviewer"
    """Who decided."""

    @model_validator(mode="after")
    def _edit_needs_text(self) -> ReviewDecision:
        if self.action == "edit" and not (self.text or "").strip():
            raise ValueError("an edit needs the edited answer text")
        return self
