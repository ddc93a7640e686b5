"""Celery entry points of the automation engine (dispatch, runs)."""

import datetime as dt

from celery import shared_task


@shared_task(
    name="automation.tasks.dispatch_due_rules",
    acks_late=True,  # idempotent: claims are SKIP LOCKED, next_run_at moves on
    soft_time_limit=55,
    time_limit=58,
)
def dispatch_due_rules() -> dict:
    from automation.dispatch import dispatch_due_rules as run

    return {"rows": len(run())}


@shared_task(name="automation.tasks.run_rule", soft_time_limit=120, time_limit=150)
def run_rule(
    rule_id: str,
    trigger: str = "manual",
    scheduled_for: str | None = None,
    run_id: str | None = None,
) -> dict:
    from automation.runs import run_rule as run

    slot = dt.datetime.fromisoformat(scheduled_for) if scheduled_for else None
    result = run(rule_id, trigger=trigger, scheduled_for=slot, run_id=run_id)
    return {"rows": len(result.scheduled), "outcome": result.outcome}


@shared_task(name="automation.tasks.fire_event", soft_time_limit=30, time_limit=40)
def fire_event(event: str, character_id: str, **payload: object) -> dict:
    """A message queued before events went through the outbox (a deploy
    moment): written to the outbox, where the rules pick it up."""
    from logs.events import emit

    emit(event, payload, character_id=character_id)
    return {"rows": 1}
