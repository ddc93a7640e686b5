"""Writes on automation rules from staff and the API.

Running a rule is the engine's job (task `automation.tasks.run_rule`); these
services only change state or enqueue that task after commit.
"""

from functools import partial

from django.db import transaction

from config.celery import app as celery_app
from config.transitions import transition

COMPONENT = "automation_service"
RUN_RULE_TASK = "automation.tasks.run_rule"


def automation_rules_enable(*, queryset, actor=None) -> int:
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


def automation_rules_disable(*, queryset, actor=None) -> int:
    return transition(
        queryset=queryset,
        field="is_enabled",
        allowed_from=[True],
        changes={"is_enabled": False},
        actor=actor,
        component=COMPONENT,
        message="Automation rule disabled",
    )


def automation_rules_run_now(*, queryset, actor=None) -> int:
    """Queue one run of each enabled rule, after the transaction commits."""
    ids = [
        str(pk) for pk in queryset.filter(is_enabled=True).values_list("pk", flat=True)
    ]
    for rule_id in ids:
        transaction.on_commit(
            partial(
                celery_app.send_task,
                RUN_RULE_TASK,
                kwargs={"rule_id": rule_id, "trigger": "manual"},
            ),
            robust=True,
        )
    return len(ids)
