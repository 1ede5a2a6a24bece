"""The LLM response cache: a LangChain `BaseCache` over the `TieredCache`, for deterministic calls only.

LangChain calls `lookup(prompt, llm_string)` before a chat model request and `update(...)` after it;
`prompt` is the serialised message list and `llm_string` the model's configuration (model name,
temperature, max tokens, bound tools, response format). The key is a SHA-256 of both.

Policy (`GTM_LLM_CACHE`):
- `deterministic` (default): only calls made at temperature 0 are cached. In the seed matrix that is the
  supervisor's routing (structured output); finance (0.1), support (0.2), insights (0.3) and marketing (0.7)
  sample, so repeating a request may legitimately give another answer and they are not cached. Set an
  agent's temperature to 0 (`GTM_FINANCE__TEMPERATURE=0`) to cache it.
- `all`: every call is cached (demos, evaluations that replay the same prompts).
- `off`: nothing is cached.

LLM entries carry no data domain: a prompt already contains the tool results it was written from, so
new data means a new prompt and a new key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Sequence
from typing import Any, Literal

from langchain_core.caches import RETURN_VAL_TYPE, BaseCache
from langchain_core.load import Serializable, dumps, loads
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, Generation, GenerationChunk

from app.cache.tiered import TieredCache
from app.settings import Settings

log = logging.getLogger(__name__)

Policy = Literal["deterministic", "all"]

_ALLOWED: list[type[Serializable]] = [
    Generation,
    ChatGeneration,
    GenerationChunk,
    ChatGenerationChunk,
    AIMessage,
    AIMessageChunk,
]
"""What a cached entry may deserialise to (entries come from Redis and the database: nothing else is built)."""

_PARAM_TEMPERATURE = re.compile(r"\('temperature', ([0-9.eE+-]+)\)")


def llm_temperature(llm_string: str) -> float | None:
    """The temperature recorded in a LangChain `llm_string`, or None when it is not set (server default)."""
    head = llm_string.split("---", 1)[0]
    try:
        kwargs = json.loads(head).get("kwargs", {})
    except (ValueError, AttributeError):
        kwargs = {}
    value = kwargs.get("temperature") if isinstance(kwargs, dict) else None
    if value is None:
        match = _PARAM_TEMPERATURE.search(llm_string)
        value = match.group(1) if match else None
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


class TieredLLMCache(BaseCache):
    """LangChain LLM cache backed by a `TieredCache` (L1 → Redis → database)."""

    def __init__(self, cache: TieredCache, policy: Policy = "deterministic") -> None:
        """Cache through `cache`; with policy `deterministic` only temperature-0 calls are cached."""
        self.cache = cache
        self.policy = policy

    def cacheable(self, llm_string: str) -> bool:
        """Whether calls with this configuration may be cached under the policy."""
        return self.policy == "all" or llm_temperature(llm_string) == 0.0

    @staticmethod
    def key(prompt: str, llm_string: str) -> str:
        """The cache key of one call."""
        digest = hashlib.sha256(f"{llm_string}\x00{prompt}".encode()).hexdigest()
        return f"llm:{digest}"

    @staticmethod
    def _decode(value: Any) -> RETURN_VAL_TYPE | None:
        if not isinstance(value, list):
            return None
        try:
            return [loads(item, allowed_objects=_ALLOWED) for item in value]
        except Exception:  # noqa: BLE001 - an unreadable entry (library upgrade) is a miss
            log.debug("unreadable LLM cache entry", exc_info=True)
            return None

    @staticmethod
    def _encode(return_val: Sequence[Any]) -> list[str]:
        return [dumps(generation) for generation in return_val]

    def lookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        """The cached generations of this call, or None."""
        if not self.cacheable(llm_string):
            return None
        return self._decode(self.cache.get(self.key(prompt, llm_string)))

    def update(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        """Store the generations of this call (if the policy allows)."""
        if self.cacheable(llm_string):
            self.cache.set(self.key(prompt, llm_string), self._encode(return_val))

    async def alookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        """`lookup` without blocking the event loop."""
        if not self.cacheable(llm_string):
            return None
        return self._decode(await self.cache.aget(self.key(prompt, llm_string)))

    async def aupdate(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        """`update` without blocking the event loop."""
        if self.cacheable(llm_string):
            await self.cache.aset(self.key(prompt, llm_string), self._encode(return_val))

    def clear(self, **kwargs: Any) -> None:
        """Remove every cached LLM response (tool results stay)."""
        self.cache.clear(prefix="llm:")

    async def aclear(self, **kwargs: Any) -> None:
        """`clear` without blocking the event loop."""
        import asyncio

        await asyncio.to_thread(self.cache.clear, "llm:")


def llm_cache_for(settings: Settings, engine: Any = None) -> BaseCache | None:
    """The LLM response cache for `ChatOpenAI(cache=...)`, or None when caching is off.

    One cache per process and database (shared with the tool cache): L1 in-process, L2 Redis when
    `REDIS_URL` is set, L3 the business database (`engine`, default: the one `settings` names).
    """
    if not settings.cache_enabled or settings.llm_cache == "off":
        return None
    from app.cache.tools import cache_for

    if engine is None:
        from app.data.db import get_engine

        engine = get_engine(settings.business_db_url)
    cache = cache_for(engine, settings)
    if cache is None:
        return None
    return TieredLLMCache(cache, policy=settings.llm_cache)
