"""The real claim queries of the queues (publishing, engagement, generation,
the events outbox) read through their partial indexes on tables large enough
for the planner's choice to matter: 100,000 rows of which a few hundred are
waiting (the shape of a live system)."""

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from content.generation import QUEUE as GENERATIONS
from content.textgen import QUEUE as TEXTS
from logs.outbox import QUEUE as EVENTS
from platforms.engagement import QUEUE as ENGAGEMENT
from platforms.publishing import QUEUE as PUBLISHING
from tests import factories as f
from tests.schema.test_query_patterns import analyze, plan, seq_scanned

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
ROWS = 100_000


def fill(sql: str, *params) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def account():
    accounts = f.PlatformAccountFactory.create_batch(20, auto_engagement_enabled=True)
    return accounts[0]


def test_the_publishing_claim_reads_through_its_partial_index(account):
    fill(
        """
        INSERT INTO scheduled_posts (character_id, platform_account_id, scheduled_at,
                                     status, published_at, created_at)
        SELECT %s, %s, now() - interval '2 days' + (g || ' seconds')::interval,
               CASE WHEN g %% 250 = 0 THEN 'scheduled' ELSE 'published' END,
               CASE WHEN g %% 250 = 0 THEN NULL ELSE now() END,
               now() - interval '2 days'
        FROM generate_series(1, %s) g
        """,
        account.character_id,
        account.pk,
        ROWS,
    )
    analyze("scheduled_posts", "platform_accounts")
    now = timezone.now()
    waiting = plan(PUBLISHING.waiting_rows(now)[:50])
    assert "idx_sched_posts_scheduled_at" in waiting
    assert "scheduled_posts" not in seq_scanned(waiting)
    expired = plan(PUBLISHING.expired_rows(now)[:50])
    assert "scheduled_posts" not in seq_scanned(expired)
    # and the claim takes exactly the due ones
    assert len(PUBLISHING.claim(limit=1000, now=now)) == ROWS // 250


def test_the_engagement_claim_reads_through_its_partial_index(account):
    fill(
        """
        INSERT INTO engagement_actions (character_id, platform_account_id, platform,
                                        action_type, status, completed_at)
        SELECT %s, %s, %s, 'like',
               CASE WHEN g %% 250 = 0 THEN 'pending' ELSE 'completed' END,
               CASE WHEN g %% 250 = 0 THEN NULL ELSE now() END
        FROM generate_series(1, %s) g
        """,
        account.character_id,
        account.pk,
        account.platform,
        ROWS,
    )
    analyze("engagement_actions", "platform_accounts")
    now = timezone.now() + dt.timedelta(seconds=1)
    waiting = plan(ENGAGEMENT.waiting_rows(now)[:50])
    assert "idx_engagement_pending" in waiting
    assert "engagement_actions" not in seq_scanned(waiting)
    assert "engagement_actions" not in seq_scanned(
        plan(ENGAGEMENT.expired_rows(now)[:50])
    )


def test_the_generation_claim_reads_through_its_partial_index(account):
    fill(
        """
        INSERT INTO content_generations (character_id, job_type, prompt, status,
                                         started_at, completed_at, priority,
                                         generation_settings)
        SELECT %s, 'image', 'p' || g,
               CASE WHEN g %% 250 = 0 THEN 'pending' ELSE 'completed' END,
               CASE WHEN g %% 250 = 0 THEN NULL ELSE now() END,
               CASE WHEN g %% 250 = 0 THEN NULL ELSE now() END,
               1 + g %% 10, '{}'::jsonb
        FROM generate_series(1, %s) g
        """,
        account.character_id,
        ROWS,
    )
    analyze("content_generations")
    now = timezone.now() + dt.timedelta(seconds=1)
    waiting = plan(GENERATIONS.waiting_rows(now)[:5])
    assert "idx_generations_pending" in waiting
    assert "content_generations" not in seq_scanned(waiting)
    assert "content_generations" not in seq_scanned(
        plan(GENERATIONS.expired_rows(now)[:5])
    )


def test_the_outbox_claim_reads_through_its_partial_index():
    fill(
        """
        INSERT INTO events (name, character_id, payload, status, created_at)
        SELECT 'post_published', NULL, '{}'::jsonb,
               CASE WHEN g %% 250 = 0 THEN 'pending' ELSE 'done' END,
               now() - interval '2 days' + (g || ' seconds')::interval
        FROM generate_series(1, %s) g
        """,
        ROWS,
    )
    analyze("events")
    now = timezone.now()
    waiting = plan(EVENTS.waiting_rows(now)[:300])
    assert "idx_events_pending" in waiting
    assert "events" not in seq_scanned(waiting)
    expired = plan(EVENTS.expired_rows(now)[:300])
    assert "events" not in seq_scanned(expired)
    assert len(EVENTS.claim(limit=1000, now=now)) == ROWS // 250


def test_the_text_claim_reads_through_its_partial_index(account):
    fill(
        """
        INSERT INTO text_generations (character_id, purpose, status, priority,
                                      completed_at)
        SELECT %s, 'voice_preview',
               CASE WHEN g %% 250 = 0 THEN 'pending' ELSE 'completed' END,
               1 + g %% 10,
               CASE WHEN g %% 250 = 0 THEN NULL ELSE now() END
        FROM generate_series(1, %s) g
        """,
        account.character_id,
        ROWS,
    )
    analyze("text_generations")
    now = timezone.now() + dt.timedelta(seconds=1)
    waiting = plan(TEXTS.waiting_rows(now)[:10])
    assert "idx_text_generations_pending" in waiting
    assert "text_generations" not in seq_scanned(waiting)
    assert "text_generations" not in seq_scanned(plan(TEXTS.expired_rows(now)[:10]))
    assert len(TEXTS.claim(limit=1000, now=now)) == ROWS // 250


def test_the_engagement_claim_skips_actions_waiting_for_text_in_its_index(account):
    fill(
        """
        INSERT INTO engagement_actions (character_id, platform_account_id, platform,
                                        action_type, status, completed_at,
                                        comment_text)
        SELECT %s, %s, %s, 'comment',
               CASE WHEN g %% 250 = 0 THEN 'pending' ELSE 'completed' END,
               CASE WHEN g %% 250 = 0 THEN NULL ELSE now() END,
               CASE WHEN g %% 500 = 0 THEN NULL ELSE 'nice!' END
        FROM generate_series(1, %s) g
        """,
        account.character_id,
        account.pk,
        account.platform,
        ROWS,
    )
    analyze("engagement_actions", "platform_accounts")
    now = timezone.now() + dt.timedelta(seconds=1)
    waiting = plan(ENGAGEMENT.waiting_rows(now)[:50])
    assert "idx_engagement_pending" in waiting
    # half the pending comments have their text: only those are taken
    assert len(ENGAGEMENT.claim(limit=1000, now=now)) == ROWS // 500
