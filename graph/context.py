"""The run context: services and per-run values that travel with each graph call (LangGraph context).

Nodes receive it as `runtime.context`. Nothing here is global: the app, the CLI and each test build
their own `Services` (with their own settings, tools, knowledge base and models).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool

from app.settings import Settings
from graph.llm.factory import ModelRole, make_chat_model
from graph.state import AgentName

if TYPE_CHECKING:
    from app.mail import Sender
    from app.outbox import Outbox
    from graph.routing.compound import Part
    from graph.routing.decide import RouteDecision


class KnowledgeSearch(Protocol):
    """What the Support agent needs from the knowledge base."""

    async def asearch(self, query: str, k: int = 5, *, runner_up: bool = False) -> Any:
        """Return an object with `passages` (doc, section, text, score) and a calibrated `confidence`.

        One passage per document of the top `k`; with `runner_up`, the top document's second-best next.
        """
        ...


class ReviewSink(Protocol):
    """Where escalations are recorded (the review index and its ticket)."""

    async def open_review(self, **fields: Any) -> str:
        """Record a pending review (idempotent per thread and request) and return its id."""
        ...

    async def pending_escalations(self) -> int:
        """How many reviews are waiting."""
        ...


class Router(Protocol):
    """The supervisor's routing decision."""

    async def __call__(self, text: str, previous_route: str | None) -> RouteDecision:
        """Decide where `text` goes."""
        ...

    async def split(self, text: str) -> list[Part] | None:
        """The parts of a message that asks two agents two things, or None (`graph.routing.compound`)."""
        ...


@dataclass
class Services:
    """Long-lived services shared by every run of one app process."""

    settings: Settings
    """The settings everything was built from."""
    tools: dict[AgentName, list[BaseTool]]
    """Each agent's tools."""
    knowledge: KnowledgeSearch | None = None
    """Knowledge base for the Support agent."""
    reviews: ReviewSink | None = None
    """Review index for escalations."""
    router: Router | None = None
    """Routing decision (keywords + classifier + multi-agent rules)."""
    outbox: Outbox | None = None
    """Win-back drafts waiting for approval and the record of what was sent."""
    sender: Sender | None = None
    """Delivers approved emails (SMTP by default)."""
    model_factory: Callable[[ModelRole, Settings], BaseChatModel] = make_chat_model
    """Builds each agent's chat model."""
    extras: dict[str, Any] = field(default_factory=dict)
    """Other services (business database engine, caches) keyed by name."""
    _models: dict[str, BaseChatModel] = field(default_factory=dict, repr=False)

    def model(self, role: ModelRole) -> BaseChatModel:
        """The (cached) chat model of one agent."""
        if role not in self._models:
            self._models[role] = self.model_factory(role, self.settings)
        return self._models[role]

    def tool(self, agent: AgentName, name: str) -> BaseTool:
        """One of an agent's tools by name.

        Raises:
            KeyError: the agent has no such tool.
        """
        for tool in self.tools.get(agent, []):
            if tool.name == name:
                return tool
        raise KeyError(f"agent {agent!r} has no tool {name!r}")


@dataclass
class Context:
    """Per-run context passed to `graph.ainvoke(..., context=...)`."""

    services: Services
    """The app's services."""
    user_id: str = "anonymous"
    """Who is asking."""
