"""Celery entry points for the content queues (beat: every minute)."""

from celery import shared_task
from django.conf import settings

# A job starts only when the backend's timeout fits in what is left of it.
BUDGET = max(settings.SD_WEBUI_TIMEOUT, settings.COMFYUI_TIMEOUT) + 60.0
TEXT_BUDGET = settings.QUEUE_TASK_BUDGET


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


@shared_task(
    name="content.tasks.process_text_queue",
    acks_late=True,  # idempotent: claims are SKIP LOCKED with a lease
    soft_time_limit=TEXT_BUDGET + 15,
    time_limit=TEXT_BUDGET + 20,
)
def process_text_queue() -> dict:
    from content.textgen import process_text_queue as run

    outcomes = run(time_budget=TEXT_BUDGET)
    return {
        "rows": outcomes["completed"] + outcomes["held"],
        "outcomes": dict(outcomes),
    }
