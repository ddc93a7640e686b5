"""The metrics sync: claims, numbers from a platform fake, set-based writes."""

import datetime as dt

import psycopg
import pytest
from django.db import DataError, connection, transaction
from django.utils import timezone

from config.celery import app as celery_app
from platforms.adapters import PublishRequest, get_adapter
from platforms.models import Post, PostMetrics
from platforms.sync import (
    BATCH_TABLE,
    UPDATE_POST_METRICS,
    apply_post_metrics,
    claim_accounts_for_sync,
    post_metrics_fold,
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
    synced = PostMetrics.objects.get(post=kept)
    assert (synced.likes_count, synced.views_count, synced.synced_at) == (11, 90, now)
    kept.refresh_from_db()
    assert kept.likes_count == 0  # the posts' cached columns wait for the fold
    assert post_metrics_fold() == 1
    kept.refresh_from_db()
    assert (kept.likes_count, kept.views_count) == (11, 90)
    assert kept.last_engagement_sync_at == now
    too_old.refresh_from_db()
    assert too_old.likes_count == 0  # outside METRICS_SYNC_POST_DAYS
    assert not PostMetrics.objects.filter(post=too_old).exists()
    lookups = [c for c in x.calls if c["path"] == "/2/tweets" and c["method"] == "GET"]
    assert [c["params"]["ids"] for c in lookups] == [recent.platform_post_id]


def test_a_count_over_the_columns_range_is_held_at_its_top(x, x_account):
    adapter = get_adapter(x_account)
    viral = adapter.publish(PublishRequest(marker="v", caption="viral"))
    quiet = adapter.publish(PublishRequest(marker="q", caption="quiet"))
    x.tweets[viral.platform_post_id]["metrics"].update(impression_count=5 * 10**9)
    x.tweets[quiet.platform_post_id]["metrics"].update(like_count=3)
    now = timezone.now()
    posts = [
        f.PostFactory(
            platform_account=x_account,
            platform_post_id=r.platform_post_id,
            published_at=now - dt.timedelta(hours=1),
        )
        for r in (viral, quiet)
    ]
    # one post's five billion views do not fail the account's whole batch
    assert sync_platform_metrics(now=now)["posts"] == 2
    views = dict(PostMetrics.objects.values_list("post_id", "views_count"))
    assert views[posts[0].pk] == 2**31 - 1
    assert PostMetrics.objects.get(post=posts[1]).likes_count == 3


def test_applying_a_number_the_column_cannot_hold_is_refused_not_wrapped():
    post = f.PostFactory()
    # 2**32 + 5 would land as 5 if the batch's numbers were sent as int4
    with pytest.raises(DataError, match="integer out of range"), transaction.atomic():
        apply_post_metrics([(post.pk, 2**32 + 5, 0, 0, 0)])
    assert not PostMetrics.objects.filter(post=post).exists()


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


def test_metrics_for_a_batch_cost_the_same_statements(
    django_assert_num_queries, x_account
):
    posts = [f.PostFactory(platform_account=x_account) for _ in range(30)]
    gone = f.PostFactory(platform_account=x_account)
    gone_id = gone.pk
    gone.delete()  # deleted after the sync read its id: skipped, not an error
    first = [(p.pk, n, n + 1, n + 2, n + 3) for n, p in enumerate(posts)]
    # scratch table, one UPDATE, the INSERT of new rows when the UPDATE left
    # some, drop; the COPY between them goes to psycopg directly, past
    # Django's query log
    with django_assert_num_queries(4):  # new rows: inserted
        assert apply_post_metrics([*first, (gone_id, 1, 1, 1, 1)]) == 30
    again = [(p.pk, 2 * n, 0, 0, 7) for n, p in enumerate(posts)]
    with django_assert_num_queries(3):  # known rows: updated in place
        assert apply_post_metrics(again) == 30
    assert PostMetrics.objects.count() == 30
    assert sorted(PostMetrics.objects.values_list("likes_count", flat=True)) == [
        2 * n for n in range(30)
    ]
    assert set(PostMetrics.objects.values_list("views_count", flat=True)) == {7}
    # some known, some new: one statement of each
    more = [f.PostFactory(platform_account=x_account) for _ in range(5)]
    with django_assert_num_queries(4):
        assert apply_post_metrics(again + [(p.pk, 1, 1, 1, 1) for p in more]) == 35
    assert PostMetrics.objects.count() == 35


def test_applying_metrics_probes_the_primary_key_whatever_the_statistics(x_account):
    """The apply's join is one plan: each batch row looks its post_metrics row
    up by primary key (a cost that follows the batch). Left to the planner, a
    batch as large as the table got a hash join that reads all of post_metrics
    (or, on the scale database after an ANALYZE, a merge join over its whole
    primary key, 2-3x slower); the planner is as it was afterwards."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO posts (platform, platform_account_id, character_id) "
            "SELECT a.platform, a.id, a.character_id FROM platform_accounts a, "
            "generate_series(1, 3000) WHERE a.id = %s",
            [x_account.pk],
        )
        cursor.execute(
            "INSERT INTO post_metrics (post_id, synced_at) SELECT id, now() FROM posts"
        )
        cursor.execute("ANALYZE post_metrics")
        with transaction.atomic():
            cursor.execute(BATCH_TABLE)
            cursor.execute(
                "INSERT INTO post_metrics_batch SELECT post_id, 1, 2, 3, 4 "
                "FROM post_metrics"
            )
            cursor.execute("EXPLAIN " + UPDATE_POST_METRICS, {"now": timezone.now()})
            plan = "\n".join(row[0] for row in cursor.fetchall())
            transaction.set_rollback(True)
    update = plan
    assert "Nested Loop" in update, plan
    assert "Index Scan using post_metrics_pkey on post_metrics m" in update, plan
    assert "Hash" not in update and "Merge" not in update, plan
    # the batch is probed in key order
    assert "Sort Key: post_metrics_batch.post_id" in update, plan

    rows = [(pk, 5, 6, 7, 8) for pk in Post.objects.values_list("pk", flat=True)]
    with transaction.atomic():
        assert apply_post_metrics(rows) == 3000
        with connection.cursor() as cursor:
            cursor.execute("SHOW enable_hashjoin")
            assert cursor.fetchone() == ("on",)  # for the caller's next statements
            cursor.execute("SHOW enable_mergejoin")
            assert cursor.fetchone() == ("on",)
    assert set(PostMetrics.objects.values_list("likes_count", flat=True)) == {5}


def test_the_fold_copies_only_numbers_that_changed(django_assert_num_queries):
    moved = f.PostFactory(likes_count=1, comments_count=2)
    same = f.PostFactory(likes_count=5, comments_count=6, shares_count=7, views_count=0)
    never_synced = f.PostFactory(likes_count=9)
    now = timezone.now()
    apply_post_metrics([(moved.pk, 10, 20, 30, 40), (same.pk, 5, 6, 7, 0)], now=now)
    with django_assert_num_queries(2):  # the table's size, one chunk of pages
        assert post_metrics_fold() == 1
    moved.refresh_from_db()
    assert (
        moved.likes_count,
        moved.comments_count,
        moved.shares_count,
        moved.views_count,
    ) == (10, 20, 30, 40)
    assert moved.last_engagement_sync_at == now
    same.refresh_from_db()
    assert same.last_engagement_sync_at is None  # not rewritten
    never_synced.refresh_from_db()
    assert never_synced.likes_count == 9
    assert post_metrics_fold() == 0  # nothing left to copy


def test_the_fold_walks_every_chunk_of_pages():
    account = f.PlatformAccountFactory()
    posts = [f.PostFactory(platform_account=account, likes_count=0) for _ in range(150)]
    apply_post_metrics([(p.pk, n + 1, 0, 0, 0) for n, p in enumerate(posts)])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(DISTINCT (ctid::text::point)[0]) FROM post_metrics"
        )
        assert cursor.fetchone()[0] >= 2  # the rows span several pages
    assert post_metrics_fold(chunk_pages=1) == 150
    assert sorted(Post.objects.values_list("likes_count", flat=True)) == list(
        range(1, 151)
    )
    assert not PostMetrics.objects.filter(fold_pending=True).exists()


@pytest.mark.django_db(transaction=True)
def test_the_fold_skips_rows_a_running_sync_holds():
    post = f.PostFactory(likes_count=0)
    apply_post_metrics([(post.pk, 5, 0, 0, 0)])
    with psycopg.connect(**connection.get_connection_params()) as sync:
        sync.execute(
            "SELECT 1 FROM post_metrics WHERE post_id = %s FOR UPDATE", [post.pk]
        )
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '5s'")  # waiting would fail the test
        assert post_metrics_fold() == 0
        sync.rollback()
    assert PostMetrics.objects.get(post=post).fold_pending
    assert post_metrics_fold() == 1


def test_deleting_a_post_deletes_its_metrics():
    post = f.PostFactory()
    apply_post_metrics([(post.pk, 1, 2, 3, 4)])
    post.delete()
    assert not PostMetrics.objects.exists()


@pytest.fixture
def eager():
    celery_app.conf.task_always_eager = True  # a task's .delay() runs inline
    yield
    celery_app.conf.task_always_eager = False


def test_a_sync_task_that_brought_numbers_folds_them_into_posts(x, x_account, eager):
    from platforms.tasks import sync_platform_metrics as task

    adapter = get_adapter(x_account)
    sent = adapter.publish(PublishRequest(marker="a", caption="recent"))
    x.tweets[sent.platform_post_id]["metrics"].update(like_count=7)
    post = f.PostFactory(
        platform_account=x_account,
        platform_post_id=sent.platform_post_id,
        published_at=timezone.now() - dt.timedelta(hours=3),
        likes_count=0,
    )
    assert task.apply().get()["posts"] == 1
    post.refresh_from_db()
    assert post.likes_count == 7  # no wait for the periodic fold
