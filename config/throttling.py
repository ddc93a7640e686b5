"""The API's per-user throttle: atomic under concurrency, failing open without Redis.

DRF's throttle reads a list of timestamps, appends one and writes it back: two
requests at once both read the same list and one update is lost, so a burst
from several threads is never throttled. Here one Lua script per request, one
Redis round trip, counts in two fixed windows and weighs the previous one by
how much of it still overlaps the sliding window (the "sliding window counter"):
atomic, constant memory per user, and no burst of twice the rate at a window
boundary. When Redis is unreachable the request is allowed (config.cache).
"""

from __future__ import annotations

import time

from django.core.cache import caches
from rest_framework.throttling import UserRateThrottle

from config.api_gate import Window, throttle_counts
from config.cache import CacheUnavailable, FailOpenRedisCache, guarded, strict

# KEYS[1]: this window's counter, KEYS[2]: the previous window's; ARGV[1]: TTL ms
SLIDING_WINDOW = """
local current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
return {current, previous}
"""


class AtomicUserRateThrottle(UserRateThrottle):
    duration: int
    num_requests: int

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        ident = self.get_cache_key(request, view)
        if ident is None:
            return True
        store = _backend()
        if not isinstance(store, FailOpenRedisCache):
            return super().allow_request(request, view)
        now = time.time()
        elapsed = (now % self.duration) / self.duration
        keys = self._window(store, ident, now)
        # counted already by the gate's round trip (config.api_gate)?
        counted = throttle_counts(request, keys.current_key)
        try:
            if counted is None:
                with strict():
                    counted = guarded(
                        "throttle",
                        None,
                        self._run,
                        keys.current_key,
                        keys.previous_key,
                        keys.ttl_ms,
                    )
        except CacheUnavailable:
            return True  # fail open; the outage was logged once
        current, previous = counted
        weighted = previous * (1 - elapsed) + current
        if weighted <= self.num_requests:
            return True
        self._wait = self.duration - (now % self.duration)
        return False

    def window_for(self, user_pk, now: float) -> Window | None:
        """This user's counter keys at `now`, for the gate to count in its
        round trip (the same keys allow_request reads)."""
        if self.rate is None:
            return None
        store = _backend()
        if not isinstance(store, FailOpenRedisCache):
            return None
        ident = self.cache_format % {"scope": self.scope, "ident": user_pk}
        return self._window(store, ident, now)

    def _window(self, store, ident: str, now: float) -> Window:
        """The counters of `ident`'s window at `now` and of the one before."""
        window = int(now // self.duration)
        return Window(
            store.make_and_validate_key(f"{ident}:{window}"),
            store.make_and_validate_key(f"{ident}:{window - 1}"),
            self.duration * 2000,
        )

    def _run(self, current_key, previous_key, ttl_ms):
        client = _backend().redis_client(current_key)
        # registered once per client (config.cache keeps one per pool)
        script = getattr(client, "_throttle_script", None)
        if script is None:
            script = client._throttle_script = client.register_script(SLIDING_WINDOW)
        current, previous = script(keys=[current_key, previous_key], args=[ttl_ms])
        return int(current), int(previous)

    def wait(self):
        return getattr(self, "_wait", None)


def _backend():
    return caches["default"]
