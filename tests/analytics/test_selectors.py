"""The analytics pages' reads: numbers on a constructed dataset, a constant
number of queries whatever the range, and only the range's partitions read."""

import datetime as dt
import json

import pytest
from django.db import connection

from analytics.models import Analytics
from analytics.selectors import (
    DAILY_SQL,
    analytics_overview,
    metric_series,
    posts_per_platform,
    top_posts,
)
from characters.services import character_soft_delete
from config.ops.partitions import ANALYTICS, ensure_months
from tests.factories import (
    AnalyticsFactory,
    CharacterFactory,
    PlatformAccountFactory,
    PostFactory,
)

D0 = dt.date(2026, 3, 1)


def _day(account, day, *, followers, rate=None, likes=0, comments=0, shares=0):
    for metric, value in (
        ("follower_count", followers),
        ("engagement_rate", rate),
        ("likes_count", likes),
        ("comments_count", comments),
        ("shares_count", shares),
    ):
        if value is not None:
            AnalyticsFactory(
                platform_account=account,
                metric_date=day,
                metric_type=metric,
                metric_value=value,
            )


@pytest.fixture
def world(db):
    """One character with Instagram (two days) and TikTok (three days), and
    another character's account that only the all-characters view sees."""
    character = CharacterFactory(name="Mia")
    insta = PlatformAccountFactory(character=character, platform="instagram")
    youtube = PlatformAccountFactory(character=character, platform="youtube")
    _day(insta, D0, followers=1000, rate=2, likes=100, comments=10)
    _day(
        insta, D0 + dt.timedelta(days=2), followers=1100, rate=4, likes=160, comments=20
    )
    _day(youtube, D0, followers=3000, rate=1, likes=500)
    _day(youtube, D0 + dt.timedelta(days=1), followers=2900, rate=1, likes=520)
    _day(
        youtube, D0 + dt.timedelta(days=2), followers=2700, rate=2, likes=600, shares=5
    )
    other = PlatformAccountFactory(platform="instagram")
    _day(other, D0, followers=500, rate=10)
    _day(other, D0 + dt.timedelta(days=2), followers=1000, rate=10)
    return character, insta, youtube, other


def test_growth_rates_and_interactions_per_platform(world):
    character, *_ = world

    overview = analytics_overview(
        start=D0, end=D0 + dt.timedelta(days=6), character_id=character.pk
    )

    rows = {r.platform: r for r in overview.platforms}
    assert set(rows) == {"instagram", "youtube"}
    insta, youtube = rows["instagram"], rows["youtube"]
    assert (insta.followers_start, insta.followers_end) == (1000, 1100)
    assert insta.growth == 100 and insta.growth_percent == pytest.approx(10.0)
    assert insta.interactions_gained == 70  # (160+20) - (100+10)
    assert insta.rate_end == 4
    assert youtube.growth == -300 and youtube.growth_percent == pytest.approx(-10.0)
    assert youtube.interactions_gained == 105
    total = overview.total
    assert (total.followers_start, total.followers_end) == (4000, 3800)
    assert total.growth_percent == pytest.approx(-5.0)
    # followers-weighted: (4 * 1100 + 2 * 2700) / 3800
    assert total.rate_end == pytest.approx((4 * 1100 + 2 * 2700) / 3800)
    assert total.interactions_gained == 175
    assert overview.total_followers() == [
        (D0, 4000.0),
        (D0 + dt.timedelta(days=1), 2900.0),
        (D0 + dt.timedelta(days=2), 3800.0),
    ]
    assert overview.daily_interactions()["youtube"] == [
        (D0 + dt.timedelta(days=1), 20.0),
        (D0 + dt.timedelta(days=2), 85.0),
    ]


def test_the_range_bounds_are_inclusive_and_cut_the_rest(world):
    character, *_ = world

    overview = analytics_overview(
        start=D0 + dt.timedelta(days=1),
        end=D0 + dt.timedelta(days=1),
        character_id=character.pk,
    )

    assert [(p.day, p.platform) for p in overview.points] == [
        (D0 + dt.timedelta(days=1), "youtube")
    ]
    assert overview.total.growth == 0


def test_across_characters_sums_every_live_character(world):
    character, insta, youtube, other = world
    gone = PlatformAccountFactory(platform="instagram")
    _day(gone, D0, followers=99_999)
    character_soft_delete(character=gone.character)

    overview = analytics_overview(start=D0, end=D0 + dt.timedelta(days=2))

    rows = {r.platform: r for r in overview.platforms}
    assert (rows["instagram"].followers_start, rows["instagram"].followers_end) == (
        1500,
        2100,
    )
    # weighted by followers: (4 * 1100 + 10 * 1000) / 2100
    assert rows["instagram"].rate_end == pytest.approx(14_400 / 2100)


def test_a_range_that_ends_before_it_starts_is_refused(db):
    with pytest.raises(ValueError, match="ends before it starts"):
        analytics_overview(start=D0, end=D0 - dt.timedelta(days=1))


def test_top_posts_and_post_counts_of_the_range(world):
    character, insta, youtube, _ = world
    at = dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC)
    best = PostFactory(
        platform_account=youtube,
        published_at=at,
        likes_count=900,
        comments_count=50,
        shares_count=50,
    )
    second = PostFactory(
        platform_account=insta,
        published_at=at,
        likes_count=500,
        comments_count=0,
        shares_count=0,
    )
    PostFactory(  # outside the range
        platform_account=insta,
        published_at=at + dt.timedelta(days=30),
        likes_count=10_000,
    )
    PostFactory(  # not published
        platform_account=insta,
        published_at=None,
        status="scheduled",
        likes_count=10_000,
    )
    end = D0 + dt.timedelta(days=6)

    found = top_posts(start=D0, end=end, character_id=character.pk)

    assert [p.pk for p in found] == [best.pk, second.pk]
    assert found[0].engagement == 1000
    counts = posts_per_platform(start=D0, end=end, character_id=character.pk)
    assert counts == {"youtube": (1, 1000), "instagram": (1, 500)}


@pytest.mark.parametrize("days", [7, 90, 365])
def test_the_overview_costs_three_queries_whatever_the_range(
    world, days, django_assert_num_queries
):
    character, *_ = world
    with django_assert_num_queries(3):
        overview = analytics_overview(
            start=D0, end=D0 + dt.timedelta(days=days), character_id=character.pk
        )
        [p.content for p in overview.top_posts]  # already joined


def _scanned(query: str, params: dict) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {query}", params)
        (row,) = cursor.fetchall()
    plan = row[0] if isinstance(row[0], list) else json.loads(row[0])
    found = set()

    def walk(node):
        if "Relation Name" in node:
            found.add(node["Relation Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found


def test_the_daily_aggregation_reads_only_the_ranges_partitions(world):
    character, *_ = world
    months = [dt.date(2026, m, 1) for m in range(1, 7)]
    with connection.cursor() as cursor:
        ensure_months(cursor, ANALYTICS, months)
    for query, params in (
        (
            DAILY_SQL.format(character_filter="AND a.character_id = %(character)s"),
            {
                "start": dt.date(2026, 2, 20),
                "end": dt.date(2026, 3, 10),
                "character": character.pk,
            },
        ),
        (
            DAILY_SQL.format(character_filter=""),
            {"start": dt.date(2026, 2, 20), "end": dt.date(2026, 3, 10)},
        ),
    ):
        touched = {t for t in _scanned(query, params) if t.startswith("analytics")}
        assert touched == {"analytics_2026_02", "analytics_2026_03"}


def test_metric_series_buckets_in_the_database(world):
    character, insta, *_ = world
    rows = list(
        metric_series(
            Analytics.objects.filter(character=character, metric_type="follower_count"),
            bucket="month",
        )
    )
    assert rows == [{"bucket": D0, "total": 10_700, "samples": 5}]
    with pytest.raises(ValueError, match="bucket"):
        metric_series(Analytics.objects.all(), bucket="year")
