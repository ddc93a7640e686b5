"""Celery entry points: log retention (daily), the stuck-work detector, the
event dispatcher, the webhook sender and the e-mail notifications (kicked
after commits, and by beat)."""

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
    from logs.notifications import purge_old_notifications
    from logs.webhooks import purge_old_deliveries

    return {
        "rows": run(),
        "events": purge_done_events(),
        "webhook_deliveries": purge_old_deliveries(),
        "notifications": purge_old_notifications(),
    }


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


@shared_task(
    name="logs.tasks.deliver_webhooks",
    acks_late=True,  # idempotent: claims are SKIP LOCKED with a lease
    soft_time_limit=settings.WEBHOOK_BUDGET + 15,
    time_limit=settings.WEBHOOK_BUDGET + 20,
)
def deliver_webhooks() -> dict:
    from logs.webhooks import deliver_webhooks as run

    outcomes = run()
    return {"rows": outcomes["delivered"], "outcomes": dict(outcomes)}


@shared_task(
    name="logs.tasks.send_notifications",
    soft_time_limit=120,
    time_limit=150,
)
def send_notifications() -> dict:
    from logs.notifications import send_notifications as run

    outcomes = run()
    return {"rows": outcomes["sent"], "outcomes": dict(outcomes)}


@shared_task(
    name="logs.tasks.send_notification_digests",
    soft_time_limit=600,
    time_limit=660,
)
def send_notification_digests() -> dict:
    from logs.notifications import send_digests as run

    outcomes = run()
    return {"rows": outcomes["sent"], "outcomes": dict(outcomes)}
