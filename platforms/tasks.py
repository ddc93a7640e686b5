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
    name="platforms.tasks.refresh_platform_tokens",
    acks_late=True,  # idempotent: each account is refreshed under a row lock
    soft_time_limit=240,
    time_limit=270,
)
def refresh_platform_tokens() -> dict:
    from platforms.services import platform_accounts_refresh_tokens as run

    outcomes = run(time_budget=200.0)
    return {"rows": outcomes["refreshed"], **outcomes}
