"""Reads on analytics: the API's bucketed series and the analytics pages.

The pages' reads are a fixed number of statements whatever the range: one
aggregation over the range's days of `analytics` (a literal date range on the
partition key, so PostgreSQL reads only those months' partitions), one over
the posts published in the range per platform, and one for the top posts.

Days are UTC days, as the daily snapshot records them (analytics.snapshot).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connections, router
from django.db.models import (
    Count,
    DateField,
    F,
    QuerySet,
    Sum,
)
from django.db.models.functions import Cast, Trunc

from analytics.models import Analytics
from platforms.models import Post

BUCKETS = ("day", "week", "month")
# The longest range a page may ask for (two years of days on a chart).
MAX_RANGE_DAYS = 731
PRESETS = (7, 30, 90)
TOP_POSTS = 10


def metric_series(queryset: QuerySet[Analytics], *, bucket: str = "day") -> QuerySet:
    """Rows {bucket, total, samples} of `queryset` summed per date_trunc bucket
    (the API's `series`: one GROUP BY in the database)."""
    if bucket not in BUCKETS:
        raise ValueError(f"bucket must be one of {', '.join(BUCKETS)}")
    return (
        queryset.order_by()
        .annotate(bucket=Cast(Trunc("metric_date", bucket), output_field=DateField()))
        .values("bucket")
        .annotate(total=Sum("metric_value"), samples=Count("id"))
        .order_by("bucket")
    )


# --- the analytics pages ------------------------------------------------------------

# Per account and day first (followers and the rate belong together), then per
# platform and day: the engagement rate is weighted by followers, so a big
# account counts for what it is. Interactions are the lifetime totals the
# snapshot records (likes + comments + shares); a day's gain is a difference.
DAILY_SQL = """
WITH per_account AS (
    SELECT a.metric_date, a.platform, a.platform_account_id,
           max(a.metric_value) FILTER (WHERE a.metric_type = 'follower_count')
               AS followers,
           max(a.metric_value) FILTER (WHERE a.metric_type = 'engagement_rate')
               AS rate,
           sum(a.metric_value) FILTER (WHERE a.metric_type IN
               ('likes_count', 'comments_count', 'shares_count')) AS interactions
    FROM analytics a
    JOIN characters c ON c.id = a.character_id AND c.deleted_at IS NULL
    WHERE a.metric_date >= %(start)s AND a.metric_date <= %(end)s
      AND a.platform_account_id IS NOT NULL
      AND a.metric_type IN ('follower_count', 'engagement_rate',
                            'likes_count', 'comments_count', 'shares_count')
      {character_filter}
    GROUP BY a.metric_date, a.platform, a.platform_account_id
)
SELECT metric_date, platform, count(*) AS accounts,
       sum(followers) AS followers,
       sum(rate * followers) / nullif(sum(followers) FILTER (WHERE rate IS NOT NULL), 0)
           AS rate,
       sum(interactions) AS interactions
FROM per_account
GROUP BY metric_date, platform
ORDER BY metric_date, platform
"""


@dataclass(frozen=True)
class DayPoint:
    day: dt.date
    platform: str
    accounts: int
    followers: float
    rate: float | None  # percent
    interactions: float


@dataclass
class PlatformSummary:
    """One line of the per-platform table (or its total)."""

    platform: str
    label: str
    followers_start: float | None = None
    followers_end: float | None = None
    interactions_start: float | None = None
    interactions_end: float | None = None
    rate_end: float | None = None
    posts: int = 0
    posts_engagement: int = 0

    @property
    def interactions_gained(self) -> float:
        if self.interactions_start is None or self.interactions_end is None:
            return 0.0
        return max(self.interactions_end - self.interactions_start, 0.0)

    @property
    def growth(self) -> float | None:
        if self.followers_start is None or self.followers_end is None:
            return None
        return self.followers_end - self.followers_start

    @property
    def growth_percent(self) -> float | None:
        growth = self.growth
        if growth is None or not self.followers_start:
            return None
        return 100.0 * growth / self.followers_start


@dataclass
class Overview:
    """What an analytics page shows for a range of days."""

    start: dt.date
    end: dt.date
    points: list[DayPoint]
    platforms: list[PlatformSummary]
    total: PlatformSummary
    top_posts: list[Post] = field(default_factory=list)

    def series(self, attr: str) -> dict[str, list[tuple[dt.date, float]]]:
        """{platform: [(day, value), ...]} of one column (days without a value
        left out)."""
        found: dict[str, list[tuple[dt.date, float]]] = defaultdict(list)
        for point in self.points:
            value = getattr(point, attr)
            if value is not None:
                found[point.platform].append((point.day, value))
        return dict(found)

    def total_followers(self) -> list[tuple[dt.date, float]]:
        by_day: dict[dt.date, float] = defaultdict(float)
        for point in self.points:
            by_day[point.day] += point.followers
        return sorted(by_day.items())

    def daily_interactions(self) -> dict[str, list[tuple[dt.date, float]]]:
        """{platform: [(day, interactions gained that day)]}: the difference
        from the platform's previous recorded day in the range."""
        gained: dict[str, list[tuple[dt.date, float]]] = {}
        for platform, values in self.series("interactions").items():
            gained[platform] = [
                (day, max(value - previous, 0.0))
                for (_, previous), (day, value) in zip(values, values[1:], strict=False)
            ]
        return gained


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _day_points(
    start: dt.date, end: dt.date, character_id: uuid.UUID | None
) -> list[DayPoint]:
    params: dict[str, Any] = {"start": start, "end": end}
    character_filter = ""
    if character_id is not None:
        character_filter = "AND a.character_id = %(character)s"
        params["character"] = character_id
    # where the analytics app's reads go (the replica, when one is configured)
    alias = router.db_for_read(Analytics)
    with connections[alias].cursor() as cursor:
        cursor.execute(DAILY_SQL.format(character_filter=character_filter), params)
        return [
            DayPoint(
                day=day,
                platform=platform,
                accounts=accounts,
                followers=float(followers or 0),
                rate=_number(rate),
                interactions=float(interactions or 0),
            )
            for day, platform, accounts, followers, rate, interactions in (
                cursor.fetchall()
            )
        ]


def _published_in(
    start: dt.date, end: dt.date, character_id: uuid.UUID | None
) -> QuerySet[Post]:
    since = dt.datetime.combine(start, dt.time(0), tzinfo=dt.UTC)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)
    posts = Post.objects.filter(
        status=Post.Status.PUBLISHED,
        published_at__gte=since,
        published_at__lt=until,
        character__deleted_at__isnull=True,
    )
    if character_id is not None:
        posts = posts.filter(character_id=character_id)
    return posts


ENGAGEMENT = F("likes_count") + F("comments_count") + F("shares_count")


def top_posts(
    *,
    start: dt.date,
    end: dt.date,
    character_id: uuid.UUID | None = None,
    limit: int = TOP_POSTS,
) -> list[Post]:
    """The range's published posts with the most likes + comments + shares
    (one query, with their account, character and content for thumbnails)."""
    return list(
        _published_in(start, end, character_id)
        .select_related("platform_account", "character", "content")
        .only(
            "id",
            "platform",
            "caption",
            "published_at",
            "platform_post_url",
            "likes_count",
            "comments_count",
            "shares_count",
            "views_count",
            "platform_account__id",
            "platform_account__account_username",
            "platform_account__platform",
            "character__id",
            "character__name",
            "character__timezone",
            "content__id",
            "content__content_type",
            "content__thumbnail_path",
        )
        .annotate(engagement=ENGAGEMENT)
        .order_by("-engagement", "-published_at", "id")[:limit]
    )


def posts_per_platform(
    *, start: dt.date, end: dt.date, character_id: uuid.UUID | None = None
) -> dict[str, tuple[int, int]]:
    """{platform: (posts published in the range, their likes+comments+shares)}."""
    rows = (
        _published_in(start, end, character_id)
        .order_by()
        .values("platform")
        .annotate(n=Count("id"), engagement=Sum(ENGAGEMENT))
        .values_list("platform", "n", "engagement")
    )
    return {platform: (n, int(engagement or 0)) for platform, n, engagement in rows}


def analytics_overview(
    *,
    start: dt.date,
    end: dt.date,
    character_id: uuid.UUID | None = None,
    platform_labels: dict[str, str] | None = None,
) -> Overview:
    """Followers, engagement, growth and posts per platform over [start, end]
    (inclusive), for one character or every live one: three queries."""
    if end < start:
        raise ValueError("The range ends before it starts.")
    labels = platform_labels or {}
    points = _day_points(start, end, character_id)
    posts = posts_per_platform(start=start, end=end, character_id=character_id)
    summaries: dict[str, PlatformSummary] = {}
    for point in points:
        summary = summaries.setdefault(
            point.platform,
            PlatformSummary(point.platform, labels.get(point.platform, point.platform)),
        )
        # points come in day order: the first seen is the range's first day
        if summary.followers_start is None:
            summary.followers_start = point.followers
            summary.interactions_start = point.interactions
        summary.followers_end = point.followers
        summary.interactions_end = point.interactions
        if point.rate is not None:
            summary.rate_end = point.rate
    for platform, (count, engagement) in posts.items():
        summary = summaries.setdefault(
            platform, PlatformSummary(platform, labels.get(platform, platform))
        )
        summary.posts, summary.posts_engagement = count, engagement
    rows = [summaries[p] for p in sorted(summaries)]
    total = PlatformSummary("all", "All platforms")
    with_followers = [r for r in rows if r.followers_start is not None]
    if with_followers:
        total.followers_start = sum(r.followers_start or 0 for r in with_followers)
        total.followers_end = sum(r.followers_end or 0 for r in with_followers)
        weight = sum(r.followers_end or 0 for r in with_followers if r.rate_end)
        if weight:
            total.rate_end = (
                sum(
                    (r.rate_end or 0) * (r.followers_end or 0)
                    for r in with_followers
                    if r.rate_end
                )
                / weight
            )
        total.interactions_start = sum(
            r.interactions_start or 0 for r in with_followers
        )
        total.interactions_end = sum(r.interactions_end or 0 for r in with_followers)
    total.posts = sum(r.posts for r in rows)
    total.posts_engagement = sum(r.posts_engagement for r in rows)
    return Overview(
        start=start,
        end=end,
        points=points,
        platforms=rows,
        total=total,
        top_posts=top_posts(start=start, end=end, character_id=character_id),
    )
