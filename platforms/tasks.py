"""Celery entry points for the publishing and engagement queues (beat: every minute).

Each run drains its queue within QUEUE_TASK_BUDGET seconds; the soft time
limit leaves room for the last call to finish and be recorded, so it never
fires in normal operation (if it does, what was not done is given back, see
config/workqueue.py). Runs overlap harmlessly: claims are SKIP LOCKED.
"""

from celery import shared_task
from django.conf import settings

BUDGET = settings.QUEUE_TASK_BUDGET


@shared_task(
    name="platforms.tasks.publish_due_posts",
    acks_late=True,  # idempotent: claims are SKIP LOCKED with a lease
    soft_time_limit=BUDGET + 15,
    time_limit=BUDGET + 20,
)
def publish_due_posts() -> dict:
    from platforms.publishing import drain_publishing

    outcomes = drain_publishing(time_budget=BUDGET)
    return {"rows": outcomes["published"], "outcomes": dict(outcomes)}


@shared_task(
    name="platforms.tasks.process_engagement_queue",
    acks_late=True,
    soft_time_limit=BUDGET + 15,
    time_limit=BUDGET + 20,
)
def process_engagement_queue() -> dict:
    from platforms.engagement import process_engagement_queue as run

    return {"rows": run(time_budget=BUDGET)}


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


@shared_task(
    name="platforms.tasks.fold_post_metrics",
    acks_late=True,  # idempotent: copies numbers that differ, chunk by chunk
    soft_time_limit=1200,
    time_limit=1260,
)
def fold_post_metrics() -> dict:
    from platforms.sync import post_metrics_fold

    return {"rows": post_metrics_fold()}


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
