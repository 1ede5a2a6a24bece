"""Caching: L1 in-process TTL LRU, L2 Redis (when `REDIS_URL` is set), L3 the business database.

- `TieredCache` (`tiered.py`): the read-through / write-through cache with a Redis circuit breaker.
- `versions.py`: per-domain data versions bumped by every writer; cache keys include them.
- `tools.py`: `@cached_result(...)` for the analytics tools and `cache_for(engine, settings)`.
- `llm.py`: `llm_cache_for(settings)`, the LangChain LLM response cache for deterministic calls.
"""

from typing import Any

from app.cache.tiered import TieredCache
from app.cache.tools import build_cache, cache_for, cached_result, reset_caches
from app.cache.versions import ALL_DOMAINS, Domain, bump_data_versions, read_data_versions

__all__ = [
    "ALL_DOMAINS",
    "Domain",
    "TieredCache",
    "TieredLLMCache",
    "build_cache",
    "bump_data_versions",
    "cache_for",
    "cached_result",
    "llm_cache_for",
    "read_data_versions",
    "reset_caches",
]


def __getattr__(name: str) -> Any:
    """The LLM cache names load LangChain only when asked for."""
    if name in ("TieredLLMCache", "llm_cache_for"):
        from app.cache import llm

        return getattr(llm, name)
    raise AttributeError(f"module 'app.cache' has no attribute {name!r}")
