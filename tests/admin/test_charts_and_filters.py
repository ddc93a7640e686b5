"""The server-side SVG chart and the date filters."""

import datetime as dt

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
