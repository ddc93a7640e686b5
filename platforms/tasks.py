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
