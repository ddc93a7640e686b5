"""Reads on the publishing queue and posts."""

import datetime as dt

from django.utils import timezone

from platforms.models import (
    EngagementAction,
    Platform,
    PlatformAccount,
    Post,
    ScheduledPost,
)


def due_scheduled_posts(*, now=None, limit: int = 100):
    """The document's query pattern 2: scheduled posts whose time has come.

    Served by the partial index idx_sched_posts_scheduled_at (WHERE status =
    'scheduled'), oldest first.
    """
    now = now or timezone.now()
    return ScheduledPost.objects.filter(
        status=ScheduledPost.Status.SCHEDULED, scheduled_at__lte=now
    ).order_by("scheduled_at")[:limit]


def engagement_queue_stats(*, failed_since) -> dict[str, int]:
    """Pending and processing engagement actions, and those failed recently.

    engagement_actions has no updated_at: "recently" is by created_at.
    """
    from django.db.models import Count, Q

    S = EngagementAction.Status
    return EngagementAction.objects.filter(
        Q(status__in=[S.PENDING, S.PROCESSING])
        | Q(status=S.FAILED, created_at__gte=failed_since)
    ).aggregate(
        pending=Count("pk", filter=Q(status=S.PENDING)),
        processing=Count("pk", filter=Q(status=S.PROCESSING)),
        failed=Count("pk", filter=Q(status=S.FAILED)),
    )


def scheduled_post_stats(*, now, failed_since) -> dict[str, int]:
    """Posts due in the next 24 hours and scheduled posts failed recently."""
    from django.db.models import Count, Q

    S = ScheduledPost.Status
    upcoming = Q(
        status=S.SCHEDULED,
        scheduled_at__gte=now,
        scheduled_at__lt=now + dt.timedelta(hours=24),
    )
    failed = Q(status=S.FAILED, updated_at__gte=failed_since)
    return ScheduledPost.objects.filter(upcoming | failed).aggregate(
        next_24h=Count("pk", filter=upcoming), failed=Count("pk", filter=failed)
    )


def failed_posts_since(since) -> int:
    return Post.objects.filter(status=Post.Status.FAILED, updated_at__gte=since).count()


def connected_accounts_by_platform() -> list[dict]:
    """[{platform, label, connected, total}] for every platform with an account."""
    from django.db.models import Count, Q

    rows = (
        PlatformAccount.objects.order_by("platform")
        .values("platform")
        .annotate(
            total=Count("pk"),
            connected=Count("pk", filter=Q(is_connected=True)),
        )
    )
    labels = dict(Platform.choices)
    return [
        {**row, "label": labels.get(row["platform"], row["platform"])} for row in rows
    ]


def character_accounts(character_id):
    """A character's accounts for the admin page, credentials never loaded."""
    return (
        PlatformAccount.objects.filter(character_id=character_id)
        .defer("auth_data")
        .order_by("platform")
    )


def upcoming_scheduled_posts(*, character_id, limit: int = 10, now=None):
    """A character's next waiting posts, soonest first."""
    now = now or timezone.now()
    return (
        ScheduledPost.objects.filter(
            character_id=character_id,
            status=ScheduledPost.Status.SCHEDULED,
            scheduled_at__gte=now,
        )
        .select_related("platform_account")
        .defer("platform_account__auth_data")
        .order_by("scheduled_at")[:limit]
    )
