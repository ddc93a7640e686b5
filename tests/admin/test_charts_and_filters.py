"""The server-side SVG chart and the date filters."""

import datetime as dt
import re

from django.contrib import admin
from django.test import RequestFactory
from django.utils import timezone

from config.admin_site import recent_filter
from config.charts import line_chart
from platforms.models import ScheduledPost
from tests.factories import ScheduledPostFactory


def test_chart_draws_one_polyline_per_series_and_escapes_labels():
    day = dt.date(2026, 1, 1)
    svg = line_chart(
        {
            "instagram": [(day, 100.0), (day + dt.timedelta(days=1), 150.0)],
            "<script>": [(day, 120.0)],
        },
        title="Followers & friends",
        labels={"instagram": "Instagram"},
    )
    assert svg.count("<polyline") == 2
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "Followers &amp; friends" in svg
    assert "Instagram: 150" in svg
    # The highest value sits at the top of the plot, the lowest at the bottom.
    assert 'points="64.0,12.0' not in svg  # the first point (100) is the lowest
    assert ",12.0" in svg and ",172.0" in svg


def test_chart_without_data_says_so():
    assert "no analytics recorded yet" in line_chart({}, title="Followers")


def test_flat_series_does_not_divide_by_zero():
    day = dt.date(2026, 1, 1)
    svg = line_chart({"x": [(day, 5.0), (day, 5.0)]}, title="Flat")
    assert "<polyline" in svg


def test_scheduled_window_filter(account):
    now = timezone.now()
    soon = ScheduledPostFactory(
        platform_account=account, scheduled_at=now + dt.timedelta(hours=3)
    )
    ScheduledPostFactory(
        platform_account=account, scheduled_at=now + dt.timedelta(days=3)
    )
    Filter = recent_filter(
        "scheduled_at", title="scheduled", parameter="when", future=True
    )
    model_admin = admin.site.get_model_admin(ScheduledPost)
    request = RequestFactory().get("/", {"when": "next24h"})
    f = Filter(request, {"when": ["next24h"]}, ScheduledPost, model_admin)
    assert list(f.queryset(request, ScheduledPost.objects.all())) == [soon]
    assert [c[0] for c in f.lookup_choices] == [
        "today",
        "24h",
        "7d",
        "30d",
        "overdue",
        "next24h",
        "next7d",
    ]


def test_metric_series_covers_90_days_up_to_the_latest_day(account):
    from characters.selectors import character_metric_series
    from tests.factories import AnalyticsFactory

    latest = dt.date(2026, 6, 30)
    for days_before in (0, 1, 89, 90, 400):
        AnalyticsFactory(
            platform_account=account,
            metric_date=latest - dt.timedelta(days=days_before),
            metric_type="follower_count",
            metric_value=1000 - days_before,
        )
    AnalyticsFactory(
        platform_account=account,
        metric_date=latest,
        metric_type="likes_count",
        metric_value=5,
    )

    series = character_metric_series(character_id=account.character_id)

    assert series["engagement_rate"] == {}
    points = series["follower_count"]["instagram"]
    assert [d for d, _ in points] == [
        latest - dt.timedelta(days=89),
        latest - dt.timedelta(days=1),
        latest,
    ]
    assert points[-1][1] == 1000.0


def _recent_series(account, days_back):
    from tests.factories import AnalyticsFactory

    today = timezone.now().date()
    for n in days_back:
        for metric in ("follower_count", "engagement_rate"):
            AnalyticsFactory(
                platform_account=account,
                metric_date=today - dt.timedelta(days=n),
                metric_type=metric,
                metric_value=1000 - n,
            )
    return today


def test_metric_series_of_a_synced_character_reads_only_recent_partitions(
    account, django_assert_num_queries
):
    """A character with numbers from the last weeks: one query, bounded by
    constant dates that let the planner leave out the older months."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from characters.selectors import _metric_series, character_metric_series
    from config.ops.partitions import (
        ANALYTICS,
        add_months,
        ensure_months,
        month_start,
        partitions,
    )

    # a year of monthly partitions, as production has
    with connection.cursor() as cursor:
        months = [add_months(month_start(timezone.now().date()), -n) for n in range(12)]
        ensure_months(cursor, ANALYTICS, months)
    today = _recent_series(account, (0, 3, 60, 89, 90, 200))

    with CaptureQueriesContext(connection) as ctx:
        series = character_metric_series(character_id=account.character_id)

    assert len(ctx) == 1
    points = series["follower_count"]["instagram"]
    assert [d for d, _ in points] == [
        today - dt.timedelta(days=n) for n in (89, 60, 3, 0)
    ]
    # the same answer as the read over every partition
    assert series == _metric_series(
        account.character_id, ("follower_count", "engagement_rate"), 90, since=None
    )
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + ctx.captured_queries[0]["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    planned = set(re.findall(r" on (analytics_\w+)", plan))
    old_month = ANALYTICS.partition(month_start(today - dt.timedelta(days=200)))
    assert ANALYTICS.partition(month_start(today)) in planned
    assert old_month not in planned, plan
    assert len(planned) < len(partitions(connection.cursor(), ANALYTICS))


def test_metric_series_of_a_character_whose_sync_stopped_reads_every_partition(
    account,
):
    """Nothing in the last weeks: a second read without the bound still finds
    the last curve (the page shows it, not an empty chart)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from characters.selectors import SERIES_RECENT_DAYS, character_metric_series

    today = _recent_series(account, (SERIES_RECENT_DAYS + 1, SERIES_RECENT_DAYS + 50))

    with CaptureQueriesContext(connection) as ctx:
        series = character_metric_series(character_id=account.character_id)

    assert len(ctx) == 2
    assert [d for d, _ in series["follower_count"]["instagram"]] == [
        today - dt.timedelta(days=SERIES_RECENT_DAYS + n) for n in (50, 1)
    ]
