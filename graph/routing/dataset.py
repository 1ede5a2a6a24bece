"""Labelled routing requests packaged with the code (`graph/routing/data/*.jsonl`)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict

from graph.routing.routes import Route

Split = Literal["train", "eval"]
"""`train` holds the classifier's examples; `eval` was written separately and is never trained on."""


class Example(BaseModel):
    """One labelled request."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    """The request as a GTM staff member would type it."""
    route: Route
    """Where the supervisor should send it."""


def load_examples(split: Split = "train") -> list[Example]:
    """Read a packaged split (one JSON object per line).

    Args:
        split: Which file to read.

    Returns:
        The labelled examples, in file order.

    Raises:
        ValueError: If a line is not a valid example; the message names the file and line.
    """
    name = f"{split}.jsonl"
    text = resources.files("graph.routing.data").joinpath(name).read_text(encoding="utf-8")
    examples: list[Example] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            examples.append(Example.model_validate(json.loads(line)))
        except ValueError as exc:
            raise ValueError(f"{name} line {number}: not a valid routing example ({exc})") from exc
    return examples
