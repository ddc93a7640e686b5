"""Change pages render with a constant number of queries."""

import datetime as dt

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from config.timezones import format_local
from platforms.sync import apply_post_metrics
from tests.admin.builders import BUILDERS
from tests.factories import (
    AnalyticsFactory,
    CharacterFactory,
    ContentFactory,
    PlatformAccountFactory,
    PostFactory,
    ScheduledPostFactory,
)

MAX_CHANGE_PAGE_QUERIES = 25


def change_url(obj) -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])


def queries_for(client, url) -> tuple[int, bytes]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content[-3000:]
    return len(ctx), response.content


def fill_character(character, n):
    """n rows of each thing the character page shows, on three platforms."""
    accounts = [
        PlatformAccountFactory(character=character, platform=p)
        for p in ("instagram", "twitter", "youtube")
    ]
    for i in range(n):
        account = accounts[i % 3]
        ContentFactory(character=character)
        ScheduledPostFactory(
            platform_account=account,
            scheduled_at=timezone.now() + dt.timedelta(hours=i + 1),
        )
        for metric, value in (
            ("follower_count", 1000 + 10 * i),
            ("engagement_rate", 3),
        ):
            AnalyticsFactory(
                platform_account=account,
                metric_type=metric,
                metric_value=value,
                metric_date=dt.date(2026, 1, 1) + dt.timedelta(days=i),
            )


def test_character_page_costs_the_same_with_2_or_15_of_everything(administrator_client):
    small_char, big_char = CharacterFactory(), CharacterFactory()
    fill_character(small_char, 2)
    fill_character(big_char, 15)
    queries_for(administrator_client, change_url(small_char))

    small, _ = queries_for(administrator_client, change_url(small_char))
    big, html = queries_for(administrator_client, change_url(big_char))

    assert big == small <= MAX_CHANGE_PAGE_QUERIES
    # The sections are there: accounts, upcoming posts, content, two charts.
    assert html.count(b'class="series"') == 6  # 2 metrics x 3 platforms
    assert b"Followers" in html and b"Engagement rate" in html
    assert b"Twitter / X" in html
    assert html.count(b"/admin/platforms/scheduledpost/") >= 10
    assert html.count(b"/admin/content/content/") >= 10


def test_character_page_without_analytics_says_so(administrator_client, character):
    _, html = queries_for(administrator_client, change_url(character))
    assert b"no analytics recorded yet" in html


@pytest.mark.parametrize("label", sorted(BUILDERS))
def test_every_change_page_renders_in_bounded_queries(administrator_client, label):
    BUILDERS[label](2)
    obj = apps.get_model(label)._base_manager.first()
    queries_for(administrator_client, change_url(obj))
    n, _ = queries_for(administrator_client, change_url(obj))
    assert n <= MAX_CHANGE_PAGE_QUERIES


@pytest.mark.parametrize("label", sorted(BUILDERS))
def test_every_add_page_renders(administrator_client, label):
    app_label, model_name = label.split(".")
    response = administrator_client.get(reverse(f"admin:{app_label}_{model_name}_add"))
    # System logs, rule runs, events, text jobs, webhook deliveries,
    # notifications and synced post numbers are written by the system only.
    system_only = label in (
        "logs.systemlog",
        "automation.automationrun",
        "logs.event",
        "content.textgeneration",
        "logs.webhookdelivery",
        "logs.notification",
        "platforms.postmetrics",
    )
    assert response.status_code == (403 if system_only else 200)


def test_character_page_links_to_its_rows_in_every_list(administrator_client):
    import re

    mine, other = CharacterFactory(), CharacterFactory()
    fill_character(mine, 2)
    fill_character(other, 2)
    html = administrator_client.get(change_url(mine)).content.decode()
    links = re.findall(r'href="([^"]+character__exact=[^"]+)"', html)
    assert len(links) == 8
    for link in links:
        response = administrator_client.get(link.replace("&amp;", "&"))
        assert response.status_code == 200, link
        model = apps.get_model(*link.split("/")[2:4])
        expected = model._base_manager.filter(character=mine).count()
        if model._meta.model_name in ("scheduledpost", "content", "analytics"):
            assert expected >= 2  # fill_character made some: the filter is tested
        assert response.content.count(b'class="action-select"') == expected, link


def test_character_charts_say_when_each_account_was_last_synced(
    administrator_client, character
):
    synced = dt.datetime(2026, 3, 4, 5, 6, tzinfo=dt.UTC)
    PlatformAccountFactory(
        character=character, platform="instagram", last_synced_at=synced
    )
    PlatformAccountFactory(character=character, platform="youtube", last_synced_at=None)
    queries_for(administrator_client, change_url(character))  # warm the caches
    with_accounts, html = queries_for(administrator_client, change_url(character))
    assert b"Platform numbers last synced: " in html
    # on the character's clock, naming its zone
    local = format_local(synced, character.timezone)
    assert f"Instagram: {local}".encode() in html and b"YouTube: never" in html
    # the charts reuse the accounts table's query
    PlatformAccountFactory(character=character, platform="telegram")
    assert queries_for(administrator_client, change_url(character))[0] == with_accounts


def test_a_post_page_shows_its_last_synced_numbers(administrator_client):
    post = PostFactory(likes_count=1)
    _, html = queries_for(administrator_client, change_url(post))
    assert b"never synced" in html
    apply_post_metrics([(post.pk, 1234, 56, 7, 89_000)])
    _, html = queries_for(administrator_client, change_url(post))
    assert b"1,234 likes, 56 comments, 7 shares, 89,000 views" in html


@pytest.mark.parametrize(("days_ago", "queries"), [(3, 10), (400, 11)])
def test_character_page_queries_with_recent_or_stopped_analytics(
    administrator_client, days_ago, queries
):
    """Session, user, character, personality, appearance, the voice preview,
    the accounts, upcoming posts, latest content, and the charts' analytics
    read: over the recent partitions for a character whose numbers are
    recent; a second read over every partition when its sync stopped."""
    character = CharacterFactory()
    fill_character(character, 3)
    day = timezone.now().date() - dt.timedelta(days=days_ago)
    from analytics.models import Analytics

    Analytics.objects.filter(character=character).update(metric_date=day)
    url = change_url(character)
    queries_for(administrator_client, url)

    n, html = queries_for(administrator_client, url)

    assert n == queries
    assert html.count(b'class="series"') == 6
