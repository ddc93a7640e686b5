"""Celery entry points for the content generation queue (beat: every minute)."""

from celery import shared_task
from django.conf import settings

# A job starts only when the backend's timeout fits in what is left of it.
BUDGET = settings.SD_WEBUI_TIMEOUT + 60.0


@shared_task(
    name="content.tasks.process_generation_queue",
    acks_late=True,  # idempotent: claims are SKIP LOCKED with a lease
    soft_time_limit=BUDGET + 30,
    time_limit=BUDGET + 40,
)
def process_generation_queue() -> dict:
    from content.generation import process_generation_queue as run

    # one job per claim: a slow backend never sits on leases of jobs it has
    # not started
    return {"rows": run(batch=1, time_budget=BUDGET)}
