"""Which schedule rules are due, and queueing their runs.

No PeriodicTask per rule: `dispatch_due_rules` (beat, every minute) claims
the rules whose `next_run_at` has come with SKIP LOCKED through the partial
index idx_automation_rules_due, moves `next_run_at` on (automation.rules
computes it on the character's wall clock), and queues one `run_rule` per
due rule after commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from automation.models import AutomationRule
from automation.rules import RUN_RULE_TASK, next_run, validate_cron
from config.celery import app as celery_app
from logs.services import system_log_write

COMPONENT = "automation"
Enqueue = Callable[[str, str], None]


def due_q(now: dt.datetime) -> Q:
    # NULL: enabled again (or written by SQL): computed, not run, this tick
    return Q(is_enabled=True, trigger_type=AutomationRule.TriggerType.SCHEDULE) & (
        Q(next_run_at__lte=now) | Q(next_run_at__isnull=True)
    )


def dispatch_due_rules(
    *,
    now: dt.datetime | None = None,
    limit: int = 2000,
    enqueue: Enqueue | None = None,
) -> list[str]:
    """Claim due schedule rules, move their next_run_at on, queue their runs.

    Returns the ids of the rules queued. One indexed query finds them; one
    UPDATE moves them all on.
    """
    now = now or timezone.now()
    enqueue = enqueue or _enqueue_run
    with transaction.atomic():
        rules = list(
            AutomationRule.objects.filter(due_q(now))
            .order_by(F("next_run_at").asc(nulls_first=True))
            .select_related("character")
            .select_for_update(skip_locked=True, of=("self",))
            .only("id", "name", "trigger_config", "next_run_at", "character__timezone")[
                :limit
            ]
        )
        if not rules:
            return []
        moves, due, broken = [], [], []
        for rule in rules:
            try:
                expr = validate_cron((rule.trigger_config or {}).get("cron"))
            except ValidationError:
                broken.append(rule)
                continue
            moves.append(
                When(
                    pk=rule.pk, then=Value(next_run(expr, rule.character.timezone, now))
                )
            )
            if rule.next_run_at is not None:
                due.append(rule)
        if moves:
            AutomationRule.objects.filter(
                pk__in=[r.pk for r in rules if r not in broken]
            ).update(next_run_at=Case(*moves))
        if broken:
            _disable_broken(broken)
        for rule in due:
            slot = rule.next_run_at
            assert slot is not None  # only rules with a slot are due
            transaction.on_commit(
                partial(enqueue, str(rule.pk), slot.isoformat()), robust=True
            )
    return [str(r.pk) for r in due]


def _disable_broken(rules: list[AutomationRule]) -> None:
    AutomationRule.objects.filter(pk__in=[r.pk for r in rules]).update(
        is_enabled=False, next_run_at=None
    )
    for rule in rules:
        system_log_write(
            level="error",
            component=COMPONENT,
            message=f"Rule '{rule.name}' was disabled: its trigger_config has no "
            "valid cron expression.",
            character_id=rule.character_id,
            metadata={"automation_rule_id": str(rule.pk)},
        )


def _enqueue_run(rule_id: str, scheduled_for: str) -> None:
    celery_app.send_task(
        RUN_RULE_TASK,
        kwargs={
            "rule_id": rule_id,
            "trigger": "schedule",
            "scheduled_for": scheduled_for,
        },
    )
