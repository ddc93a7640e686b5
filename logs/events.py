"""Events: what producers say happened, written to the outbox (`events`).

`emit(name, payload, character_id=...)` inserts one row in the caller's
transaction: the event exists exactly when what it reports was committed (a
rolled-back approval emits nothing). After commit it kicks the dispatcher by
task name, at most about once a second across all processes (a Redis
SET NX PX, plus one delayed kick per second for what commits meanwhile); when
Redis cannot be asked the kick is sent anyway (fails open), and beat runs the
dispatcher every minute as the safety net. No message per
event: the dispatcher (logs.outbox) drains the table in batches and hands
them to the consumers in settings.EVENT_CONSUMERS, which decide who listens.

Producers import only this module; nothing imports a consumer to tell it
something happened.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import redis
from django.conf import settings
from django.db import connection, transaction

from config.celery import app as celery_app
from logs.event_names import NAMES
from logs.models import Event

logger = logging.getLogger(__name__)
DISPATCH_TASK = "logs.tasks.dispatch_events"
KICK_KEY = "events:dispatch-kick"


def emit(
    name: str,
    payload: Mapping[str, Any],
    *,
    character_id: uuid.UUID | str | None = None,
) -> Event:
    """Write one event in the caller's transaction; kick the dispatcher after
    commit. The payload is JSON (ids as strings)."""
    _known(name)
    event = Event.objects.create(
        name=name, character_id=character_id, payload=dict(payload)
    )
    kick_after_commit()
    return event


def emit_many(
    name: str, items: Iterable[tuple[uuid.UUID | str | None, Mapping[str, Any]]]
) -> int:
    """Write one event per (character id, payload) in one INSERT."""
    _known(name)
    rows = [
        Event(name=name, character_id=character_id, payload=dict(payload))
        for character_id, payload in items
    ]
    if rows:
        Event.objects.bulk_create(rows)
        kick_after_commit()
    return len(rows)


def emit_selected(name: str, select: str, params: Mapping[str, Any]) -> int:
    """Write one event per row of `select` (its columns: character id, payload
    as jsonb) in one INSERT ... SELECT, on the caller's connection and in its
    transaction: the rows never travel to Python and back. The number written."""
    _known(name)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Event._meta.db_table} (name, character_id, payload) "
            f"SELECT %(event_name)s, selected.* FROM ({select}) AS selected",
            {**params, "event_name": name},
        )
        written = cursor.rowcount
    if written:
        kick_after_commit()
    return written


def _known(name: str) -> None:
    if name not in NAMES:
        raise ValueError(f"Unknown event {name!r}; known: {', '.join(NAMES)}.")


def kick_after_commit() -> None:
    """Kick the dispatcher when the current transaction commits (once per
    transaction however many events it wrote; at once in autocommit)."""
    pending = getattr(connection, "run_on_commit", ())
    if any(func is kick for _savepoints, func, _robust in pending):
        return
    transaction.on_commit(kick, robust=True)


# This process sent a delayed kick that runs at this (monotonic) time: an
# event committed before then is covered without asking Redis.
_covered_until = 0.0
_lock = threading.Lock()


def kick() -> str | None:
    """Send the dispatch task by name: at once if no kick went out in the
    last EVENTS_KICK_INTERVAL_MS, else one delayed kick per interval (so an
    event committed just after a run finished waits about a second, not for
    beat). Returns "now", "later" or None (covered by a kick already sent)."""
    global _covered_until
    with _lock:
        covered = _covered_until
    when, covered = _send_throttled(
        DISPATCH_TASK, KICK_KEY, settings.EVENTS_KICK_INTERVAL_MS, covered
    )
    with _lock:
        _covered_until = max(_covered_until, covered)
    return when


# The same throttle for other queues that commits feed (webhook deliveries,
# e-mail notifications): per task name, its own Redis key.
_task_covered: dict[str, float] = {}


def kick_task(task: str) -> str | None:
    """Send `task` by name, throttled like `kick` (EVENTS_KICK_INTERVAL_MS)."""
    with _lock:
        covered = _task_covered.get(task, 0.0)
    when, covered = _send_throttled(
        task, f"kick:{task}", settings.EVENTS_KICK_INTERVAL_MS, covered
    )
    with _lock:
        _task_covered[task] = max(_task_covered.get(task, 0.0), covered)
    return when


@functools.cache
def _task_kicker(task: str) -> Callable[[], str | None]:
    # one callable per task, so that a transaction registers it once
    return functools.partial(kick_task, task)


def kick_task_after_commit(task: str) -> None:
    """Kick `task` when the current transaction commits (once per
    transaction; at once in autocommit)."""
    callback = _task_kicker(task)
    pending = getattr(connection, "run_on_commit", ())
    if any(func is callback for _savepoints, func, _robust in pending):
        return
    transaction.on_commit(callback, robust=True)


def _send_throttled(
    task: str, key: str, interval: int, covered_until: float
) -> tuple[str | None, float]:
    """Send the task now, later (one delayed send per interval) or not at all
    (covered). Returns what happened and until when this process is covered."""
    if time.monotonic() < covered_until:
        return None, covered_until
    try:
        client = _redis()
        if client.set(key, "1", nx=True, px=interval):
            when = "now"
        elif client.set(f"{key}:later", "1", nx=True, px=interval):
            when = "later"
        else:
            return None, covered_until
    except redis.RedisError as exc:
        # fail open: one more run is harmless, a missed one waits for beat
        logger.warning("kick throttle unavailable (%s); kicking %s anyway", exc, task)
        when = "now"
    delay = interval / 1000 if when == "later" else None
    try:
        # retry=False: a broker that is down must not hold the caller up;
        # beat's run picks the work up
        celery_app.send_task(task, countdown=delay, retry=False)
    except Exception as exc:  # noqa: BLE001 - the broker is down: beat catches up
        logger.warning("could not kick %s: %s", task, exc)
        return None, covered_until
    if delay:
        # a little early: the delayed run must start after the commit
        covered_until = max(covered_until, time.monotonic() + delay - 0.1)
    return when, covered_until


@functools.cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)


def _redis() -> redis.Redis:
    return _client(settings.REDIS_URL)
