"""Writes on automation rules from staff and the API.

Running a rule is the engine's job (task `automation.tasks.run_rule`); these
services only change state or enqueue that task after commit.
"""

import datetime as dt
import uuid
from dataclasses import dataclass, field
from functools import partial

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from automation.models import AutomationRule, AutomationRun
from automation.rules import RUN_RULE_TASK
from config.celery import app as celery_app
from config.transitions import transition
from logs.services import Actor, actor_user

COMPONENT = "automation_service"


def automation_rules_enable(
    *, queryset: QuerySet[AutomationRule], actor: Actor = None
) -> int:
    return transition(
        queryset=queryset,
        field="is_enabled",
        allowed_from=[False],
        # NULL: the dispatcher computes the next run from now (no catch-up
        # run for the time the rule was off)
        changes={"is_enabled": True, "next_run_at": None},
        actor=actor,
        component=COMPONENT,
        message="Automation rule enabled",
    )


def automation_rules_disable(
    *, queryset: QuerySet[AutomationRule], actor: Actor = None
) -> int:
    return transition(
        queryset=queryset,
        field="is_enabled",
        allowed_from=[True],
        changes={"is_enabled": False},
        actor=actor,
        component=COMPONENT,
        message="Automation rule disabled",
    )


# A queued manual run whose task never started (a lost message, a dead
# worker) stops blocking "Run now" after this long.
MANUAL_RUN_STALE_AFTER = dt.timedelta(minutes=15)


@dataclass
class RunNow:
    """What "Run now" did: runs queued, and rules it left alone and why."""

    queued: list = field(default_factory=list)  # AutomationRun rows
    busy: list = field(default_factory=list)  # rule ids with a run queued already
    disabled: list = field(default_factory=list)  # rule ids

    def __len__(self) -> int:
        return len(self.queued)


def automation_rules_run_now(
    *, queryset: QuerySet[AutomationRule], actor: Actor = None
) -> RunNow:
    """Queue one manual run of each enabled rule, after the transaction commits.

    A rule with a manual run queued (or running) already is left alone: its
    run row is unique per rule while queued, so two concurrent requests
    cannot both queue one.
    """
    result = RunNow()
    now = timezone.now()
    with transaction.atomic():
        AutomationRun.objects.filter(
            trigger=AutomationRun.Trigger.MANUAL,
            status=AutomationRun.Status.QUEUED,
            created_at__lt=now - MANUAL_RUN_STALE_AFTER,
        ).update(
            status=AutomationRun.Status.ABANDONED,
            reason="Its task did not start within 15 minutes.",
            finished_at=now,
        )
        for rule_id, enabled in queryset.values_list("pk", "is_enabled"):
            if not enabled:
                result.disabled.append(rule_id)
                continue
            run = AutomationRun(
                rule_id=rule_id,
                trigger=AutomationRun.Trigger.MANUAL,
                key=f"manual:{uuid.uuid4()}",
                requested_by=actor_user(actor),
            )
            try:
                with transaction.atomic():
                    run.save(force_insert=True)
            except IntegrityError:
                result.busy.append(rule_id)
                continue
            result.queued.append(run)
            transaction.on_commit(
                partial(
                    celery_app.send_task,
                    RUN_RULE_TASK,
                    kwargs={
                        "rule_id": str(rule_id),
                        "trigger": "manual",
                        "run_id": str(run.pk),
                    },
                ),
                robust=True,
            )
    return result
