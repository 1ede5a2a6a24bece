"""Caching of the expensive analytics tools, keyed by tool, normalised arguments and data versions.

`@cached_result("transactions")` on a tool function `fn(deps, **args)` makes it read through the
process's `TieredCache` for `deps.engine` (see `cache_for`). The key is
`tool:<module>.<name>:<sha256 of the sorted JSON arguments>@<domain versions>~<code version>`, so a write to
any domain the tool reads (seed, import, ticket change) makes the entry unreachable in every process, and so
does a release that changes the code (how a tool computes, or what an argument such as "the quarter before
last quarter" means): Redis and the database keep entries across restarts. Errors are never cached. With
`GTM_CACHE_ENABLED=false` the function runs as before.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from app.cache.tiered import TieredCache
from app.cache.versions import Domain, read_data_versions, version_tag
from app.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])

_caches: dict[tuple[Any, ...], tuple[Any, TieredCache]] = {}
_caches_lock = threading.Lock()


def build_cache(settings: Settings, engine: Any = None) -> TieredCache:
    """A new `TieredCache` configured from `settings` (L3 in `engine` when given)."""
    return TieredCache(
        engine=engine,
        redis_url=settings.redis_url,
        l1_maxsize=settings.cache_l1_maxsize,
        l1_ttl_s=settings.cache_l1_ttl_s,
        l2_ttl_s=settings.cache_l2_ttl_s,
        l2_backoff_s=settings.cache_l2_backoff_s,
    )


def cache_for(engine: Any, settings: Settings) -> TieredCache | None:
    """The process-wide cache over `engine` for these settings (one per engine), or None when disabled."""
    if not settings.cache_enabled:
        return None
    key = (
        id(engine),
        settings.redis_url,
        settings.cache_l1_maxsize,
        settings.cache_l1_ttl_s,
        settings.cache_l2_ttl_s,
        settings.cache_l2_backoff_s,
    )
    with _caches_lock:
        found = _caches.get(key)
        if found is None:
            # The engine is kept alongside so its id() is never reused while the entry exists.
            found = (engine, build_cache(settings, engine))
            _caches[key] = found
        return found[1]


def reset_caches() -> None:
    """Forget every process-wide cache (tests)."""
    with _caches_lock:
        for _, cache in _caches.values():
            cache.close()
        _caches.clear()


@functools.cache
def code_version() -> str:
    """A digest of the `app` and `graph` packages' Python sources, read once per process (a few ms)."""
    root = Path(__file__).resolve().parents[2]
    digest = hashlib.sha256()
    for package in ("app", "graph"):
        for path in sorted((root / package).rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def arguments_key(args: dict[str, Any]) -> str:
    """A short stable digest of tool arguments (sorted JSON; defaults are filled in by the caller)."""
    text = json.dumps(args, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def cached_result(*domains: Domain) -> Callable[[F], F]:
    """Decorate a tool function `fn(deps, **args)` whose result depends only on `domains` and its arguments.

    The result is passed through `graph.tools.base.to_jsonable` and returned as its JSON round trip, both
    when fresh and when cached, so the two are identical.
    """

    def decorate(fn: F) -> F:
        import inspect

        signature = inspect.signature(fn)
        name = f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__name__}"

        @functools.wraps(fn)
        def wrapper(deps: Any, *args: Any, **kwargs: Any) -> Any:
            cache = cache_for(deps.engine, deps.settings)
            if cache is None:
                return fn(deps, *args, **kwargs)
            from graph.tools.base import to_jsonable

            bound = signature.bind(deps, *args, **kwargs)
            bound.apply_defaults()
            call_args = dict(list(bound.arguments.items())[1:])
            versions = read_data_versions(deps.engine)
            cache.observe_versions({d: versions[d] for d in domains if d in versions})
            tag = version_tag(versions, domains)
            key = f"tool:{name}:{arguments_key(to_jsonable(call_args))}@{tag}~{code_version()}"
            return cache.get_or_compute(key, lambda: to_jsonable(fn(deps, *args, **kwargs)), tags=domains, version=tag)

        return cast("F", wrapper)

    return decorate
