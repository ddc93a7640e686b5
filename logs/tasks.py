"""Celery entry points: log retention (daily), the stuck-work detector and
the event dispatcher (kicked after commits, and every minute by beat)."""

from celery import shared_task
from django.conf import settings


@shared_task(
    name="logs.tasks.purge_old_logs",
    acks_late=True,  # idempotent: dropping what is old
    soft_time_limit=600,
    time_limit=660,
)
def purge_old_logs() -> dict:
    from logs.maintenance import purge_done_events
    from logs.maintenance import purge_old_logs as run

    return {"rows": run(), "events": purge_done_events()}


@shared_task(
    name="logs.tasks.detect_stuck_work",
    acks_late=True,
    soft_time_limit=120,
    time_limit=150,
)
def detect_stuck_work() -> dict:
    from logs.maintenance import detect_stuck_work as run

    result = run()
    return {"rows": sum(v for v in result.values() if isinstance(v, int))}


@shared_task(
    name="logs.tasks.purge_old_audit_events",
    acks_late=True,  # idempotent: deleting what is old
    soft_time_limit=1700,
    time_limit=1800,
)
def purge_old_audit_events() -> dict:
    from logs.audit import purge_old_audit_events as run

    return {"rows": run()}


@shared_task(
    name="logs.tasks.dispatch_events",
    acks_late=True,  # idempotent: claims are SKIP LOCKED with a lease
    soft_time_limit=settings.EVENT_DISPATCH_BUDGET + 15,
    time_limit=settings.EVENT_DISPATCH_BUDGET + 20,
)
def dispatch_events() -> dict:
    from logs.outbox import dispatch_events as run

    outcomes = run()
    return {"rows": outcomes["done"], "outcomes": dict(outcomes)}
