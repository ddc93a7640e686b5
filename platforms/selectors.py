"""Reads on the publishing queue and posts."""

from django.utils import timezone

from platforms.models import ScheduledPost


def due_scheduled_posts(*, now=None, limit: int = 100):
    """The document's query pattern 2: scheduled posts whose time has come.

    Served by the partial index idx_sched_posts_scheduled_at (WHERE status =
    'scheduled'), oldest first.
    """
    now = now or timezone.now()
    return ScheduledPost.objects.filter(
        status=ScheduledPost.Status.SCHEDULED, scheduled_at__lte=now
    ).order_by("scheduled_at")[:limit]
