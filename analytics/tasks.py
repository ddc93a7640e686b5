"""Celery entry point of the daily analytics snapshot (beat: 00:10 UTC)."""

from celery import shared_task


@shared_task(
    name="analytics.tasks.daily_snapshot",
    acks_late=True,  # idempotent: an upsert of the day
    soft_time_limit=1800,
    time_limit=1900,
)
def daily_snapshot(day: str | None = None) -> dict:
    """Closes the day that just ended (yesterday, UTC) unless told which."""
    import datetime as dt

    from django.utils import timezone

    from analytics.snapshot import daily_snapshot as run

    closing = (
        dt.date.fromisoformat(day)
        if day
        else timezone.now().date() - dt.timedelta(days=1)
    )
    return {"rows": run(closing)}
