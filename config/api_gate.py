"""One Redis round trip for what every API request checks before its view runs.

A token-authenticated request used to cost five round trips before its answer:
the pool's check of the database connection, the token with its user (SQL),
the user's permissions with their version (Redis), the throttle's script
(Redis) and, for the cached character detail, the cached answer (Redis). Here:

- a process keeps what it learnt about a token (its user, the token row and
  the user's permissions) for API_AUTH_CACHE_SECONDS, keyed by a hash of the
  token, stamped with two version numbers read from Redis *before* it read the
  database: `auth:version` (bumped by any save or delete of a token or a user:
  a revoke, a deactivation, a new token) and `perms:version` (any change to
  groups, memberships or permissions; config.auth_backend);
- each request runs one Lua script that reads both versions and, only when
  they are still the ones the process holds, counts the request in the user's
  throttle windows and reads the keys the view will want (its cached answer);
  with another version the process forgets the token and asks the database,
  as before.

So a revoked token, a deactivated user or a withdrawn permission is refused
from the very next request, in every process. Changes that send no signal (a
QuerySet.update() of a token's expiry or a user's is_active, SQL typed by
hand) take effect within API_AUTH_CACHE_SECONDS (2 s by default). With Redis
unreachable, nothing is taken from the process's memory: every request asks
the database (and the throttle fails open, as config.throttling does).

A version that is missing from Redis (a flushed or restarted Redis) starts at
the clock's nanoseconds, never at a number a process may still hold.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import caches

from config.cache import CacheUnavailable, FailOpenRedisCache, guarded, strict

AUTH_VERSION_KEY = "auth:version"
PERMS_VERSION_KEY = "perms:version"  # config.auth_backend's
# entries a process keeps at most (tokens in use); past it, it starts afresh
MAX_ENTRIES = 2048

# KEYS[1], KEYS[2]: the auth and permission versions; then two per throttle
# (this window's counter, the previous window's); then the keys to read.
# ARGV[1], ARGV[2]: the versions the process holds; ARGV[3]: the number of
# throttles; ARGV[4...]: each throttle's counter TTL in ms.
# Answers {0} when a version moved (nothing counted), else {1, current_1,
# previous_1, ..., value_1, ...} ('' for a key that is not set).
GATE = """
local auth = redis.call('GET', KEYS[1])
local perms = redis.call('GET', KEYS[2])
if auth ~= ARGV[1] or perms ~= ARGV[2] then return {0} end
local n = tonumber(ARGV[3])
local out = {1}
for i = 1, n do
  local key = KEYS[1 + 2 * i]
  local current = redis.call('INCR', key)
  if current == 1 then redis.call('PEXPIRE', key, ARGV[3 + i]) end
  out[#out + 1] = current
  out[#out + 1] = tonumber(redis.call('GET', KEYS[2 + 2 * i]) or '0')
end
for i = 3 + 2 * n, #KEYS do
  out[#out + 1] = redis.call('GET', KEYS[i]) or ''
end
return out
"""


@dataclass(frozen=True)
class Entry:
    """What a process knows about one token, and as of which versions."""

    user: Any
    token: Any
    perms: frozenset[str]
    versions: tuple[str, str]
    loaded: float  # time.monotonic()
    expiry: float | None  # the token's expiry (time.time()), None: never


_entries: dict[str, Entry] = {}
_lock = threading.Lock()
NOT_READ = object()


def _cache() -> Any:
    return caches["default"]


def token_hash(token: str) -> str:
    """The key of a token in this process's memory (never stored elsewhere)."""
    return hashlib.sha256(token.encode()).hexdigest()


def forget_all() -> None:
    """Every process-local entry gone (tests start each from nothing)."""
    with _lock:
        _entries.clear()


def _fresh_version() -> int:
    return time.time_ns()


def bump(key: str) -> None:
    """A version moves on: every entry stamped with the old one is stale."""
    store = _cache()
    # without Redis nothing can be validated against it: processes ask the
    # database meanwhile; what Redis kept is outlived by the TTL
    with contextlib.suppress(CacheUnavailable), strict():
        if guarded("bump", None, _incr, store, key) is None:
            store.set(key, _fresh_version(), timeout=None)


def _incr(store: Any, key: str) -> int | None:
    try:
        return store.incr(key)
    except ValueError:  # not set: the caller starts it afresh
        return None


def auth_changed(**kwargs: Any) -> None:
    """A token or a user was saved or deleted (signals in config.apps)."""
    bump(AUTH_VERSION_KEY)


def versions() -> tuple[str, str] | None:
    """Both versions as they are now (started if missing); None without Redis."""
    store = _cache()
    if not isinstance(store, FailOpenRedisCache):
        return None
    try:
        with strict():
            found = guarded(
                "versions", {}, store.get_many, [AUTH_VERSION_KEY, PERMS_VERSION_KEY]
            )
            out = []
            for key in (AUTH_VERSION_KEY, PERMS_VERSION_KEY):
                value = found.get(key)
                if value is None:
                    guarded("versions", False, store.add, key, _fresh_version(), None)
                    value = guarded("versions", None, store.get, key)
                if value is None:
                    return None
                out.append(str(value))
    except CacheUnavailable:
        return None
    return out[0], out[1]


def remember(
    token: str, user: Any, auth_token: Any, stamp: tuple[str, str] | None
) -> None:
    """Keep what the database said about `token`, as of the versions `stamp`
    (read before the database was)."""
    if stamp is None or not user.is_active:
        return
    perms = frozenset(user.get_all_permissions())
    expiry = auth_token.expiry.timestamp() if auth_token.expiry else None
    entry = Entry(user, auth_token, perms, stamp, time.monotonic(), expiry)
    with _lock:
        if len(_entries) >= MAX_ENTRIES:
            _entries.clear()
        _entries[token_hash(token)] = entry


def _forget(key: str) -> None:
    with _lock:
        _entries.pop(key, None)


def authenticate(request: Any, token: str) -> tuple[Any, Any] | None:
    """(user, token row) from this process's memory, validated by one round
    trip that also counts the throttle and reads the view's keys; None when
    the database must be asked."""
    key = token_hash(token)
    entry = _entries.get(key)
    if entry is None:
        return None
    now = time.time()
    ttl = getattr(settings, "API_AUTH_CACHE_SECONDS", 2.0)
    if time.monotonic() - entry.loaded > ttl or (
        entry.expiry is not None and entry.expiry <= now
    ):
        _forget(key)
        return None
    store = _cache()
    context = getattr(request, "parser_context", None) or {}
    view = context.get("view")
    throttles = _throttle_windows(view, entry.user.pk, now)
    reads = list(getattr(view, "gate_reads", _no_reads)())
    made = [store.make_and_validate_key(k) for k in reads]
    keys = [
        store.make_and_validate_key(AUTH_VERSION_KEY),
        store.make_and_validate_key(PERMS_VERSION_KEY),
    ]
    args: list[Any] = [*entry.versions, len(throttles)]
    for window in throttles:
        keys += [window.current_key, window.previous_key]
        args.append(window.ttl_ms)
    keys += made
    try:
        with strict():
            answer = guarded("gate", None, _run, store, keys, args)
    except CacheUnavailable:
        _forget(key)
        return None
    if not answer or int(answer[0]) != 1:
        _forget(key)  # a version moved: ask the database
        return None
    counts = answer[1 : 1 + 2 * len(throttles)]
    values = answer[1 + 2 * len(throttles) :]
    request._gate_throttles = {
        w.current_key: (int(counts[2 * i]), int(counts[2 * i + 1]))
        for i, w in enumerate(throttles)
    }
    loads = store._cache._serializer.loads
    request._gate_reads = {
        k: (loads(v) if v else None) for k, v in zip(reads, values, strict=True)
    }
    user = copy.copy(entry.user)
    user._perm_cache = entry.perms
    return user, copy.copy(entry.token)


def _no_reads() -> list[str]:
    return []


@dataclass(frozen=True)
class Window:
    current_key: str
    previous_key: str
    ttl_ms: int


def _throttle_windows(view: Any, user_pk: Any, now: float) -> list[Window]:
    """The counter keys of the view's throttles that can count in the gate
    (config.throttling's, which have `window_for`); the others count alone."""
    if view is None:
        return []
    windows = []
    for throttle in view.get_throttles():
        window_for = getattr(throttle, "window_for", None)
        window = window_for(user_pk, now) if window_for is not None else None
        if window is not None:
            windows.append(window)
    return windows


def _run(store: Any, keys: list[str], args: list[Any]) -> list[Any]:
    client = store.redis_client(keys[0])
    script = getattr(client, "_gate_script", None)
    if script is None:
        script = client._gate_script = client.register_script(GATE)
    return script(keys=keys, args=args)


def read(request: Any, key: str) -> Any:
    """The value of `key` the gate read for this request (one of the view's
    `gate_reads`; None: not set), or NOT_READ when the gate did not run."""
    return getattr(request, "_gate_reads", {}).get(key, NOT_READ)


def throttle_counts(request: Any, current_key: str) -> tuple[int, int] | None:
    """The throttle counts the gate took for this request's window, if any."""
    return getattr(request, "_gate_throttles", {}).get(current_key)
