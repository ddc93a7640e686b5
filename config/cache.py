"""The Redis cache, failing open: an outage degrades the site, it does not stop it.

Every read of the cache (the permission sets, the character detail, the
dashboard's heartbeats, the throttle's counters) is an optimisation or a
convenience; none is worth a 500. When Redis cannot be reached:

- reads answer "not cached" (the caller falls back to the database), writes
  and deletes are skipped;
- one warning goes to the log (and system_logs) when the outage starts in this
  process, not one per request, and a line when Redis answers again;
- for REDIS_OUTAGE_RETRY_SECONDS after a failure the process does not even try
  (a black-holed host would otherwise cost a connect timeout per call).

Code that must know whether the answer came from Redis (the dashboard shows
the engine as "unknown", not as "never ran") reads inside `strict()`, where an
outage raises CacheUnavailable instead.

Limits of failing open, by design: a key deleted (a cache invalidation) while
Redis is unreachable but not restarted stays until its timeout (five minutes
for the cached reads); throttling is off during the outage.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)
OUTAGE_ERRORS = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)


class CacheUnavailable(Exception):
    """Redis cannot be reached (raised only inside `strict()`)."""


class Outage:
    """This process's view of Redis: up, or down since when."""

    def __init__(self):
        self._lock = threading.Lock()
        self.down_since: float | None = None
        self._retry_at = 0.0

    @property
    def active(self) -> bool:
        return self.down_since is not None

    def skip(self) -> bool:
        """During an outage, calls are not even tried until the retry time."""
        return self.down_since is not None and time.monotonic() < self._retry_at

    def failed(self, exc: BaseException, what: str) -> None:
        retry = getattr(settings, "REDIS_OUTAGE_RETRY_SECONDS", 5)
        with self._lock:
            first = self.down_since is None
            if first:
                self.down_since = time.monotonic()
            self._retry_at = time.monotonic() + retry
        if first:
            logger.warning(
                "Redis is unreachable (%s failed: %s): caches and throttling fail "
                "open until it answers again.",
                what,
                type(exc).__name__,
            )

    def succeeded(self) -> None:
        if self.down_since is None:
            return
        with self._lock:
            since, self.down_since = self.down_since, None
        if since is not None:
            logger.info(
                "Redis answers again after %.0f s: caches and throttling are back.",
                time.monotonic() - since,
            )

    def reset(self) -> None:
        with self._lock:
            self.down_since, self._retry_at = None, 0.0


outage = Outage()
_strict = threading.local()


@contextlib.contextmanager
def strict():
    """Inside, an outage raises CacheUnavailable instead of answering a default."""
    previous = getattr(_strict, "on", False)
    _strict.on = True
    try:
        yield
    finally:
        _strict.on = previous


def guarded(what: str, default, func, *args, **kwargs):
    """Run one Redis call; on an outage answer `default` (or raise in strict())."""
    if outage.skip():
        if getattr(_strict, "on", False):
            raise CacheUnavailable(what)
        return default
    try:
        result = func(*args, **kwargs)
    except OUTAGE_ERRORS as exc:
        outage.failed(exc, what)
        if getattr(_strict, "on", False):
            raise CacheUnavailable(what) from exc
        return default
    outage.succeeded()
    return result


class ReusedRedisCacheClient(RedisCacheClient):
    """Django's client, but one redis-py client per connection pool, made once.

    Django makes a new redis-py client on every cache call; its constructor
    builds the command callback tables, a fraction of a millisecond each time,
    several times per API request (permissions, throttle, cached reads). The
    client is thread-safe and holds no connection of its own (the pool does,
    and redis-py's pool starts afresh in a forked process).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients: dict[int, object] = {}

    def get_client(self, key=None, *, write=False):
        this: Any = self  # Django's client class is untyped in django-stubs
        index = this._get_connection_pool_index(write)
        client = self._clients.get(index)
        if client is None:
            pool = this._get_connection_pool(write)
            client = self._clients.setdefault(index, this._client(connection_pool=pool))
        return client


class FailOpenRedisCache(RedisCache):
    """Django's RedisCache whose calls fail open (see the module docstring)."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = ReusedRedisCacheClient

    def add(self, key, value, timeout=None, version=None):
        return guarded("add", False, super().add, key, value, timeout, version)

    def get(self, key, default=None, version=None):
        return guarded("get", default, super().get, key, default, version)

    def set(self, key, value, timeout=None, version=None):
        return guarded("set", None, super().set, key, value, timeout, version)

    def touch(self, key, timeout=None, version=None):
        return guarded("touch", False, super().touch, key, timeout, version)

    def delete(self, key, version=None):
        return guarded("delete", False, super().delete, key, version)

    def get_many(self, keys, version=None):
        return guarded("get_many", {}, super().get_many, keys, version)

    def has_key(self, key, version=None):
        return guarded("has_key", False, super().has_key, key, version)

    def set_many(self, data, timeout=None, version=None):
        return guarded("set_many", [], super().set_many, data, timeout, version)

    def delete_many(self, keys, version=None):
        return guarded("delete_many", None, super().delete_many, keys, version)

    def clear(self):
        return guarded("clear", False, super().clear)

    def incr(self, key, delta=1, version=None):
        # a counter has no sensible default: the caller decides (strict)
        with strict():
            return guarded("incr", None, super().incr, key, delta, version)

    def redis_client(self, key: str):
        """The redis-py client for a (made) key: for the throttle's script."""
        return self._cache.get_client(key, write=True)
