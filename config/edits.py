"""An edit of one row (an admin change form, an API PATCH or PUT) writes only
what the editor changed, and only while the row is still in the state the
editor saw.

Django's plain `save()` writes every column as it was read. A caption edit
that read a scheduled post just before the engine claimed it would write back
`status='scheduled'` and the claim's lease and attempt journal as they were:
the post would be taken and sent again. Here the editor's copy is compared
with a snapshot taken when the row was read, the row is locked (FOR UPDATE)
and its guarded fields (`status` where the model has one) are checked
against the snapshot, and the UPDATE names the changed columns only: what the
engine, a sync or another editor wrote meanwhile to other columns stays.
"""

from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db import models, transaction

from config.exceptions import EditConflict

Snapshot = dict[str, Any]


class RowDeleted(ObjectDoesNotExist):
    """The row being edited was deleted meanwhile."""


def snapshot(instance: models.Model) -> Snapshot:
    """The loaded values of `instance`'s columns (deferred ones are left out:
    reading them here would load them)."""
    loaded = instance.__dict__
    return copy.deepcopy(
        {
            f.attname: loaded[f.attname]
            for f in instance._meta.concrete_fields
            if f.attname in loaded
        }
    )


def changed_fields(instance: models.Model, before: Snapshot) -> list[str]:
    """The names of the columns whose value differs from `before`."""
    loaded = instance.__dict__
    return [
        f.name
        for f in instance._meta.concrete_fields
        if not f.primary_key
        and f.attname in loaded
        and (f.attname not in before or loaded[f.attname] != before[f.attname])
    ]


# What another writer may move under an editor: the row's state, on the
# models that have one (the snapshot holds it by its column's name).
GUARDED = ("status",)


def conflict(instance: models.Model, before: Snapshot) -> str | None:
    """Lock the row and say how its state moved since `before` was taken (None:
    it did not). Call it inside the transaction that saves the edit."""
    model = type(instance)
    guard = [name for name in GUARDED if name in before]
    if not guard:
        return None
    row = next(
        iter(
            model._base_manager.select_for_update()
            .filter(pk=instance.pk)
            .values(*guard)
            .order_by()
        ),
        None,
    )
    if row is None:
        raise RowDeleted(f"This {model._meta.verbose_name} was deleted meanwhile.")
    moved = [name for name in guard if row[name] != before[name]]
    if not moved:
        return None
    now = ", ".join(f"{name} {row[name]}" for name in moved)
    return (
        f"This {model._meta.verbose_name} changed while you edited it (now: "
        f"{now}); nothing was saved. Reload it and make your change again."
    )


def edit_refusal(instance: models.Model) -> str | None:
    """Why this row cannot be edited at all (None: it can): a queue row a
    worker holds or has finished, or a post that went out, is a record (the
    model's RECORD_STATUSES)."""
    records: dict[str, str] = getattr(type(instance), "RECORD_STATUSES", {})
    words = records.get(getattr(instance, "status", None) or "")
    if words is None:
        return None
    return (
        f"This {instance._meta.verbose_name} is {words}: it is a record of what "
        "was done and cannot be edited."
    )


def save_edit(instance: models.Model, before: Snapshot) -> list[str]:
    """Save the columns of `instance` that differ from `before`, refused with
    EditConflict when the row's state moved meanwhile; the names saved."""
    fields = changed_fields(instance, before)
    with transaction.atomic():
        problem = conflict(instance, before)
        if problem:
            raise EditConflict(problem)
        if fields:
            # auto_now columns (updated_at) are stamped by save() only when named
            stamped = [
                f.name
                for f in instance._meta.concrete_fields
                if getattr(f, "auto_now", False) and f.name not in fields
            ]
            instance.save(update_fields=[*fields, *stamped])
    return fields
