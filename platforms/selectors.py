"""Reads on the publishing queue and posts."""

import datetime as dt
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Window
from django.utils import timezone

from characters.selectors import CharacterId
from content.models import Content
from platforms.models import (
    EngagementAction,
    Platform,
    PlatformAccount,
    Post,
    PostingSlot,
    ScheduledPost,
)
from platforms.modes import assisted_platforms
from platforms.queues import OUTCOME_UNKNOWN
from platforms.slots import Slot, minute_of, slot_instants


def due_scheduled_posts(
    *, now: dt.datetime | None = None, limit: int = 100
) -> QuerySet[ScheduledPost]:
    """The document's query pattern 2: scheduled posts whose time has come.

    Served by the partial index idx_sched_posts_scheduled_at (WHERE status =
    'scheduled'), oldest first.
    """
    now = now or timezone.now()
    return ScheduledPost.objects.filter(
        status=ScheduledPost.Status.SCHEDULED, scheduled_at__lte=now
    ).order_by("scheduled_at")[:limit]


def engagement_queue_stats(*, failed_since: dt.datetime) -> dict[str, int]:
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


def scheduled_post_stats(
    *, now: dt.datetime, failed_since: dt.datetime
) -> dict[str, int]:
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


def failed_posts_since(since: dt.datetime) -> int:
    """Posts that failed since then (the dashboard)."""
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


def character_accounts(character_id: CharacterId) -> QuerySet[PlatformAccount]:
    """A character's accounts for the admin page: the columns it shows, never
    the credentials (nor the settings and JSON it does not show)."""
    return (
        PlatformAccount.objects.filter(character_id=character_id)
        .only(
            "platform",
            "account_username",
            "connection_status",
            "follower_count",
            "last_synced_at",
        )
        .order_by("platform")
    )


def upcoming_scheduled_posts(
    *, character_id: CharacterId, limit: int = 10, now: dt.datetime | None = None
) -> QuerySet[ScheduledPost]:
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

# Where "the next free slot" looks for accounts without posting slots:
# whole hours of the character's day, at most one post per account an hour.
FREE_SLOT_HOURS = range(9, 22)
FREE_SLOT_DAYS = 14
# how far ahead a spread over posting slots looks
SPREAD_DAYS = 366


def next_free_slot(
    *,
    account_ids: list,
    tz_name: str,
    after: dt.datetime | None = None,
    hours: Collection[int] | None = None,
) -> dt.datetime | None:
    """The composer's "next free slot" for these accounts.

    When one of them has posting slots: the soonest of their slots at which
    none of the accounts has a post (scheduled, being published or published)
    at that minute. Otherwise the first whole hour after `after`, between
    09:00 and 21:00 on the character's clock, at which none of the accounts
    has a post waiting or being published. With `hours` (such as the
    accounts' best hours) only slots or hours at those hours of the
    character's clock count. Looks FREE_SLOT_DAYS ahead; two queries with
    slots, one without.
    """
    from config.timezones import zone

    after = after or timezone.now()
    horizon = after + dt.timedelta(days=FREE_SLOT_DAYS)
    slots = account_slots(account_ids=account_ids)
    if any(slots.values()):
        taken = taken_minutes(account_ids=account_ids, after=after, until=horizon)
        busy = set().union(*taken.values()) if taken else set()
        candidates = sorted(
            {
                when
                for account_slots_ in slots.values()
                for when in slot_instants(
                    account_slots_, tz_name, after=after, until=horizon
                )
            }
        )
        tz = zone(tz_name)
        return next(
            (
                when
                for when in candidates
                if when not in busy
                and (hours is None or when.astimezone(tz).hour in hours)
            ),
            None,
        )
    tz = zone(tz_name)
    # wall-clock hours (naive) already taken by one of the accounts
    taken_hours = {
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
    allowed = FREE_SLOT_HOURS if hours is None else frozenset(hours)
    local = after.astimezone(tz).replace(minute=0, second=0, microsecond=0)
    step = dt.timedelta(hours=1)
    candidate = local + step
    while candidate.astimezone(dt.UTC) < horizon:
        # walk in UTC so that a DST change neither skips nor repeats an hour
        wall = candidate.astimezone(tz)
        if wall.hour in allowed and wall.replace(tzinfo=None) not in taken_hours:
            return wall.astimezone(dt.UTC)
        candidate = (candidate.astimezone(dt.UTC) + step).astimezone(tz)
    return None


# --- Posting slots (bulk scheduling) --------------------------------------------

# A post holds its account's slot in these states (a failed or cancelled
# post leaves it free for another).
SLOT_HOLDING = (
    ScheduledPost.Status.SCHEDULED,
    ScheduledPost.Status.PROCESSING,
    ScheduledPost.Status.PUBLISHED,
)


def account_slots(*, account_ids: Iterable) -> dict[Any, list[Slot]]:
    """{account id: its weekly slots} (an account without slots: []), one
    query through posting_slots_unique."""
    found: dict[Any, list[Slot]] = {pk: [] for pk in account_ids}
    for account_id, weekday, at in PostingSlot.objects.filter(
        platform_account_id__in=list(found)
    ).values_list("platform_account_id", "weekday", "time"):
        found[account_id].append(Slot(weekday, at))
    return found


def taken_minutes(
    *, account_ids: Iterable, after: dt.datetime, until: dt.datetime
) -> dict[Any, set[dt.datetime]]:
    """{account id: the minutes (UTC) at which it has a post holding a slot},
    one query through idx_scheduled_posts_platform."""
    found: dict[Any, set[dt.datetime]] = {pk: set() for pk in account_ids}
    for account_id, when in ScheduledPost.objects.filter(
        platform_account_id__in=list(found),
        status__in=SLOT_HOLDING,
        scheduled_at__gte=after - dt.timedelta(minutes=1),
        scheduled_at__lt=until,
    ).values_list("platform_account_id", "scheduled_at"):
        found[account_id].add(minute_of(when))
    return found


def free_slots(
    *,
    account_ids: Iterable,
    tz_name: str,
    count: int,
    after: dt.datetime,
    days: int = SPREAD_DAYS,
) -> dict[Any, list[dt.datetime]]:
    """{account id: its next `count` free slots after `after` (fewer when
    the next `days` days do not hold that many)}: two queries for any number
    of accounts."""
    ids = list(account_ids)
    until = after + dt.timedelta(days=days)
    slots = account_slots(account_ids=ids)
    taken = taken_minutes(account_ids=ids, after=after, until=until)
    found: dict[Any, list[dt.datetime]] = {}
    for pk in ids:
        free = []
        for when in slot_instants(slots[pk], tz_name, after=after, until=until):
            if when in taken[pk]:
                continue
            free.append(when)
            if len(free) == count:
                break
        found[pk] = free
    return found


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


# --- Assisted publishing: work a person does by hand --------------------------------


def assisted_posts(
    *,
    now: dt.datetime | None = None,
    account_id: uuid.UUID | str | None = None,
    horizon: dt.timedelta = dt.timedelta(hours=24),
    limit: int = 100,
) -> QuerySet[ScheduledPost]:
    """Scheduled posts of platforms without an adapter (a person publishes them),
    due or due within `horizon`, soonest first; one query with their account
    (no credentials), character and content. Served by the partial index
    idx_sched_posts_scheduled_at."""
    now = now or timezone.now()
    qs = ScheduledPost.objects.filter(
        status=ScheduledPost.Status.SCHEDULED,
        scheduled_at__lte=now + horizon,
        platform_account__platform__in=assisted_platforms(),
    )
    if account_id is not None:
        qs = qs.filter(platform_account_id=account_id)
    return (
        qs.select_related("platform_account", "character", "content")
        .defer("platform_account__auth_data")
        .order_by("scheduled_at")[:limit]
    )


# a failed post whose call went out and whose platform cannot tell whether it
# arrived: a person decides (records it by its link, or retries it)
UNKNOWN_OUTCOME = Q(
    status=ScheduledPost.Status.FAILED, error_message__startswith=OUTCOME_UNKNOWN
)


def unknown_outcome_posts(
    *, account_id: uuid.UUID | str | None = None, limit: int = 100
) -> QuerySet[ScheduledPost]:
    """Failed posts whose outcome is unknown (their call went out and the
    platform cannot tell whether it arrived): a person looks for each on its
    platform, then records its link or retries it. Latest first, with account
    (no credentials) and character; through idx_scheduled_posts_status."""
    qs = ScheduledPost.objects.filter(UNKNOWN_OUTCOME)
    if account_id is not None:
        qs = qs.filter(platform_account_id=account_id)
    return (
        qs.select_related("platform_account", "character")
        .defer("platform_account__auth_data")
        .order_by("-updated_at")[:limit]
    )


def assisted_engagement(
    *, account_id: uuid.UUID | str | None = None, limit: int = 100
) -> QuerySet[EngagementAction]:
    """Pending engagement actions of platforms without an adapter, oldest first
    (through idx_engagement_pending)."""
    qs = EngagementAction.objects.filter(
        status=EngagementAction.Status.PENDING, platform__in=assisted_platforms()
    )
    if account_id is not None:
        qs = qs.filter(platform_account_id=account_id)
    return (
        qs.select_related("platform_account", "character")
        .defer("platform_account__auth_data")
        .order_by("created_at")[:limit]
    )


def assisted_work_counts(*, now: dt.datetime | None = None) -> dict[str, int]:
    """For the dashboard: assisted posts due now (and overdue), assisted
    engagement pending (and overdue). Two aggregate queries."""
    now = now or timezone.now()
    overdue = now - dt.timedelta(minutes=settings.ASSISTED_OVERDUE_MINUTES)
    platforms = assisted_platforms()
    if not platforms:
        return {
            "posts_due": 0,
            "posts_overdue": 0,
            "engagement": 0,
            "engagement_overdue": 0,
        }
    posts = ScheduledPost.objects.filter(
        status=ScheduledPost.Status.SCHEDULED,
        scheduled_at__lte=now,
        platform_account__platform__in=platforms,
    ).aggregate(
        posts_due=Count("pk"),
        posts_overdue=Count("pk", filter=Q(scheduled_at__lt=overdue)),
    )
    engagement = EngagementAction.objects.filter(
        status=EngagementAction.Status.PENDING, platform__in=platforms
    ).aggregate(
        engagement=Count("pk"),
        engagement_overdue=Count("pk", filter=Q(created_at__lt=overdue)),
    )
    return {**posts, **engagement}


def accounts_needing_attention(*, limit: int = 5) -> tuple[int, list]:
    """Accounts in 'error' or 'suspended' (their posts wait for a person): how
    many, and the first `limit` with why; one query (a window count)."""
    S = PlatformAccount.ConnectionStatus
    rows = list(
        PlatformAccount.objects.filter(connection_status__in=[S.ERROR, S.SUSPENDED])
        .select_related("character")
        .only(
            "pk",
            "platform",
            "account_username",
            "connection_status",
            "connection_error",
            "updated_at",
            "character__name",
        )
        .annotate(total=Window(Count("pk")))
        .order_by("-updated_at")[:limit]
    )
    return (rows[0].total if rows else 0), rows


class MediaNotFound(Exception):
    """No file of this post to serve (not its content, missing, or outside
    MEDIA_ROOT)."""


def assisted_media_file(
    *,
    scheduled_post_id: uuid.UUID | str,
    content_id: uuid.UUID | str | None = None,
) -> tuple[Path, str | None, Content]:
    """The file of one of a scheduled post's own media items, for a person to
    download: (absolute path, mime type, content).

    Only the post's content or one of its additional_content_ids, of the post's
    character; the stored file_path is resolved (symlinks included) and must
    stay inside MEDIA_ROOT. Anything else is MediaNotFound, never a path
    outside it and never a listing.
    """
    sp = (
        ScheduledPost.objects.filter(pk=scheduled_post_id)
        .only("pk", "character_id", "content_id", "additional_content_ids")
        .first()
    )
    if sp is None:
        raise MediaNotFound("no such scheduled post")
    wanted = content_id or sp.content_id
    own = {sp.content_id, *(sp.additional_content_ids or [])} - {None}
    if wanted is None or wanted not in own:
        raise MediaNotFound("not one of the post's media")
    content = (
        Content.objects.filter(pk=wanted, character_id=sp.character_id)
        .only("pk", "file_path", "mime_type", "content_type")
        .first()
    )
    if content is None or not content.file_path:
        raise MediaNotFound("no file")
    root = Path(settings.MEDIA_ROOT).resolve()
    target = (root / content.file_path).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise MediaNotFound("outside MEDIA_ROOT or missing")
    return target, content.mime_type, content


# --- Best time to post ---------------------------------------------------------------

# One aggregation for any number of accounts: each post's hour and ISO weekday
# on its character's clock (AT TIME ZONE, so DST is the zone's own), grouped
# by (account, hour), (account, weekday) and (account) in one pass through
# GROUPING SETS. Engagement of a post is likes + comments + shares.
BEST_TIMES_SQL = """
WITH local AS (
    SELECT a.id AS account_id, c.timezone AS zone, p.id AS post_id,
           extract(hour FROM p.published_at AT TIME ZONE c.timezone)::int AS hour,
           extract(isodow FROM p.published_at AT TIME ZONE c.timezone)::int AS dow,
           (p.likes_count + p.comments_count + p.shares_count) AS engagement
    FROM platform_accounts a
    JOIN characters c ON c.id = a.character_id
    LEFT JOIN posts p ON p.platform_account_id = a.id
        AND p.status = 'published' AND p.published_at >= %(since)s
    WHERE a.id = ANY(%(accounts)s)
)
SELECT account_id, zone, hour, dow, count(post_id) AS posts,
       coalesce(avg(engagement), 0) AS average,
       grouping(hour) AS no_hour, grouping(dow) AS no_dow
FROM local
GROUP BY GROUPING SETS ((account_id, zone, hour), (account_id, zone, dow),
                        (account_id, zone))
"""

WEEKDAYS = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)


@dataclass(frozen=True)
class TimeSlot:
    """An hour (0-23) or a weekday (0 = Monday) that worked, with its evidence."""

    value: int
    posts: int
    average: float  # likes + comments + shares per post
    lift: float  # average / the account's average (1.5: 50 % above)

    @property
    def hour_label(self) -> str:
        return f"{self.value:02d}:00"

    @property
    def weekday_label(self) -> str:
        return WEEKDAYS[self.value]


@dataclass(frozen=True)
class BestTimes:
    """An account's best hours and weekdays, or why there is no suggestion."""

    account_id: uuid.UUID
    timezone: str
    posts: int
    minimum: int
    window_days: int
    average: float
    hours: tuple[TimeSlot, ...] = ()
    weekdays: tuple[TimeSlot, ...] = ()

    @property
    def has_suggestion(self) -> bool:
        return self.posts >= self.minimum and bool(self.hours or self.weekdays)

    @property
    def reason(self) -> str:
        """Why there is no suggestion ("" when there is one)."""
        if self.posts < self.minimum:
            return (
                f"Not enough published posts to suggest a time: {self.posts} in "
                f"the last {self.window_days} days, {self.minimum} needed."
            )
        if not self.has_suggestion:
            return "No hour or weekday has enough posts behind it yet."
        return ""


def _ranked(rows: list[tuple[int, int, float]], average: float) -> tuple:
    """The best BEST_TIME_SUGGESTIONS slots backed by enough posts: highest
    average first; more posts, then the earlier slot, break ties."""
    enough = [r for r in rows if r[1] >= settings.BEST_TIME_MIN_SLOT_POSTS]
    enough.sort(key=lambda r: (-r[2], -r[1], r[0]))
    return tuple(
        TimeSlot(
            value=value,
            posts=posts,
            average=round(avg, 2),
            lift=round(avg / average, 2) if average else 0.0,
        )
        for value, posts, avg in enough[: settings.BEST_TIME_SUGGESTIONS]
    )


def accounts_best_times(
    *, account_ids: list, now: dt.datetime | None = None
) -> dict[uuid.UUID, BestTimes]:
    """{account id: BestTimes} from the accounts' own published posts of the
    last BEST_TIME_WINDOW_DAYS days, hours and weekdays on each account's
    character's clock. One query whatever the number of accounts (an unknown
    id is left out); an account with fewer than BEST_TIME_MIN_POSTS posts gets no suggestion."""
    from django.db import connection

    ids = [uuid.UUID(str(pk)) for pk in account_ids]
    if not ids:
        return {}
    window = settings.BEST_TIME_WINDOW_DAYS
    since = (now or timezone.now()) - dt.timedelta(days=window)
    zones: dict[uuid.UUID, str] = {}
    hours: dict[uuid.UUID, list] = {pk: [] for pk in ids}
    days: dict[uuid.UUID, list] = {pk: [] for pk in ids}
    totals: dict[uuid.UUID, tuple[int, float]] = {}
    with connection.cursor() as cursor:
        cursor.execute(BEST_TIMES_SQL, {"accounts": ids, "since": since})
        for row in cursor.fetchall():
            account, zone, hour, dow, posts, average, no_hour, no_dow = row
            zones[account] = zone
            if no_hour and no_dow:
                totals[account] = (posts, float(average))
            elif not no_hour and hour is not None:
                hours[account].append((hour, posts, float(average)))
            elif not no_dow and dow is not None:
                days[account].append((dow - 1, posts, float(average)))
    minimum = settings.BEST_TIME_MIN_POSTS
    found = {}
    for pk in ids:
        if pk not in zones:
            continue
        posts, average = totals.get(pk, (0, 0.0))
        enough = posts >= minimum
        found[pk] = BestTimes(
            account_id=pk,
            timezone=zones[pk],
            posts=posts,
            minimum=minimum,
            window_days=window,
            average=round(average, 2),
            hours=_ranked(hours[pk], average) if enough else (),
            weekdays=_ranked(days[pk], average) if enough else (),
        )
    return found


def account_best_times(
    *, account_id: uuid.UUID | str, now: dt.datetime | None = None
) -> BestTimes:
    """One account's `accounts_best_times` (KeyError: no such account)."""
    pk = uuid.UUID(str(account_id))
    return accounts_best_times(account_ids=[pk], now=now)[pk]
