"""Celery entry points for the content generation queue (beat: every minute)."""

from celery import shared_task
from django.conf import settings


@shared_task(
    name="content.tasks.process_generation_queue",
    acks_late=True,  # idempotent: claims are SKIP LOCKED with a lease
    soft_time_limit=settings.SD_WEBUI_TIMEOUT + 120,
    time_limit=settings.SD_WEBUI_TIMEOUT + 150,
)
def process_generation_queue() -> dict:
    from content.generation import process_generation_queue as run

    # one job per claim: a slow backend never sits on leases of jobs it has
    # not started; the budget stops new claims, a started job runs to its end
    return {"rows": run(batch=1, time_budget=45.0)}
