"""Celery entry points for the publishing and engagement queues (beat: every minute)."""

from celery import shared_task


@shared_task(
    name="platforms.tasks.publish_due_posts",
    acks_late=True,  # idempotent: claims are SKIP LOCKED with a lease
    soft_time_limit=55,
    time_limit=58,
)
def publish_due_posts() -> dict:
    from platforms.publishing import publish_due_posts as run

    return {"rows": run(time_budget=45.0)}


@shared_task(
    name="platforms.tasks.process_engagement_queue",
    acks_late=True,
    soft_time_limit=55,
    time_limit=58,
)
def process_engagement_queue() -> dict:
    from platforms.engagement import process_engagement_queue as run

    return {"rows": run(time_budget=45.0)}


@shared_task(
    name="platforms.tasks.sync_platform_metrics",
    acks_late=True,  # idempotent: accounts are claimed with a lease
    soft_time_limit=290,
    time_limit=300,
)
def sync_platform_metrics() -> dict:
    from platforms.sync import sync_platform_metrics as run

    result = run(time_budget=240.0)
    return {"rows": result["accounts"], **result}
