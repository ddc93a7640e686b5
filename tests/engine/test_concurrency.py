"""Several workers on thousands of due posts publish each exactly once."""

import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from platforms.models import Post, ScheduledPost
from platforms.publishing import publish_due_posts
from tests import factories as f
from tests.engine import platform_fakes

N_POSTS = 2000
N_WORKERS = 4


@pytest.fixture(autouse=True)
def one_lane_each(settings):
    """The workers here are threads of one process and share its connection
    pool (10): each publishes one post at a time. A worker's own lanes race
    each other in test_lanes.py."""
    settings.PUBLISH_CALLS_IN_FLIGHT = 1


def _insert_due_posts(accounts, content_by_character, n):
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO scheduled_posts (character_id, platform_account_id, content_id,
                                         scheduled_at, caption, post_type)
            SELECT (%s::uuid[])[1 + g %% %s], (%s::uuid[])[1 + g %% %s],
                   (%s::uuid[])[1 + g %% %s], now(), 'post ' || g, 'post'
            FROM generate_series(1, %s) g
            """,
            [
                [a.character_id for a in accounts],
                len(accounts),
                [a.pk for a in accounts],
                len(accounts),
                [content_by_character[a.character_id] for a in accounts],
                len(accounts),
                n,
            ],
        )


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
@pytest.mark.usefixtures("dry_run")
def test_four_workers_publish_two_thousand_posts_exactly_once():
    accounts = [
        f.PlatformAccountFactory(platform=platform)
        for platform in ("instagram", "twitter", "telegram", "youtube", "facebook")
    ]
    content = {
        a.character_id: f.ContentFactory(character=a.character, approved=True).pk
        for a in accounts
    }
    _insert_due_posts(accounts, content, N_POSTS)
    results, errors = [], []
    start = threading.Barrier(N_WORKERS)

    def worker():
        try:
            start.wait()
            # a correctness test: the budget is not what is measured here
            results.append(
                publish_due_posts(batch=25, now=timezone.now(), time_budget=600)
            )
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(N_WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors
    assert sum(results) == N_POSTS
    assert all(r > 0 for r in results), results  # the work was shared
    assert Post.objects.count() == N_POSTS
    assert Post.objects.values("platform_post_id").distinct().count() == N_POSTS
    assert not ScheduledPost.objects.exclude(status="published").exists()
    assert ScheduledPost.objects.values("post_id").distinct().count() == N_POSTS


N_PER_PLATFORM = 120


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
@pytest.mark.parametrize("platform", platform_fakes.PLATFORMS)
def test_four_workers_publish_through_each_adapter_exactly_once(
    platform, settings, tmp_path
):
    """The same race as above through each real adapter and its loopback fake:
    every post reaches the platform once and is recorded once."""
    with platform_fakes.wired(platform, media_root=tmp_path) as w:
        for name, value in w.settings.items():
            setattr(settings, name, value)
        settings.PLATFORM_ADAPTERS = {platform: platform_fakes.ADAPTERS[platform]}
        account, content = platform_fakes.account_and_content(w, tmp_path)
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO scheduled_posts (character_id, platform_account_id,
                       content_id, scheduled_at, caption, post_type)
                SELECT %s, %s, %s, now(), 'post ' || g, %s
                FROM generate_series(1, %s) g
                """,
                [
                    account.character_id,
                    account.pk,
                    content and content.pk,
                    w.post_type,
                    N_PER_PLATFORM,
                ],
            )
        results, errors = [], []
        start = threading.Barrier(N_WORKERS)

        def worker():
            try:
                start.wait()
                results.append(
                    publish_due_posts(
                        batch=10,
                        now=timezone.now(),
                        time_budget=settings.QUEUE_TASK_BUDGET,
                    )
                )
            except Exception as exc:  # surfaced below
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=worker) for _ in range(N_WORKERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert not errors, errors
        delivered = w.delivered()
    assert sum(results) == N_PER_PLATFORM
    assert len(delivered) == len(set(delivered)) == N_PER_PLATFORM
    assert Post.objects.count() == N_PER_PLATFORM
    assert not ScheduledPost.objects.exclude(status="published").exists()
