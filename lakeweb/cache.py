"""A Redis cache whose outage is a cache miss, not a site outage.

With ``CACHE_URL`` on Redis, sessions (``cached_db``), allauth's login rate
limits and rendered catalog results live there. When Redis is down or stalls,
every operation answers as on a miss: ``get`` gives the default, writes do
nothing, so sessions come from the database and pages are computed again.
After an error Redis is left alone for ``RETRY_AFTER`` seconds (a small
circuit breaker), so requests do not each wait on a dead socket; one warning
is logged when the outage starts and one when it ends.

Plain misses would get two things wrong, so:

- Keys written or deleted during the outage are deleted first thing when
  Redis answers again (or, past ``MAX_STALE`` keys, the cache is cleared):
  otherwise a session logged out meanwhile would come back from the cache.
- allauth's rate limit keys are kept in this process's memory during the
  outage: the login limits still hold, per process, instead of failing open.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

logger = logging.getLogger(__name__)

# Keys of allauth's rate limits and their locks (allauth.core.internal.ratelimit).
LOCAL_PREFIXES = ("allauth:rl:",)
MAX_STALE = 10_000
WRITES = frozenset({"add", "set", "touch", "delete", "incr", "set_many", "delete_many", "clear"})
_MISSING = object()


@dataclass
class _Outage:
    """What this process knows of one Redis server's outage."""

    until: float = 0.0  # monotonic time before which Redis is not tried again
    stale: set[str] = field(default_factory=set)  # made keys to delete when it answers
    clear: bool = False  # too many stale keys, or clear() was asked: clear it all


# Shared by every thread's cache object in the process, keyed by the servers.
_outages: dict[tuple[str, ...], _Outage] = {}
_lock = threading.Lock()
_local = LocMemCache("lakeweb-cache-outage", {"OPTIONS": {"MAX_ENTRIES": 10_000}})


class _OneClientPerPool(RedisCacheClient):
    """Django's client, keeping one ``redis.Redis`` per connection pool.

    Django's makes a new one for every operation, and each copies redis-py's
    table of some 170 response callbacks: a catalog page's half-dozen cache
    operations spent about a millisecond on that alone. A ``redis.Redis`` is
    safe to share between threads (each command borrows a pool connection).
    """

    # RedisCacheClient's own; missing from the stubs.
    _client: Callable[..., Any]
    _get_connection_pool: Callable[[bool], Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class FailSoftRedisCache(RedisCache):
    """Django's Redis cache, answering as a miss while Redis fails (see the module docstring).

    ``OPTIONS`` may set ``RETRY_AFTER`` (seconds, default 5) besides redis-py's own.
    """

    _servers: list[str]  # set by RedisCache.__init__; missing from the stubs

    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        options = dict(params.get("OPTIONS") or {})
        self.retry_after = float(options.pop("RETRY_AFTER", 5))
        # One short try per operation: a dead or stalled Redis costs half a
        # second, once every RETRY_AFTER seconds.
        options.setdefault("socket_connect_timeout", 0.5)
        options.setdefault("socket_timeout", 0.5)
        options.setdefault("retry", Retry(NoBackoff(), 0))
        super().__init__(server, {**params, "OPTIONS": options})
        self._class = _OneClientPerPool
        self._key = tuple(self._servers)
        self._label = ", ".join(_without_credentials(url) for url in self._servers)

    def add(
        self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> bool:
        # True as if stored, like DummyCache: callers that use add() as a lock go on.
        return self._call("add", [key], version, True, key, value, timeout, version)

    def get(self, key: str, default: Any = None, version: Any = None) -> Any:
        return self._call("get", [key], version, default, key, default, version)

    def set(
        self, key: str, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> None:
        self._call("set", [key], version, None, key, value, timeout, version)

    def touch(self, key: str, timeout: Any = DEFAULT_TIMEOUT, version: Any = None) -> bool:
        return self._call("touch", [key], version, False, key, timeout, version)

    def delete(self, key: str, version: Any = None) -> bool:
        return self._call("delete", [key], version, False, key, version)

    def has_key(self, key: str, version: Any = None) -> bool:
        return self._call("has_key", [key], version, False, key, version)

    def incr(self, key: str, delta: int = 1, version: Any = None) -> int:
        value = self._call("incr", [key], version, _MISSING, key, delta, version)
        if value is _MISSING:
            raise ValueError(f"Key '{key}' not found")  # what any cache says on a miss
        return value

    def get_many(self, keys: Iterable[str], version: Any = None) -> dict[str, Any]:
        return self._call("get_many", [], version, {}, keys, version)

    def set_many(
        self, data: dict[str, Any], timeout: Any = DEFAULT_TIMEOUT, version: Any = None
    ) -> list[str]:
        return self._call("set_many", list(data), version, list(data), data, timeout, version)

    def delete_many(self, keys: Iterable[str], version: Any = None) -> None:
        keys = list(keys)
        self._call("delete_many", keys, version, None, keys, version)

    def clear(self) -> None:
        self._call("clear", None, None, None)

    def _call(self, name: str, keys: list[str] | None, version: Any, miss: Any, *args: Any) -> Any:
        """Redis's answer to ``name(*args)``; when Redis fails or rests, ``miss``.

        ``keys`` are the keys the call writes (``None``: all of them).
        """
        if self._redis_usable():
            try:
                return getattr(super(), name)(*args)
            except RedisError as exc:
                self._fail(exc)
        if name in WRITES:
            self._mark_stale(keys, version)
        if keys and len(keys) == 1 and str(keys[0]).startswith(LOCAL_PREFIXES):
            return getattr(_local, name)(*args)
        return miss

    def _redis_usable(self) -> bool:
        """Whether to ask Redis: it is up, or it is time to try again and it answers."""
        outage = _outages.get(self._key)
        if outage is None:
            return True
        with _lock:
            if _outages.get(self._key) is not outage:
                return True  # another thread saw it come back
            if time.monotonic() < outage.until:
                return False
            outage.until = time.monotonic() + self.retry_after  # others wait while this one tries
            try:
                if outage.clear:
                    self._cache.clear()
                elif outage.stale:
                    self._cache.delete_many(list(outage.stale))
            except RedisError:
                return False
            del _outages[self._key]
        logger.warning("cache %s answers again; what was written meanwhile is dropped", self._label)
        return True

    def _fail(self, exc: RedisError) -> None:
        with _lock:
            outage = _outages.get(self._key)
            if outage is None:
                outage = _outages[self._key] = _Outage()
                logger.warning(
                    "cache %s unreachable (%s): answering as empty, trying again every %g s",
                    self._label,
                    exc,
                    self.retry_after,
                )
            outage.until = time.monotonic() + self.retry_after

    def _mark_stale(self, keys: list[str] | None, version: Any) -> None:
        with _lock:
            outage = _outages.setdefault(self._key, _Outage())
            if keys is None or len(outage.stale) + len(keys) > MAX_STALE:
                outage.clear, outage.stale = True, set()
            elif not outage.clear:
                outage.stale.update(self.make_key(key, version=version) for key in keys)


def _without_credentials(url: str) -> str:
    """``host:port/db`` of a Redis URL: logs never show its password."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 6379}{parts.path}"
