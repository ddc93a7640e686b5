"""The audit trail's doors and readers (the event tables are in logs/models.py).

Every change to a tracked row is written by a PostgreSQL trigger; what the
application adds is the context copied into the row: which door the change
came through and who was behind it.

- admin / api / web: `AuditContextMiddleware` (the user, also when DRF
  authenticates a token after the middleware ran; the method and path);
- command: manage.py wraps every command (`command_context`), with the command
  name and the operating-system user;
- task: Celery's task_prerun/postrun (`connect`), with the task's name and id,
  and the user whose request queued it (a message header) when there was one;
- sql: a change made outside the application has no context; the event row
  still says which database role, client program and address made it.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import threading
from typing import Any

import pghistory
from django.db import connection

# --- doors ------------------------------------------------------------------------

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def _user_metadata(user) -> dict:
    if user is None or not getattr(user, "is_authenticated", False):
        return {"user_id": None, "username": None}
    return {"user_id": user.pk, "username": user.get_username()}


def _door_for(path: str) -> str:
    if path.startswith("/api/"):
        return "api"
    if path.startswith("/admin/"):
        return "admin"
    return "web"


class _AuditedRequest:
    """Updates the audit context when the user is set later (DRF's token auth)."""

    def __setattr__(self, name, value):
        if name == "user":
            pghistory.context(**_user_metadata(value))
        super().__setattr__(name, value)


_request_classes: dict[type, type] = {}


def _audited_class(cls: type) -> type:
    if cls not in _request_classes:
        _request_classes[cls] = type(
            f"Audited{cls.__name__}", (_AuditedRequest, cls), {}
        )
    return _request_classes[cls]


class AuditContextMiddleware:
    """Opens the audit context of a request that may write (after authentication)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method not in WRITE_METHODS:
            return self.get_response(request)
        metadata = {
            "door": _door_for(request.path),
            **_user_metadata(getattr(request, "user", None)),
            "request": f"{request.method} {request.path}"[:300],
        }
        with pghistory.context(**metadata):
            request.__class__ = _audited_class(request.__class__)
            return self.get_response(request)


def command_context(argv: list[str]):
    """The context of one manage.py run (the door for commands and the shell)."""
    try:
        os_user = getpass.getuser()
    except (KeyError, OSError):
        os_user = str(os.getuid()) if hasattr(os, "getuid") else "?"
    name = argv[1] if len(argv) > 1 else "help"
    return pghistory.context(
        door="command", command=name, os_user=os_user, user_id=None, username=None
    )


_task_contexts: dict[str, pghistory.context] = {}
_task_lock = threading.Lock()
ACTOR_HEADER = "audit_actor"


def on_before_publish(headers=None, **kwargs) -> None:
    """A task queued inside an audited request carries who queued it."""
    from pghistory.runtime import _tracker

    current = getattr(_tracker, "value", None)
    if headers is not None and current is not None:
        meta = current.metadata
        headers[ACTOR_HEADER] = {
            "door": meta.get("door"),
            "user_id": meta.get("user_id"),
            "username": meta.get("username"),
        }


def on_task_prerun(task_id=None, task=None, **kwargs) -> None:
    from pghistory.runtime import _tracker

    queued_by = getattr(task.request, ACTOR_HEADER, None) if task else None
    metadata = {
        "task": getattr(task, "name", None),
        "task_id": task_id,
        **({"queued_by": queued_by} if queued_by else {}),
    }
    if getattr(_tracker, "value", None) is not None:
        # run eagerly inside a request or a command: that door stays
        pghistory.context(**metadata)
        return
    ctx = pghistory.context(door="task", user_id=None, username=None, **metadata)
    ctx.__enter__()
    with _task_lock:
        _task_contexts[task_id] = ctx


def on_task_postrun(task_id=None, **kwargs) -> None:
    with _task_lock:
        ctx = _task_contexts.pop(task_id, None)
    if ctx is not None:
        ctx.__exit__(None, None, None)


def current_metadata() -> dict | None:
    """This thread's audit context (door, user, task), to carry into the
    threads the work spreads over (`carried`); None outside any context."""
    from pghistory.runtime import _tracker

    current = getattr(_tracker, "value", None)
    return dict(current.metadata) if current is not None else None


def carried(metadata: dict | None):
    """Enter, in another thread, the audit context `current_metadata` read:
    its changes are recorded as coming through the same door."""
    if metadata is None:
        return contextlib.nullcontext()
    return pghistory.context(**metadata)


def connect() -> None:
    from celery import signals

    signals.before_task_publish.connect(on_before_publish, weak=False)
    signals.task_prerun.connect(on_task_prerun, weak=False)
    signals.task_postrun.connect(on_task_postrun, weak=False)


# --- reading --------------------------------------------------------------------------


def event_models() -> dict[str, Any]:
    """{tracked model label (app.model, lower case): its event model}."""
    from logs import models as log_models

    found: dict[str, Any] = {}
    for m in vars(log_models).values():
        if (
            isinstance(m, type)
            and issubclass(m, log_models.AuditEvent)
            and not m._meta.abstract
        ):
            tracked: Any = m.pgh_tracked_model
            found[tracked._meta.label_lower] = m
    return found


def event_model_for(model) -> Any:
    return event_models().get(model._meta.label_lower)


def door_of(event) -> str:
    context = event.pgh_context or {}
    return context.get("door") or ("sql" if not context else "unknown")


def actor_of(event) -> str:
    """A person-readable actor: the user, the command's OS user, the task, or
    the database session for plain SQL."""
    context = event.pgh_context or {}
    door = door_of(event)
    if context.get("username"):
        return context["username"]
    if door == "command":
        return (
            f"{context.get('os_user', '?')} (manage.py {context.get('command', '?')})"
        )
    if door == "task":
        queued = (context.get("queued_by") or {}).get("username")
        name = context.get("task", "?")
        return f"task {name}" + (f" (queued by {queued})" if queued else "")
    if door == "sql":
        return event.pgh_db_session
    return "anonymous"


def _snapshot(event) -> dict:
    names = {f.name for f in event.pgh_tracked_model._meta.concrete_fields}
    return {
        f.name: getattr(event, f.attname)
        for f in event._meta.concrete_fields
        if f.name in names
    }


def serialize(event, previous: dict | None = None) -> dict:
    snapshot = _snapshot(event)
    changes = (
        {
            k: [previous.get(k), v]
            for k, v in snapshot.items()
            if previous.get(k) != v and k != "updated_at"
        }
        if previous is not None
        else None
    )
    return {
        "id": event.pgh_id,
        "at": event.pgh_created_at,
        "label": event.pgh_label,
        "object_type": event.pgh_tracked_model._meta.label_lower,
        "object_id": event.pgh_obj_id,
        "door": door_of(event),
        "actor": actor_of(event),
        "context": event.pgh_context,
        "context_id": event.pgh_context_id,
        "db_session": event.pgh_db_session,
        "changes": changes,
        "data": snapshot,
    }


def object_history(obj, *, limit: int = 200) -> list[dict]:
    """The audit events of one row, newest first, each with what it changed."""
    model = event_model_for(type(obj))
    if model is None:
        return []
    events = list(model.objects.filter(pgh_obj_id=obj.pk).order_by("pgh_id")[:limit])
    rows, previous = [], None
    for event in events:
        rows.append(serialize(event, previous))
        previous = rows[-1]["data"]
    return rows[::-1]


# --- retention ------------------------------------------------------------------------


def purge_old_audit_events(*, days: int | None = None, batch: int = 10_000) -> int:
    """Delete audit events older than AUDIT_RETENTION_DAYS (0: keep forever)."""
    import datetime as dt

    from django.conf import settings
    from django.utils import timezone

    days = settings.AUDIT_RETENTION_DAYS if days is None else days
    if not days:
        return 0
    if days < 0:
        raise ValueError("Audit retention cannot be negative.")
    cutoff = timezone.now() - dt.timedelta(days=days)
    total = 0
    for model in event_models().values():
        table = model._meta.db_table
        while True:
            with connection.cursor() as cursor:
                cursor.execute(
                    f'DELETE FROM "{table}" WHERE pgh_id IN (SELECT pgh_id FROM '  # noqa: S608
                    f'"{table}" WHERE pgh_created_at < %s ORDER BY pgh_id LIMIT %s)',
                    [cutoff, batch],
                )
                deleted = cursor.rowcount
            total += deleted
            if deleted < batch:
                break
    return total


# --- the triggers' cost -----------------------------------------------------------

# pgtrigger runs this check first in every trigger (to honour pgtrigger.ignore).
# Its own version reads the setting inside BEGIN ... EXCEPTION: one
# subtransaction per row changed, and an exception raised and rolled back
# whenever the setting is unset (always, here). Measured: 20,000 inserted
# scheduled posts took 31 s with it, against 1.9 s without the audit trigger.
# This version reads the setting with missing_ok and needs no exception block.
# Every migration that installs a trigger writes pgtrigger's version again, so
# it is put back after every migrate (post_migrate, connected in LogsConfig).
FAST_IGNORE_CHECK = """
CREATE OR REPLACE FUNCTION "public"._pgtrigger_should_ignore(trigger_name NAME)
RETURNS BOOLEAN AS $$
    SELECT COALESCE(
        trigger_name = ANY(
            NULLIF(current_setting('pgtrigger.ignore', true), '')::TEXT[]
        ),
        FALSE
    );
$$ LANGUAGE sql STABLE;
"""


def install_fast_ignore_check(using: str = "default", **kwargs) -> None:
    from django.db import connections

    with connections[using].cursor() as cursor:
        cursor.execute(FAST_IGNORE_CHECK)
