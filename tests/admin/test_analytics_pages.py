"""The analytics pages: one character's and every character's, with ranges,
CSV exports and a constant number of queries whatever the range."""

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    AnalyticsFactory,
    CharacterFactory,
    ContentFactory,
    PlatformAccountFactory,
    PostFactory,
    UserFactory,
)

TODAY = timezone.now().astimezone(dt.UTC).date()


def _days(account, days, *, start_followers=1000, step=10):
    for n in range(days):
        day = TODAY - dt.timedelta(days=days - 1 - n)
        for metric, value in (
            ("follower_count", start_followers + step * n),
            ("engagement_rate", 2 + n / 100),
            ("likes_count", 100 + 5 * n),
        ):
            AnalyticsFactory(
                platform_account=account,
                metric_date=day,
                metric_type=metric,
                metric_value=value,
            )


@pytest.fixture
def mia(db):
    character = CharacterFactory(name="Mia", timezone="Europe/Berlin")
    insta = PlatformAccountFactory(
        character=character, platform="instagram", account_username="mia.ig"
    )
    youtube = PlatformAccountFactory(character=character, platform="youtube")
    _days(insta, 120)
    _days(youtube, 120, start_followers=5000, step=-5)
    image = ContentFactory(character=character, content_type="image")
    PostFactory(
        platform_account=insta,
        content=image,
        caption='=HYPERLINK("http://evil") sunset',
        published_at=timezone.now() - dt.timedelta(days=2),
        likes_count=900,
        comments_count=90,
        shares_count=9,
    )
    PostFactory(
        platform_account=youtube,
        content=None,
        published_at=timezone.now() - dt.timedelta(days=3),
        likes_count=10,
        comments_count=0,
        shares_count=0,
    )
    return character


def url(character=None, **params):
    if character is None:
        base = reverse("admin:analytics_analytics_overview")
    else:
        base = reverse(
            "admin:analytics_analytics_character_overview", args=[character.pk]
        )
    return base, params


def test_the_character_page_shows_growth_charts_platforms_and_top_posts(
    admin_client, mia
):
    base, params = url(mia, days=30)
    response = admin_client.get(base, params)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Analytics of Mia" in page
    assert 'id="chart-followers"' in page and 'id="analytics-data"' in page
    assert "analytics/vendor/chartjs/chart.umd.min.js" in page
    # Instagram: 30 days from 1,900 to 2,190 followers (+290, +15.26 %)
    assert "+290" in page and "+15.26 %" in page
    overview = response.context["overview"]
    assert (overview.start, overview.end) == (TODAY - dt.timedelta(days=29), TODAY)
    rows = {r["platform"]: r for r in response.context["platform_rows"]}
    assert rows["instagram"]["followers_end"] == "2,190"
    assert rows["youtube"]["growth"] == "-145"
    assert rows["instagram"]["posts"] == "1"
    top = response.context["top_posts"]
    assert [t["post"].likes_count for t in top] == [900, 10]
    assert top[0]["thumb"].endswith(f"/{top[0]['post'].content_id}/thumbnail/")
    assert top[1]["thumb"] == ""
    data = response.context["chart_data"]
    assert len(data["days"]) == 30
    assert [s["label"] for s in data["followers"]] == [
        "Instagram",
        "YouTube",
        "All platforms",
    ]


def test_a_custom_range_and_the_page_across_characters(admin_client, mia):
    other = PlatformAccountFactory(platform="instagram")
    _days(other, 10, start_followers=100, step=0)
    start = TODAY - dt.timedelta(days=4)
    base, params = url(start=start.isoformat(), end=TODAY.isoformat())

    response = admin_client.get(base, params)

    assert response.status_code == 200
    assert response.context["range_days"] == 5
    rows = {r["platform"]: r for r in response.context["platform_rows"]}
    # Mia's Instagram (2,150 -> 2,190) and the other character's (100)
    assert rows["instagram"]["followers_start"] == "2,250"
    assert rows["instagram"]["followers_end"] == "2,290"
    assert "Character</th>" in response.content.decode()


@pytest.mark.parametrize(
    "params, field, message",
    [
        ({"start": "2026-13-01"}, "start", "Enter a valid date."),
        (
            {"start": "2026-03-10", "end": "2026-03-01"},
            "end",
            "The end date is before the start date.",
        ),
        ({"start": "2020-01-01", "end": "2026-01-01"}, "start", "at most 731 days"),
        ({"days": "5"}, "days", "Select a valid choice."),
        ({"days": "7", "export": "passwords"}, "export", "Select a valid choice."),
    ],
)
def test_bad_ranges_are_form_errors_not_500(admin_client, mia, params, field, message):
    base, _ = url(mia)
    response = admin_client.get(base, params)
    assert response.status_code == 400
    assert any(message in e for e in response.context["form"].errors[field])
    assert message in response.content.decode().replace("&#x27;", "'")


def test_csv_exports_hold_what_the_page_shows_without_formulas(admin_client, mia):
    base, params = url(mia, days=7)

    daily = admin_client.get(base, {**params, "export": "daily"})
    platforms = admin_client.get(base, {**params, "export": "platforms"})
    posts = admin_client.get(base, {**params, "export": "posts"})

    assert daily["Content-Type"].startswith("text/csv")
    assert "attachment" in daily["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(daily.content.decode())))
    assert len(rows) == 14  # 7 days x 2 platforms
    assert rows[0]["date"] == (TODAY - dt.timedelta(days=6)).isoformat()
    assert rows[-1]["followers"] == "4405"  # YouTube: 5,000 - 5 x 119
    per_platform = list(csv.DictReader(io.StringIO(platforms.content.decode())))
    assert [r["platform"] for r in per_platform] == ["instagram", "youtube", "all"]
    assert per_platform[0]["growth"] == "60"
    assert per_platform[1]["growth"] == "-30"  # a number, not escaped text
    top = list(csv.DictReader(io.StringIO(posts.content.decode())))
    assert top[0]["interactions"] == "999"
    assert top[0]["caption"].startswith("'=HYPERLINK")


def test_constant_queries_whatever_the_range(
    admin_client, mia, django_assert_num_queries
):
    base, _ = url(mia)
    admin_client.get(base, {"days": 7})  # session and caches warmed
    # session, user, character, daily aggregation, posts per platform, top posts
    for params in ({"days": 7}, {"days": 90}, {"start": "2025-01-01"}):
        with django_assert_num_queries(6):
            assert admin_client.get(base, params).status_code == 200
    all_base, _ = url()
    with django_assert_num_queries(5):
        assert admin_client.get(all_base, {"days": 90}).status_code == 200


def test_people_without_analytics_access_are_refused(client, mia):
    client.force_login(UserFactory(is_staff=True))
    base, _ = url(mia)
    assert client.get(base).status_code == 403


def test_an_analyst_may_read_it(analyst_client, mia):
    base, _ = url(mia)
    assert analyst_client.get(base, {"days": 7}).status_code == 200


def test_the_changelist_and_the_character_page_link_to_it(admin_client, mia):
    changelist = admin_client.get(reverse("admin:analytics_analytics_changelist"))
    assert reverse("admin:analytics_analytics_overview") in changelist.content.decode()
    page = admin_client.get(reverse("admin:characters_character_change", args=[mia.pk]))
    assert (
        reverse("admin:analytics_analytics_character_overview", args=[mia.pk])
        in page.content.decode()
    )


def test_an_unknown_character_is_a_404(admin_client, db):
    response = admin_client.get(
        reverse(
            "admin:analytics_analytics_character_overview",
            args=["00000000-0000-0000-0000-000000000000"],
        )
    )
    assert response.status_code == 404
