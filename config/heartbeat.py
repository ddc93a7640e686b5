"""Heartbeats of beat and the workers, kept in the Redis cache for the dashboard.

- beat (or anyone) sending a task: `sent_at` (the beat tick that queued it);
- a worker running a task: `started_at`, then `finished_at`, `duration_ms`,
  `rows` (the task's {"rows": n} result), `state` and, on failure, `error`.

Connected to Celery's signals in config/celery.py, so every process that
loads the Celery app reports. One cache key per task name; writes never fail
the task (a broken cache only loses the heartbeat).
"""

from __future__ import annotations

import logging
import time

from django.core.cache import cache
from django.utils import timezone

from logs.scrub import scrub_text

logger = logging.getLogger(__name__)
PREFIX = "heartbeat:"
_started: dict[str, float] = {}


def key(task: str) -> str:
    return f"{PREFIX}{task}"


def beat(task: str, **fields) -> None:
    try:
        current = cache.get(key(task)) or {}
        current.update(fields)
        cache.set(key(task), current, timeout=None)
    except Exception:  # noqa: BLE001 - a heartbeat must never fail a task
        logger.debug("heartbeat for %s not recorded", task, exc_info=True)


# When `setup_periodic_tasks` last wrote the schedule (a pseudo task's beat).
INSTALLED = "setup_periodic_tasks"


def mark_installed() -> None:
    beat(INSTALLED, finished_at=timezone.now().isoformat())


def read(tasks: list[str]) -> dict[str, dict] | None:
    """The tasks' heartbeats, or None when Redis cannot tell (the dashboard
    then shows the engine as "unknown", not as "never ran")."""
    from config.cache import strict

    try:
        with strict():
            found = cache.get_many([key(t) for t in tasks])
    except Exception:  # noqa: BLE001 - the dashboard shows "unknown" instead
        return None
    return {k.removeprefix(PREFIX): v for k, v in found.items()}


def on_publish(sender=None, headers=None, **kwargs) -> None:
    task = sender or (headers or {}).get("task")
    if task:
        beat(task, sent_at=timezone.now().isoformat())


def on_prerun(task_id=None, task=None, **kwargs) -> None:
    _started[task_id] = time.monotonic()
    beat(task.name, started_at=timezone.now().isoformat(), state="running")


def on_postrun(task_id=None, task=None, retval=None, state=None, **kwargs) -> None:
    began = _started.pop(task_id, None)
    fields = {
        "finished_at": timezone.now().isoformat(),
        "state": (state or "").lower() or "done",
    }
    if began is not None:
        fields["duration_ms"] = round((time.monotonic() - began) * 1000)
    if isinstance(retval, dict) and isinstance(retval.get("rows"), int):
        fields["rows"] = retval["rows"]
    if state == "SUCCESS":
        fields["error"] = None
    beat(task.name, **fields)


def on_failure(sender=None, exception=None, **kwargs) -> None:
    if sender is not None:
        beat(
            sender.name,
            error=scrub_text(f"{type(exception).__name__}: {exception}")[:500],
            failed_at=timezone.now().isoformat(),
        )


def connect() -> None:
    from celery import signals

    signals.before_task_publish.connect(on_publish, weak=False)
    signals.task_prerun.connect(on_prerun, weak=False)
    signals.task_postrun.connect(on_postrun, weak=False)
    signals.task_failure.connect(on_failure, weak=False)
