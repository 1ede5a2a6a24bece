"""A three-level cache for JSON values: L1 in-process TTL LRU, L2 Redis, L3 a database table.

Reads go L1 → L2 → L3 (a hit fills the levels above it); writes go to every level. Redis is optional
and never fails a request: any Redis error opens a circuit breaker, L2 is skipped for `l2_backoff_s`
seconds (logged once per outage) and requests continue on L1 and L3; after the back-off the next
request tries Redis again and, if it answers, L2 is back. Database (L3) errors are logged and skipped
the same way. Values must be JSON-able (tool results pass through `to_jsonable` first).

Entries can carry domain tags (`transactions`, ...) and the version string they were computed at;
`drop_stale(domain, current)` removes the entries of older versions from L1 and L2 (L3 rows are
deleted by the writer's `bump_data_versions`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from cachetools import TTLCache
from sqlalchemy.engine import Engine

from app.cache.versions import ensure_cache_tables
from app.data.schema import cache_entries

log = logging.getLogger(__name__)

Level = Literal["l1", "l2", "l3", "compute"]
Result = Literal["hit", "miss", "error", "skipped"]

_MISSING: Any = object()
MAX_KEY_CHARS = 200
"""Longer keys are replaced by their SHA-256 (the L3 key column holds 255 characters)."""


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=False)


class TieredCache:
    """L1 (cachetools `TTLCache`) → L2 (Redis, optional) → L3 (`cache_entries` table, optional).

    Thread-safe; the async methods answer L1 hits on the loop and run everything else in a worker thread.
    Every level holds the JSON text, so each read returns a fresh object that callers may change freely.
    `stats` counts requests per `(level, result)`; the same counts go to the Prometheus counter
    `gtm_cache_requests_total{level,result}` of this process.
    """

    def __init__(
        self,
        *,
        engine: Engine | None = None,
        redis_url: str | None = None,
        l1_maxsize: int = 1024,
        l1_ttl_s: float = 3600.0,
        l2_ttl_s: float = 86400.0,
        l2_backoff_s: float = 5.0,
        namespace: str = "gtm:cache:",
        redis_timeout_s: float = 0.5,
    ) -> None:
        """Configure the levels; nothing connects until the first request.

        Args:
            engine: the business database for L3 (None: no L3).
            redis_url: Redis for L2 (None: no L2).
            l1_maxsize: entries kept in L1 (least recently used go first).
            l1_ttl_s: lifetime of an L1 entry.
            l2_ttl_s: lifetime of an L2 and L3 entry.
            l2_backoff_s: how long L2 is skipped after a Redis error (circuit breaker).
            namespace: prefix of every Redis key.
            redis_timeout_s: connect and command timeout for Redis.
        """
        self.engine = engine
        self.redis_url = redis_url
        self.l1_ttl_s = l1_ttl_s
        self.l2_ttl_s = l2_ttl_s
        self.l2_backoff_s = l2_backoff_s
        self.namespace = namespace
        self.redis_timeout_s = redis_timeout_s
        self.stats: Counter[tuple[str, str]] = Counter()
        self._l1: TTLCache[str, str] = TTLCache(maxsize=l1_maxsize, ttl=l1_ttl_s)
        self._lock = threading.RLock()
        self._redis: Any = None
        self._l2_down_until = 0.0
        self._l2_outage = False
        self._l3_ready = False
        self._seen_versions: dict[str, str] = {}
        self._inflight: dict[str, tuple[threading.Lock, int]] = {}

    # -- bookkeeping ---------------------------------------------------------------------------
    def _count(self, level: Level, result: Result) -> None:
        self.stats[(level, result)] += 1
        try:
            from app.monitoring import process_metrics

            counter = getattr(process_metrics(), "cache_requests", None)
            if counter is not None:
                counter.labels(level=level, result=result).inc()
        except Exception:  # noqa: BLE001 - metrics never fail a request
            log.debug("cache metrics unavailable", exc_info=True)

    @staticmethod
    def storage_key(key: str) -> str:
        """The key as stored: unchanged, or `h:<sha256>` when longer than `MAX_KEY_CHARS`."""
        if len(key) <= MAX_KEY_CHARS:
            return key
        return "h:" + hashlib.sha256(key.encode()).hexdigest()

    @property
    def l2_enabled(self) -> bool:
        """Whether a Redis URL is configured."""
        return self.redis_url is not None

    @property
    def l2_available(self) -> bool:
        """Whether L2 is configured and its circuit breaker is closed (or due for a retry)."""
        return self.l2_enabled and time.monotonic() >= self._l2_down_until

    # -- L2: Redis -----------------------------------------------------------------------------
    def _client(self) -> Any:
        if self._redis is None:
            import redis
            from redis.backoff import NoBackoff
            from redis.retry import Retry

            self._redis = redis.Redis.from_url(
                str(self.redis_url),
                socket_connect_timeout=self.redis_timeout_s,
                socket_timeout=self.redis_timeout_s,
                retry=Retry(NoBackoff(), 0),
            )
        return self._redis

    def _l2_call(self, op: Callable[[Any], Any]) -> Any:
        """Run `op(client)`; on any Redis error open the breaker and return `_MISSING`."""
        if not self.l2_enabled:
            return _MISSING
        if not self.l2_available:
            return _MISSING
        try:
            result = op(self._client())
        except Exception as exc:  # noqa: BLE001 - Redis must never fail a request
            with self._lock:
                self._l2_down_until = time.monotonic() + self.l2_backoff_s
                first = not self._l2_outage
                self._l2_outage = True
            if first:
                log.warning(
                    "Redis cache unavailable (%s); continuing on L1/L3, retrying in %.0f s", exc, self.l2_backoff_s
                )
            return _MISSING
        if self._l2_outage:
            with self._lock:
                self._l2_outage = False
            log.info("Redis cache is back")
        return result

    def _l2_get(self, key: str) -> str | Any:
        if not self.l2_enabled:
            return _MISSING
        if not self.l2_available:
            self._count("l2", "skipped")
            return _MISSING
        raw = self._l2_call(lambda r: r.get(self.namespace + key))
        if raw is _MISSING:
            self._count("l2", "error")
            return _MISSING
        if raw is None:
            self._count("l2", "miss")
            return _MISSING
        self._count("l2", "hit")
        return raw.decode() if isinstance(raw, bytes) else str(raw)

    def _l2_set(self, key: str, payload: str, tags: Iterable[str]) -> None:
        def write(r: Any) -> None:
            pipe = r.pipeline(transaction=False)
            pipe.set(self.namespace + key, payload, px=max(1, int(self.l2_ttl_s * 1000)))
            for tag in tags:
                tag_key = f"{self.namespace}tag:{tag}"
                pipe.sadd(tag_key, key)
                pipe.expire(tag_key, max(1, int(self.l2_ttl_s)))
            pipe.execute()

        self._l2_call(write)

    # -- L3: database --------------------------------------------------------------------------
    def _l3_on(self) -> bool:
        if self.engine is None:
            return False
        if not self._l3_ready:
            try:
                ensure_cache_tables(self.engine)
            except Exception:  # noqa: BLE001
                log.warning("cache table unavailable; L3 disabled for this request", exc_info=True)
                return False
            self._l3_ready = True
        return True

    def _l3_get(self, key: str) -> str | Any:
        if not self._l3_on():
            return _MISSING
        assert self.engine is not None
        try:
            with self.engine.connect() as conn:
                row = conn.execute(
                    sa.select(cache_entries.c.value, cache_entries.c.expires_at).where(cache_entries.c.key == key)
                ).first()
        except Exception:  # noqa: BLE001 - the cache never fails a request
            log.warning("L3 cache read failed", exc_info=True)
            self._count("l3", "error")
            return _MISSING
        if row is None or row.expires_at <= _now():
            self._count("l3", "miss")
            return _MISSING
        self._count("l3", "hit")
        return str(row.value)

    def _l3_set(self, key: str, payload: str, tags: tuple[str, ...], version: str) -> None:
        if not self._l3_on():
            return
        assert self.engine is not None
        now = _now()
        row = {
            "key": key,
            "value": payload,
            "domains": "|" + "|".join(tags) + "|" if tags else "",
            "data_version": version[:255],
            "created_at": now,
            "expires_at": now + timedelta(seconds=self.l2_ttl_s),
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(cache_entries.delete().where(cache_entries.c.key == key))
                conn.execute(cache_entries.insert().values(**row))
        except Exception:  # noqa: BLE001 - a concurrent writer of the same key wins; nothing else to do
            log.debug("L3 cache write skipped", exc_info=True)

    def clear_local(self) -> None:
        """Empty L1 only (as if this were a new process)."""
        with self._lock:
            self._l1.clear()

    def reset_l2_breaker(self) -> None:
        """Try Redis again on the next request, even inside the back-off."""
        with self._lock:
            self._l2_down_until = 0.0

    def purge_expired(self) -> int:
        """Delete expired L3 rows; returns how many were deleted."""
        if not self._l3_on():
            return 0
        assert self.engine is not None
        with self.engine.begin() as conn:
            return int(conn.execute(cache_entries.delete().where(cache_entries.c.expires_at <= _now())).rowcount)

    # -- public API ----------------------------------------------------------------------------
    def get_local(self, key: str, default: Any = None) -> Any:
        """L1 only (never blocks): the value, or `default`."""
        key = self.storage_key(key)
        with self._lock:
            payload = self._l1.get(key)
        self._count("l1", "miss" if payload is None else "hit")
        return default if payload is None else json.loads(payload)

    def get(self, key: str, default: Any = None) -> Any:
        """Read through L1 → L2 → L3; a hit fills the levels above it. Blocking (use `aget` on the loop)."""
        key = self.storage_key(key)
        with self._lock:
            payload = self._l1.get(key)
        if payload is not None:
            self._count("l1", "hit")
            return json.loads(payload)
        self._count("l1", "miss")
        return self._get_below_l1(key, default)

    def _get_below_l1(self, key: str, default: Any) -> Any:
        payload = self._l2_get(key)
        if payload is _MISSING:
            payload = self._l3_get(key)
            if payload is _MISSING:
                return default
            if self.l2_available:
                self._l2_set(key, payload, ())
        with self._lock:
            self._l1[key] = payload
        return json.loads(payload)

    def set(self, key: str, value: Any, *, tags: Iterable[str] = (), version: str = "") -> Any:
        """Write through to every level and return the value as a read would (its JSON round trip).

        Args:
            key: the cache key (include the data versions the value depends on).
            value: a JSON-able value.
            tags: data domains the value was computed from (for `drop_stale` and the writers' L3 purge).
            version: the version string the value was computed at (stored in L3 for inspection).

        Raises:
            TypeError: `value` is not JSON-able.
        """
        key = self.storage_key(key)
        payload = _dumps(value)
        tag_tuple = tuple(sorted(set(tags)))
        with self._lock:
            self._l1[key] = payload
        self._l2_set(key, payload, tag_tuple)
        self._l3_set(key, payload, tag_tuple, version)
        return json.loads(payload)

    def get_or_compute(
        self, key: str, compute: Callable[[], Any], *, tags: Iterable[str] = (), version: str = ""
    ) -> Any:
        """The cached value of `key`, or `compute()` stored at every level (blocking).

        A fresh result is returned as its JSON round trip, so it is identical to what a later hit returns.
        """
        value = self.get(key, _MISSING)
        if value is not _MISSING:
            return value
        with self._flight_lock(key):  # concurrent misses of one key in this process compute once
            with self._lock:
                payload = self._l1.get(self.storage_key(key))
            if payload is not None:
                return json.loads(payload)
            self._count("compute", "miss")
            return self.set(key, compute(), tags=tags, version=version)

    @contextmanager
    def _flight_lock(self, key: str) -> Iterator[None]:
        with self._lock:
            lock, users = self._inflight.get(key, (threading.Lock(), 0))
            self._inflight[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._lock:
                lock, users = self._inflight[key]
                if users <= 1:
                    del self._inflight[key]
                else:
                    self._inflight[key] = (lock, users - 1)

    async def aget(self, key: str, default: Any = None) -> Any:
        """`get` without blocking the event loop (L1 on the loop, L2/L3 in a worker thread)."""
        skey = self.storage_key(key)
        with self._lock:
            payload = self._l1.get(skey)
        if payload is not None:
            self._count("l1", "hit")
            return json.loads(payload)
        self._count("l1", "miss")
        return await asyncio.to_thread(self._get_below_l1, skey, default)

    async def aset(self, key: str, value: Any, *, tags: Iterable[str] = (), version: str = "") -> Any:
        """`set` without blocking the event loop."""
        return await asyncio.to_thread(self.set, key, value, tags=tuple(tags), version=version)

    async def aget_or_compute(
        self,
        key: str,
        compute: Callable[[], Awaitable[Any]],
        *,
        tags: Iterable[str] = (),
        version: str = "",
    ) -> Any:
        """`get_or_compute` with an async `compute`, without blocking the event loop."""
        value = await self.aget(key, _MISSING)
        if value is not _MISSING:
            return value
        self._count("compute", "miss")
        return await self.aset(key, await compute(), tags=tags, version=version)

    def delete(self, key: str) -> None:
        """Remove `key` from every level."""
        key = self.storage_key(key)
        with self._lock:
            self._l1.pop(key, None)
        self._l2_call(lambda r: r.delete(self.namespace + key))
        if self._l3_on():
            assert self.engine is not None
            with self.engine.begin() as conn:
                conn.execute(cache_entries.delete().where(cache_entries.c.key == key))

    def clear(self, prefix: str = "") -> None:
        """Remove every entry whose key starts with `prefix` (all of them by default) from every level."""
        with self._lock:
            for k in [k for k in self._l1 if k.startswith(prefix)]:
                self._l1.pop(k, None)

        def wipe(r: Any) -> None:
            keys = list(r.scan_iter(match=f"{self.namespace}{prefix}*", count=500))
            for i in range(0, len(keys), 500):
                r.delete(*keys[i : i + 500])

        self._l2_call(wipe)
        if self._l3_on():
            assert self.engine is not None
            with self.engine.begin() as conn:
                conn.execute(cache_entries.delete().where(cache_entries.c.key.startswith(prefix, autoescape=True)))

    def observe_versions(self, versions: dict[str, str]) -> None:
        """Note the current data versions; entries of a domain whose version moved on are dropped (L1, L2)."""
        changed = [d for d, v in versions.items() if self._seen_versions.get(d, v) != v]
        with self._lock:
            self._seen_versions.update(versions)
        for domain in changed:
            self.drop_stale(domain, versions[domain])

    def drop_stale(self, domain: str, current: str) -> int:
        """Remove the L1 and L2 entries tagged `domain` that were computed at another version than `current`.

        Keys carry `<domain>=<version>` (see `app.cache.versions.version_tag`), which is what is compared.
        Returns how many L1 entries were dropped.
        """
        marker = f"{domain}="
        keep = f"{domain}={current}"
        with self._lock:
            stale = [k for k in list(self._l1.keys()) if marker in k and keep not in k]
            for k in stale:
                self._l1.pop(k, None)

        def purge(r: Any) -> None:
            tag_key = f"{self.namespace}tag:{domain}"
            members = [m.decode() if isinstance(m, bytes) else str(m) for m in r.smembers(tag_key)]
            old = [m for m in members if keep not in m]
            if old:
                r.delete(*(self.namespace + m for m in old))
                r.srem(tag_key, *old)

        self._l2_call(purge)
        return len(stale)

    def close(self) -> None:
        """Close the Redis connection pool."""
        if self._redis is not None:
            try:
                self._redis.close()
            except Exception:  # noqa: BLE001
                log.debug("closing Redis failed", exc_info=True)
            self._redis = None
