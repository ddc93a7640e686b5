"""The metrics sync: claims, numbers from a platform fake, set-based writes."""

import datetime as dt

import pytest
from django.utils import timezone

from platforms.adapters import PublishRequest, get_adapter
from platforms.models import Post
from platforms.sync import (
    apply_post_metrics,
    claim_accounts_for_sync,
    sync_platform_metrics,
)
from tests import factories as f
from tests.fakes.x import TOKEN, USER_ID, FakeX

pytestmark = pytest.mark.django_db


@pytest.fixture
def x(settings):
    with FakeX() as server:
        settings.X_API_BASE = server.url
        settings.PLATFORM_ADAPTERS = {
            "twitter": "platforms.adapters.x.XAdapter",
            "*": "platforms.adapters.dryrun.DryRunAdapter",
        }
        yield server


@pytest.fixture
def x_account(db):
    return f.PlatformAccountFactory(
        platform="twitter",
        account_id=USER_ID,
        auth_data={"access_token": TOKEN},
        follower_count=1,
    )


def test_due_accounts_are_claimed_once_never_synced_first(settings):
    now = timezone.now()
    fresh = f.PlatformAccountFactory(last_synced_at=now)
    stale = f.PlatformAccountFactory(last_synced_at=now - dt.timedelta(hours=2))
    never = f.PlatformAccountFactory(last_synced_at=None)
    limited = f.PlatformAccountFactory(
        connection_status="rate_limited",
        rate_limit_reset_at=now + dt.timedelta(hours=1),
    )
    parked = f.PlatformAccountFactory(connection_status="error")
    assert fresh.last_synced_at == now  # synced just now: not due
    claimed = claim_accounts_for_sync(limit=10, now=now)
    assert claimed[0] == never.pk and set(claimed) == {never.pk, stale.pk}
    assert limited.pk not in claimed and parked.pk not in claimed
    assert claim_accounts_for_sync(limit=10, now=now) == []  # leased
    later = now + dt.timedelta(seconds=settings.METRICS_SYNC_LEASE_SECONDS + 1)
    assert set(claim_accounts_for_sync(limit=10, now=later)) == {never.pk, stale.pk}


def test_a_sync_brings_followers_and_recent_post_metrics(x, x_account):
    adapter = get_adapter(x_account)
    recent = adapter.publish(PublishRequest(marker="a", caption="recent"))
    old = adapter.publish(PublishRequest(marker="b", caption="old"))
    x.tweets[recent.platform_post_id]["metrics"].update(
        like_count=11, impression_count=90
    )
    x.tweets[old.platform_post_id]["metrics"].update(like_count=99)
    now = timezone.now()
    kept = f.PostFactory(
        platform_account=x_account,
        platform_post_id=recent.platform_post_id,
        published_at=now - dt.timedelta(days=1),
        likes_count=0,
    )
    too_old = f.PostFactory(
        platform_account=x_account,
        platform_post_id=old.platform_post_id,
        published_at=now - dt.timedelta(days=40),
        likes_count=0,
    )
    assert sync_platform_metrics(now=now) == {"accounts": 1, "posts": 1, "problems": 0}
    x_account.refresh_from_db()
    assert x_account.follower_count == 4321 and x_account.post_count == 2
    assert x_account.last_synced_at == now and x_account.sync_locked_until is None
    kept.refresh_from_db()
    assert (kept.likes_count, kept.views_count) == (11, 90)
    assert kept.last_engagement_sync_at == now
    too_old.refresh_from_db()
    assert too_old.likes_count == 0  # outside METRICS_SYNC_POST_DAYS
    lookups = [c for c in x.calls if c["path"] == "/2/tweets" and c["method"] == "GET"]
    assert [c["params"]["ids"] for c in lookups] == [recent.platform_post_id]


def test_a_rate_limit_during_sync_marks_the_account(x, x_account):
    x.mode = "429"
    result = sync_platform_metrics()
    assert result["problems"] == 1
    x_account.refresh_from_db()
    assert x_account.connection_status == "rate_limited"
    assert x_account.last_synced_at is None and x_account.sync_locked_until is None


def test_refused_credentials_park_the_account(x, x_account):
    x.mode = "401"
    sync_platform_metrics()
    x_account.refresh_from_db()
    assert x_account.connection_status == "error" and not x_account.is_connected


def test_an_adapter_without_numbers_only_marks_the_sync(x):
    account = f.PlatformAccountFactory(platform="onlyfans", follower_count=70)
    assert sync_platform_metrics()["accounts"] == 1
    account.refresh_from_db()
    assert account.follower_count == 70 and account.last_synced_at is not None


def test_metrics_for_a_batch_are_one_update(django_assert_num_queries, x_account):
    posts = [
        f.PostFactory(platform_account=x_account, platform_post_id=f"t{n}")
        for n in range(30)
    ]
    rows = [
        ("twitter", p.platform_post_id, n, n + 1, n + 2, n + 3)
        for n, p in enumerate(posts)
    ]
    rows.append(("twitter", "unknown-id", 1, 1, 1, 1))
    with django_assert_num_queries(1):
        assert apply_post_metrics(rows) == 30
    assert sorted(Post.objects.values_list("likes_count", flat=True)) == list(range(30))
