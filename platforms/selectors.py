"""Reads on the publishing queue and posts."""

import datetime as dt
import uuid
from dataclasses import dataclass

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


# --- The operator's calendar and the composer ------------------------------------

# Where "the next free slot" looks (until posting slots per account exist):
# whole hours of the character's day, at most one post per account an hour.
FREE_SLOT_HOURS = range(9, 22)
FREE_SLOT_DAYS = 14


def next_free_slot(
    *, account_ids: list, tz_name: str, after: dt.datetime | None = None
) -> dt.datetime | None:
    """The first whole hour after `after`, between 09:00 and 21:00 on the
    character's clock, at which none of the accounts has a post waiting or
    being published (one query over the next FREE_SLOT_DAYS days)."""
    from config.timezones import zone

    tz = zone(tz_name)
    after = after or timezone.now()
    horizon = after + dt.timedelta(days=FREE_SLOT_DAYS)
    # wall-clock hours (naive) already taken by one of the accounts
    taken = {
        when.astimezone(tz).replace(minute=0, second=0, microsecond=0, tzinfo=None)
        for when in ScheduledPost.objects.filter(
            platform_account_id__in=account_ids,
            status__in=[
                ScheduledPost.Status.SCHEDULED,
                ScheduledPost.Status.PROCESSING,
            ],
            scheduled_at__gte=after - dt.timedelta(hours=1),
            scheduled_at__lt=horizon,
        ).values_list("scheduled_at", flat=True)
    }
    local = after.astimezone(tz).replace(minute=0, second=0, microsecond=0)
    step = dt.timedelta(hours=1)
    candidate = local + step
    while candidate.astimezone(dt.UTC) < horizon:
        # walk in UTC so that a DST change neither skips nor repeats an hour
        wall = candidate.astimezone(tz)
        if wall.hour in FREE_SLOT_HOURS and wall.replace(tzinfo=None) not in taken:
            return wall.astimezone(dt.UTC)
        candidate = (candidate.astimezone(dt.UTC) + step).astimezone(tz)
    return None


@dataclass(frozen=True)
class CalendarFilter:
    """What a calendar view shows: a range and optional narrowing."""

    start: dt.datetime
    end: dt.datetime
    character_id: uuid.UUID | None = None
    account_id: uuid.UUID | None = None
    platform: str | None = None


CALENDAR_LIMIT = 2000


def calendar_scheduled_posts(flt: CalendarFilter) -> list[ScheduledPost]:
    """Scheduled posts planned in the range (every state), with what the
    calendar shows of their account, character and content: one query, on
    the planned time (scheduled_at; a retry's backoff is not the plan)."""
    qs = ScheduledPost.objects.filter(
        scheduled_at__gte=flt.start, scheduled_at__lt=flt.end
    )
    if flt.character_id:
        qs = qs.filter(character_id=flt.character_id)
    if flt.account_id:
        qs = qs.filter(platform_account_id=flt.account_id)
    if flt.platform:
        qs = qs.filter(platform_account__platform=flt.platform)
    return list(
        qs.select_related("platform_account", "character", "content")
        .only(
            "pk",
            "scheduled_at",
            "timezone",
            "status",
            "caption",
            "post_type",
            "error_message",
            "character_id",
            "character__name",
            "character__timezone",
            "platform_account_id",
            "platform_account__platform",
            "platform_account__account_username",
            "content_id",
            "content__content_type",
            "content__thumbnail_path",
            "content__thumbnail_url",
            "content__file_path",
        )
        .order_by("scheduled_at")[:CALENDAR_LIMIT]
    )


def calendar_published_posts(flt: CalendarFilter) -> list[Post]:
    """Posts published in the range that no scheduled post stands for (made
    by hand or elsewhere): one query (idx_posts_published, and
    idx_scheduled_posts_post for the NOT EXISTS)."""
    from django.db.models import Exists, OuterRef

    qs = Post.objects.filter(
        status=Post.Status.PUBLISHED,
        published_at__gte=flt.start,
        published_at__lt=flt.end,
    ).filter(~Exists(ScheduledPost.objects.filter(post_id=OuterRef("pk"))))
    if flt.character_id:
        qs = qs.filter(character_id=flt.character_id)
    if flt.account_id:
        qs = qs.filter(platform_account_id=flt.account_id)
    if flt.platform:
        qs = qs.filter(platform=flt.platform)
    return list(
        qs.select_related("character", "content")
        .only(
            "pk",
            "published_at",
            "status",
            "caption",
            "platform",
            "post_type",
            "platform_post_url",
            "character_id",
            "character__name",
            "character__timezone",
            "platform_account_id",
            "content_id",
            "content__content_type",
            "content__thumbnail_path",
            "content__thumbnail_url",
            "content__file_path",
        )
        .order_by("published_at")[:CALENDAR_LIMIT]
    )
