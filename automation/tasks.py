"""Celery entry points of the automation engine (automation/engine.py)."""

import datetime as dt

from celery import shared_task


@shared_task(
    name="automation.tasks.dispatch_due_rules",
    acks_late=True,  # idempotent: claims are SKIP LOCKED, next_run_at moves on
    soft_time_limit=55,
    time_limit=58,
)
def dispatch_due_rules() -> dict:
    from automation.engine import dispatch_due_rules as run

    return {"rows": len(run())}


@shared_task(name="automation.tasks.run_rule", soft_time_limit=120, time_limit=150)
def run_rule(
    rule_id: str,
    trigger: str = "manual",
    scheduled_for: str | None = None,
    run_id: str | None = None,
):
    from automation.engine import run_rule as run

    slot = dt.datetime.fromisoformat(scheduled_for) if scheduled_for else None
    result = run(rule_id, trigger=trigger, scheduled_for=slot, run_id=run_id)
    return {"rows": len(result.scheduled), "outcome": result.outcome}


@shared_task(name="automation.tasks.fire_event", soft_time_limit=120, time_limit=150)
def fire_event(event: str, character_id: str, **payload) -> dict:
    from automation.engine import fire_event as run

    results = run(event, character_id, **payload)
    return {"rows": sum(len(r.scheduled) for r in results)}
