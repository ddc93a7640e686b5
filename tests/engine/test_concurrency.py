"""Several workers on thousands of due posts publish each exactly once."""

import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from platforms.models import Post, ScheduledPost
from platforms.publishing import publish_due_posts
from tests import factories as f

N_POSTS = 2000
N_WORKERS = 4


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
