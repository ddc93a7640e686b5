"""The document's three query patterns (section 7.1) as selectors: right rows,
constant queries, and plans that use the intended index on a filled table."""

import datetime as dt
import json

import pytest
from django.db import connection
from django.utils import timezone

from characters.selectors import character_with_stats, characters_with_stats
from content.selectors import content_for_character
from platforms.models import ScheduledPost
from platforms.selectors import due_scheduled_posts
from tests import factories as f


def plan(queryset) -> str:
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        return json.dumps(cursor.fetchone()[0])


def seq_scanned(plan_json: str) -> set[str]:
    """Tables read by a sequential scan anywhere in the plan."""
    found = set()

    def walk(node):
        if node.get("Node Type") == "Seq Scan":
            found.add(node["Relation Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk(json.loads(plan_json)[0]["Plan"])
    return found


def analyze(*tables):
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"ANALYZE {table}")


@pytest.mark.django_db
def test_character_with_stats_counts_posts_and_accounts_in_one_query(
    django_assert_num_queries,
):
    character = f.CharacterFactory()
    for platform in ("instagram", "telegram"):
        account = f.PlatformAccountFactory(character=character, platform=platform)
        f.PostFactory.create_batch(3, platform_account=account)
    f.PostFactory.create_batch(2)  # someone else's
    with django_assert_num_queries(1):
        c = character_with_stats(character.pk)
        assert (c.post_count, c.platform_count) == (6, 2)
        assert c.personality.character_id == c.pk
        assert c.appearance.character_id == c.pk


@pytest.mark.django_db
def test_characters_with_stats_is_one_query_for_any_number(django_assert_num_queries):
    f.CharacterFactory.create_batch(5)
    with django_assert_num_queries(1):
        rows = list(characters_with_stats())
        assert all(r.personality and r.appearance for r in rows)
        assert [r.post_count for r in rows] == [0] * 5


@pytest.mark.django_db
def test_due_scheduled_posts_are_the_scheduled_ones_whose_time_came():
    now = timezone.now()
    due = f.ScheduledPostFactory()
    ScheduledPost.objects.filter(pk=due.pk).update(scheduled_at=due.created_at)
    f.ScheduledPostFactory(scheduled_at=now + dt.timedelta(hours=1))
    cancelled = f.ScheduledPostFactory(status="cancelled")
    ScheduledPost.objects.filter(pk=cancelled.pk).update(
        scheduled_at=cancelled.created_at
    )
    assert list(due_scheduled_posts(now=now + dt.timedelta(seconds=1))) == [due]


@pytest.mark.django_db
def test_content_for_character_filters_and_orders():
    character = f.CharacterFactory()
    wanted = f.ContentFactory.create_batch(
        3, character=character, content_type="image", approved=True
    )
    f.ContentFactory(character=character, content_type="image")  # not approved
    f.ContentFactory(character=character, content_type="video", approved=True)
    f.ContentFactory(content_type="image", approved=True)  # someone else
    got = list(content_for_character(character_id=character.pk, content_type="image"))
    assert set(got) == set(wanted)
    assert [c.created_at for c in got] == sorted(
        (c.created_at for c in got), reverse=True
    )


def _fill(sql_body: str, *params):
    with connection.cursor() as cursor:
        cursor.execute(sql_body, params)


@pytest.mark.django_db
@pytest.mark.slow
def test_query_plans_use_the_intended_indexes():
    """With a few thousand rows, each pattern reads through its index."""
    account = f.PlatformAccountFactory(platform="instagram")
    character = account.character
    f.CharacterFactory.create_batch(3)
    # 20,000 scheduled posts, 1% of them still 'scheduled'
    _fill(
        """
        INSERT INTO scheduled_posts
            (character_id, platform_account_id, scheduled_at, status, published_at)
        SELECT %s, %s, now() + (g || ' minutes')::interval,
               CASE WHEN g %% 100 = 0 THEN 'scheduled' ELSE 'published' END,
               CASE WHEN g %% 100 = 0 THEN NULL ELSE now() END
        FROM generate_series(1, 20000) g
        """,
        character.pk,
        account.pk,
    )
    # 20,000 content rows over 20 characters
    others = [c.pk for c in f.CharacterFactory.create_batch(19)] + [character.pk]
    _fill(
        """
        INSERT INTO content (character_id, content_type, file_path, width, height,
                             approval_status, is_approved)
        SELECT (%s::uuid[])[1 + g %% 20], (ARRAY['image','video'])[1 + g %% 2],
               'f/' || g, 10, 10,
               CASE WHEN g %% 3 = 0 THEN 'approved' ELSE 'pending' END, g %% 3 = 0
        FROM generate_series(1, 20000) g
        """,
        others,
    )
    # 20,000 posts over 20 characters' accounts
    accounts = [account] + [
        f.PlatformAccountFactory(character_id=pk, platform="instagram")
        for pk in others[:-1]
    ]
    _fill(
        """
        INSERT INTO posts (character_id, platform_account_id, platform, status, published_at)
        SELECT (%s::uuid[])[1 + g %% 20], (%s::uuid[])[1 + g %% 20], 'instagram',
               'published', now() - (g || ' minutes')::interval
        FROM generate_series(1, 20000) g
        """,
        [a.character_id for a in accounts],
        [a.pk for a in accounts],
    )
    analyze("scheduled_posts", "content", "posts", "characters", "platform_accounts")

    due_plan = plan(due_scheduled_posts(now=timezone.now() + dt.timedelta(days=30)))
    assert "idx_sched_posts_scheduled_at" in due_plan
    assert "scheduled_posts" not in seq_scanned(due_plan)

    content_plan = plan(
        content_for_character(character_id=character.pk, content_type="image")
    )
    assert "idx_content_char_type_created" in content_plan
    assert "content" not in seq_scanned(content_plan)

    stats_plan = plan(characters_with_stats().filter(pk=character.pk))
    assert (
        "idx_posts_character" in stats_plan or "idx_posts_char_status_pub" in stats_plan
    )
    assert "posts" not in seq_scanned(stats_plan)
