"""The daily analytics snapshot: one set-based upsert per day, milestones."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from analytics.models import Analytics
from analytics.snapshot import daily_snapshot
from automation.models import AutomationRun
from characters.services import character_soft_delete
from logs.models import Event
from logs.outbox import dispatch_events
from platforms.sync import apply_post_metrics, post_metrics_fold
from tests import factories as f

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 11, 24)


def published(account, *, likes, comments=0, shares=0, views=0, days_ago=1):
    when = timezone.now() - dt.timedelta(days=days_ago)
    return f.PostFactory(
        platform_account=account,
        status="published",
        published_at=when,
        likes_count=likes,
        comments_count=comments,
        shares_count=shares,
        views_count=views,
    )


def metrics(account, day=TODAY):
    return dict(
        Analytics.objects.filter(platform_account=account, metric_date=day).values_list(
            "metric_type", "metric_value"
        )
    )


def test_every_account_gets_its_counters_and_post_totals():
    account = f.PlatformAccountFactory(
        platform="instagram", follower_count=2000, following_count=150, post_count=3
    )
    published(account, likes=100, comments=20, shares=5, views=1000)
    published(account, likes=60, comments=10, shares=5, views=500)
    published(account, likes=1000, views=9000, days_ago=400)  # old: totals only
    f.PostFactory(platform_account=account, status="draft", likes_count=999)
    quiet = f.PlatformAccountFactory(platform="twitter", follower_count=0)

    written = daily_snapshot(timezone.now().date())

    assert written == 16  # 8 metrics x 2 accounts
    got = metrics(account, timezone.now().date())
    assert got == {
        "follower_count": Decimal("2000.00"),
        "following_count": Decimal("150.00"),
        "post_count": Decimal("3.00"),
        "likes_count": Decimal("1160.00"),
        "comments_count": Decimal("30.00"),
        "shares_count": Decimal("10.00"),
        "views_count": Decimal("10500.00"),
        # (125 + 75) / 2 posts in 30 days / 2000 followers = 5 %
        "engagement_rate": Decimal("5.00"),
    }
    assert metrics(quiet, timezone.now().date())["engagement_rate"] == 0
    row = Analytics.objects.filter(platform_account=account).first()
    assert row.character_id == account.character_id and row.platform == "instagram"


def test_post_totals_are_the_last_synced_numbers_before_any_fold():
    account = f.PlatformAccountFactory(platform="instagram", follower_count=100)
    synced = published(account, likes=1, comments=1, shares=1, views=1)
    published(account, likes=40, views=400)  # never synced: its own numbers
    apply_post_metrics([(synced.pk, 500, 50, 5, 5000)])

    daily_snapshot(timezone.now().date())

    got = metrics(account, timezone.now().date())
    assert (got["likes_count"], got["comments_count"]) == (540, 50)
    assert (got["shares_count"], got["views_count"]) == (5, 5400)
    # (555 + 40) / 2 posts / 100 followers
    assert got["engagement_rate"] == Decimal("297.50")
    synced.refresh_from_db()
    assert synced.likes_count == 1  # the posts' cached column is not read


def test_post_totals_mix_folded_and_pending_numbers():
    # the posts' own numbers where the fold has caught up, the synced ones
    # where it has not; an old post's numbers count in the totals, not the rate
    account = f.PlatformAccountFactory(platform="instagram", follower_count=100)
    folded = published(account, likes=1, comments=1)
    again = published(account, likes=2, comments=2)
    old = published(account, likes=3, views=3, days_ago=90)
    apply_post_metrics([(folded.pk, 10, 1, 0, 0), (again.pk, 20, 2, 0, 0)])
    post_metrics_fold()
    apply_post_metrics([(again.pk, 30, 4, 0, 0), (old.pk, 300, 0, 0, 7)])

    daily_snapshot(timezone.now().date())

    got = metrics(account, timezone.now().date())
    assert (got["likes_count"], got["comments_count"]) == (340, 5)
    assert got["views_count"] == 7
    # (11 + 34) / 2 recent posts / 100 followers
    assert got["engagement_rate"] == Decimal("22.50")


def test_running_twice_rewrites_the_day_instead_of_adding_rows():
    account = f.PlatformAccountFactory(platform="instagram", follower_count=10)
    daily_snapshot(TODAY)
    account.follower_count = 25
    account.save()
    daily_snapshot(TODAY)
    assert Analytics.objects.filter(platform_account=account).count() == 8
    assert metrics(account)["follower_count"] == 25


def test_one_statement_for_any_number_of_accounts(django_assert_num_queries):
    f.PlatformAccountFactory.create_batch(30)
    # savepoint, upsert, milestone look-up, release (no account grew: no event)
    with django_assert_num_queries(4):
        assert daily_snapshot(TODAY) == 240


def test_deleted_characters_are_left_out():
    account = f.PlatformAccountFactory()
    character_soft_delete(character=account.character)
    assert daily_snapshot(TODAY) == 0


def test_a_crossed_follower_milestone_fires_the_characters_rule():
    account = f.PlatformAccountFactory(platform="instagram", follower_count=9900)
    f.ContentFactory(character=account.character, approved=True, content_type="image")
    rule = f.AutomationRuleFactory(
        character=account.character,
        trigger_type="event",
        trigger_config={"event": "follower_milestone", "every": 1000},
        platforms=["instagram"],
        min_content_quality=0,
    )
    f.PlatformAccountFactory(follower_count=500)  # did not grow: no event
    daily_snapshot(TODAY - dt.timedelta(days=1))
    account.follower_count = 10_050
    account.save()
    daily_snapshot(TODAY)
    # one event, for the account that grew, written with the snapshot
    event = Event.objects.get()
    assert (event.name, event.character_id) == (
        "follower_milestone",
        account.character_id,
    )
    assert event.payload == {
        "platform": "instagram",
        "platform_account_id": str(account.pk),
        "previous": 9900,
        "current": 10_050,
    }
    dispatch_events()
    run = AutomationRun.objects.get(rule=rule)
    assert (run.trigger, run.outcome) == ("event", "scheduled")


def test_a_milestone_compares_with_the_latest_snapshot_however_old():
    grew = f.PlatformAccountFactory(platform="instagram", follower_count=900)
    recent = f.PlatformAccountFactory(platform="twitter", follower_count=100)
    daily_snapshot(TODAY - dt.timedelta(days=60))  # beyond the recent window
    recent.follower_count = 150
    recent.save()
    daily_snapshot(TODAY - dt.timedelta(days=3))
    grew.follower_count = 1200
    grew.save()
    # only `grew`'s latest snapshot is 60 days old; `recent` grew 100 -> 150
    # 60 days ago, its latest (3 days ago, 150) is the one compared with
    Analytics.objects.filter(
        platform_account=grew, metric_date=TODAY - dt.timedelta(days=3)
    ).delete()
    Event.objects.all().delete()
    recent.follower_count = 170
    recent.save()

    daily_snapshot(TODAY)

    got = {
        e.payload["platform_account_id"]: (e.payload["previous"], e.payload["current"])
        for e in Event.objects.filter(name="follower_milestone")
    }
    assert got == {str(grew.pk): (900, 1200), str(recent.pk): (150, 170)}
