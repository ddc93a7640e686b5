"""Log retention and the stuck-work detector (beat tasks in logs/tasks.py)."""

from __future__ import annotations

import datetime as dt
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Count, Min, Q
from django.utils import timezone

from content.models import ContentGeneration
from logs.services import system_log_write
from platforms.models import EngagementAction, ScheduledPost
from platforms.modes import assisted_platforms
from platforms.selectors import UNKNOWN_OUTCOME

logger = logging.getLogger(__name__)
STUCK_CACHE_KEY = "engine:stuck-work"


def purge_old_logs(*, days: int | None = None, now: dt.datetime | None = None) -> int:
    """Drop the months of system_logs older than `days` (SYSTEM_LOG_RETENTION_DAYS).

    system_logs is partitioned by month (config/ops/partitions.py): a month whose
    last day has passed the cutoff is detached and dropped whole, instead of
    deleting its rows in batches (no dead rows, no vacuum, no WAL per row).
    Rows stay up to a month longer than `days`. Returns the rows removed.
    """
    from config.ops.partitions import SYSTEM_LOGS, drop_months_before

    days = settings.SYSTEM_LOG_RETENTION_DAYS if days is None else days
    if days < 1:
        raise ValueError("Log retention must be at least one day.")
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    return sum(d.rows for d in drop_months_before(SYSTEM_LOGS, cutoff))


PURGE_EVENTS = """
DELETE FROM events WHERE id IN (
    SELECT id FROM events WHERE status = 'done' AND created_at < %s
    ORDER BY created_at LIMIT %s
)
"""


def purge_done_events(
    *, days: int | None = None, batch: int = 10_000, time_budget: float = 600.0
) -> int:
    """Delete dispatched events older than `days` (EVENT_RETENTION_DAYS) in
    batches through idx_events_created; pending and failed ones stay."""
    days = settings.EVENT_RETENTION_DAYS if days is None else days
    if days < 1:
        raise ValueError("Event retention must be at least one day.")
    cutoff = timezone.now() - dt.timedelta(days=days)
    deadline = time.monotonic() + time_budget
    total = 0
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(PURGE_EVENTS, [cutoff, batch])
            deleted = cursor.rowcount
        total += deleted
        if deleted < batch:
            break
    return total


def detect_stuck_work(*, now: dt.datetime | None = None) -> dict:
    """Flag work that should have moved and did not.

    - scheduled posts due for more than STUCK_POST_MINUTES and not published
      (those waiting on an account say why in their error_message; those
      waiting out a retry's backoff are not counted);
    - posts, generations and engagement actions in 'processing' whose lease
      ran out (a worker died; the next run takes them again);
    - generations processing for longer than their lease;
    - posts and engagement actions a person does by hand (platforms without an
      adapter) still waiting ASSISTED_OVERDUE_MINUTES after their time;
    - failed posts whose outcome is unknown (a person looks for each on its
      platform: the "To post by hand" page).
    The result is cached for the admin dashboard; when anything is stuck one
    warning row goes to system_logs.
    """
    now = now or timezone.now()
    overdue_since = now - dt.timedelta(minutes=settings.STUCK_POST_MINUTES)
    SP, GS = ScheduledPost.Status, ContentGeneration.Status
    # posts of platforms without an adapter wait for a person, not for the
    # engine: they are overdue later, and counted apart; a post waiting out a
    # retry's backoff ("not before" ahead) is not stuck
    assisted = assisted_platforms()
    engine_overdue = (
        ScheduledPost.objects.filter(
            status=SP.SCHEDULED, scheduled_at__lt=overdue_since
        )
        .exclude(locked_until__gt=now)
        .exclude(platform_account__platform__in=assisted)
    )
    overdue = engine_overdue.aggregate(count=Count("pk"), oldest=Min("scheduled_at"))
    overdue_sample = list(
        engine_overdue.order_by("scheduled_at").values_list("pk", flat=True)[:5]
    )
    by_hand_since = now - dt.timedelta(minutes=settings.ASSISTED_OVERDUE_MINUTES)
    assisted_posts = ScheduledPost.objects.filter(
        status=SP.SCHEDULED,
        scheduled_at__lt=by_hand_since,
        platform_account__platform__in=assisted,
    ).count()
    assisted_engagement = EngagementAction.objects.filter(
        status=EngagementAction.Status.PENDING,
        created_at__lt=by_hand_since,
        platform__in=assisted,
    ).count()
    expired_posts = ScheduledPost.objects.filter(
        status=SP.PROCESSING, locked_until__lt=now
    ).count()
    # sent, and nobody can tell whether they arrived: each waits for a person
    unknown_outcome = ScheduledPost.objects.filter(UNKNOWN_OUTCOME).count()
    slow_since = now - dt.timedelta(seconds=settings.GENERATION_LEASE_SECONDS)
    stuck_generations = list(
        ContentGeneration.objects.filter(status=GS.PROCESSING)
        .filter(Q(locked_until__lt=now) | Q(started_at__lt=slow_since))
        .order_by("started_at")
        .values_list("pk", flat=True)[:1000]
    )
    expired_engagement = EngagementAction.objects.filter(
        status=EngagementAction.Status.PROCESSING, locked_until__lt=now
    ).count()
    result = {
        "checked_at": now.isoformat(),
        "overdue_posts": overdue["count"],
        "oldest_overdue": overdue["oldest"].isoformat() if overdue["oldest"] else None,
        "expired_post_leases": expired_posts,
        "stuck_generations": len(stuck_generations),
        "expired_engagement_leases": expired_engagement,
        "overdue_assisted_posts": assisted_posts,
        "overdue_assisted_engagement": assisted_engagement,
        "unknown_outcome_posts": unknown_outcome,
    }
    cache.set(STUCK_CACHE_KEY, result, timeout=None)
    stuck = {k: v for k, v in result.items() if isinstance(v, int) and v}
    if stuck:
        system_log_write(
            level="warning",
            component="engine.watchdog",
            message="Stuck work: "
            + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in stuck.items())
            + ".",
            metadata={
                **result,
                "overdue_post_ids": [str(pk) for pk in overdue_sample],
                "stuck_generation_ids": [str(pk) for pk in stuck_generations[:5]],
            },
        )
    return result


def stuck_work_summary() -> dict | None:
    """The detector's last result (for the dashboard), or None if it never ran."""
    return cache.get(STUCK_CACHE_KEY)
