"""Set-based state transitions shared by the admin's actions and the API's.

A transition is one conditional UPDATE over a queryset: rows whose current
state allows it change, the others are left alone, and the count comes back.
An admin action passes the selected rows; an API action passes one row and
answers 409 when the count is 0.
"""

from collections.abc import Callable, Iterable
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from logs.models import SystemLog
from logs.services import actor_metadata


def transition(
    *,
    queryset: QuerySet[Any],
    allowed_from: Iterable[str | bool],
    changes: dict[str, Any],
    field: str = "status",
    actor: Any = None,
    component: str,
    message: str,
    audit: bool = True,
    after: Callable[[list[tuple[Any, Any]]], object] | None = None,
) -> int:
    """UPDATE the rows of `queryset` whose `field` is in `allowed_from`.

    Writes one audit row per changed row (one bulk INSERT) when `audit`.
    `after(pairs)` is called in the same transaction with the changed rows'
    (pk, character_id) pairs (audited transitions only).
    """
    with transaction.atomic():
        qs = queryset.filter(**{f"{field}__in": list(allowed_from)})
        ids = list(qs.select_for_update().values_list("pk", flat=True)) if audit else []
        if audit:
            changed = queryset.model._base_manager.filter(pk__in=ids).update(**changes)
        else:
            changed = qs.update(**changes)
        if audit and changed:
            model = queryset.model
            has_character = any(f.name == "character" for f in model._meta.fields)
            who = actor_metadata(actor)
            rows = model._base_manager.filter(pk__in=ids)
            pairs = list(
                rows.values_list("pk", "character_id")
                if has_character
                else ((pk, None) for pk in ids)
            )
            SystemLog.objects.bulk_create(
                SystemLog(
                    log_level=SystemLog.Level.INFO,
                    component=component,
                    message=message,
                    character_id=character_id,
                    metadata={
                        "by": who,
                        "model": model._meta.label,
                        "object_id": str(pk),
                    },
                )
                for pk, character_id in pairs
            )
            if after is not None:
                after(pairs)
        return changed


def require_one(count: int, message: str) -> None:
    """For single-row callers (the API): 0 rows changed means not allowed."""
    from config.exceptions import InvalidTransition

    if count != 1:
        raise InvalidTransition(message)
