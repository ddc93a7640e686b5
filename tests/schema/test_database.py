"""The migrated database itself: ON DELETE actions, triggers, defaults for plain
SQL inserts, every index and constraint of the document, migrations both ways."""

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from analytics.models import Analytics
from characters.models import Character, CharacterAppearance, CharacterPersonality
from content.models import Content, ContentGeneration
from logs.models import SystemLog
from platforms.models import EngagementAction, PlatformAccount, Post, ScheduledPost
from tests import factories as f


def sql(query, params=None):
    with connection.cursor() as cursor:
        cursor.execute(query, params or [])
        return cursor.fetchall() if cursor.description else cursor.rowcount


@pytest.fixture
def world(db):
    """One character with a row in every table that references it."""
    character = f.CharacterFactory()
    account = f.PlatformAccountFactory(character=character, platform="telegram")
    content = f.ContentFactory(character=character, approved=True)
    post = f.PostFactory(platform_account=account, content=content)
    rule = f.AutomationRuleFactory(character=character, platforms=["telegram"])
    scheduled = f.ScheduledPostFactory(
        platform_account=account, content=content, automation_rule=rule
    )
    f.EngagementActionFactory(platform_account=account)
    f.ContentGenerationFactory(character=character)
    f.AnalyticsFactory(platform_account=account)
    f.AnalyticsFactory(character_wide=True, character=character)
    log = f.SystemLogFactory(
        character=character, platform_account=account, content=content, post=post
    )
    return {
        "character": character,
        "account": account,
        "content": content,
        "post": post,
        "rule": rule,
        "scheduled": scheduled,
        "log": log,
    }


@pytest.mark.django_db
def test_deleting_a_character_with_plain_sql_cascades_as_the_document_says(world):
    c = world["character"]
    assert sql("DELETE FROM characters WHERE id = %s", [c.pk]) == 1
    for model in (
        CharacterPersonality,
        CharacterAppearance,
        Content,
        ContentGeneration,
        PlatformAccount,
        Post,
        ScheduledPost,
        EngagementAction,
        Analytics,
    ):
        assert not model.objects.filter(character_id=c.pk).exists(), model.__name__
    log = SystemLog.objects.get(pk=world["log"].pk)
    # system_logs keeps the row, with every reference set to NULL
    assert (log.character_id, log.platform_account_id, log.content_id, log.post_id) == (
        None,
        None,
        None,
        None,
    )


@pytest.mark.django_db
def test_deleting_content_with_plain_sql_keeps_posts_and_schedules(world):
    sql("DELETE FROM content WHERE id = %s", [world["content"].pk])
    post = Post.objects.get(pk=world["post"].pk)
    scheduled = ScheduledPost.objects.get(pk=world["scheduled"].pk)
    assert post.content_id is None and scheduled.content_id is None
    assert SystemLog.objects.get(pk=world["log"].pk).content_id is None


@pytest.mark.django_db
def test_deleting_a_rule_with_plain_sql_keeps_its_scheduled_posts(world):
    sql("DELETE FROM automation_rules WHERE id = %s", [world["rule"].pk])
    assert (
        ScheduledPost.objects.get(pk=world["scheduled"].pk).automation_rule_id is None
    )


@pytest.mark.django_db
def test_deleting_an_account_with_plain_sql_cascades_to_its_rows(world):
    account = world["account"]
    sql("DELETE FROM platform_accounts WHERE id = %s", [account.pk])
    for model in (Post, ScheduledPost, EngagementAction):
        assert not model.objects.filter(platform_account_id=account.pk).exists()
    assert not Analytics.objects.filter(platform_account_id=account.pk).exists()
    # the character-wide analytics row stays
    assert Analytics.objects.filter(
        character=world["character"], platform_account=None
    ).exists()
    assert SystemLog.objects.get(pk=world["log"].pk).platform_account_id is None


@pytest.mark.django_db
def test_every_foreign_key_has_the_documented_on_delete_action():
    rows = sql(
        """
        SELECT cl.relname, a.attname, c.confdeltype
        FROM pg_constraint c
        JOIN pg_class cl ON cl.oid = c.conrelid
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
        WHERE c.contype = 'f' AND array_length(c.conkey, 1) = 1
          AND cl.relname IN ('character_personalities', 'character_appearances',
            'content', 'content_generations', 'platform_accounts', 'posts',
            'scheduled_posts', 'automation_rules', 'engagement_actions',
            'analytics', 'system_logs', 'post_metrics')
        """
    )
    actions = {(table, column): action for table, column, action in rows}
    set_null = {
        ("posts", "content_id"),
        ("scheduled_posts", "content_id"),
        ("scheduled_posts", "automation_rule_id"),
        ("scheduled_posts", "post_id"),
        ("system_logs", "character_id"),
        ("system_logs", "platform_account_id"),
        ("system_logs", "content_id"),
        ("system_logs", "post_id"),
        # issue 15 (docs/schema-deviations.md): the text job writing a post's
        # caption or a comment's text
        ("scheduled_posts", "caption_job_id"),
        ("engagement_actions", "text_job_id"),
    }
    assert len(actions) == 22 + 2 + 1  # + post_metrics.post_id (issue 14)
    for key, action in actions.items():
        assert action == ("n" if key in set_null else "c"), key


@pytest.mark.django_db
def test_post_metrics_is_narrow_and_leaves_room_for_hot_updates():
    """The metrics sync rewrites every row of a batch: with no index on its
    numbers and half of each page free, a row's new version stays on its page
    (a HOT update) and no index is touched (docs/schema-deviations.md)."""
    ((options,),) = sql(
        "SELECT reloptions FROM pg_class WHERE relname = 'post_metrics'"
    )
    assert options == ["fillfactor=50"]
    assert sql("SELECT indexname FROM pg_indexes WHERE tablename = 'post_metrics'") == [
        ("post_metrics_pkey",)
    ]


@pytest.mark.django_db
def test_a_row_inserted_with_plain_sql_gets_the_documented_defaults():
    (row,) = sql(
        "INSERT INTO characters (name) VALUES ('Plain SQL') "
        "RETURNING id, timezone, status, is_active, created_at, updated_at"
    )
    pk, tz, status, is_active, created, updated = row
    assert pk is not None and tz == "UTC" and status == "active" and is_active
    assert created == updated
    sql("INSERT INTO character_personalities (character_id) VALUES (%s)", [pk])
    p = CharacterPersonality.objects.get(character_id=pk)
    assert (str(p.extroversion), str(p.temperature), p.emoji_usage) == (
        "0.50",
        "0.70",
        "moderate",
    )
    assert str(p.flirtatiousness_level) == "0.00"


@pytest.mark.django_db(transaction=True)
def test_updated_at_moves_on_queryset_update_and_plain_sql():
    character = f.CharacterFactory()
    before = character.updated_at
    Character.objects.filter(pk=character.pk).update(bio="changed by update()")
    after_update = Character.objects.get(pk=character.pk).updated_at
    assert after_update > before
    sql("UPDATE characters SET bio = 'by sql' WHERE id = %s", [character.pk])
    assert Character.objects.get(pk=character.pk).updated_at > after_update
    # an ORM save keeps its own value (auto_now)
    character.refresh_from_db()
    character.bio = "saved"
    character.save()
    stored = Character.objects.get(pk=character.pk).updated_at
    assert stored == character.updated_at


DOCUMENT_INDEXES = {
    "characters": [
        "idx_characters_status",
        "idx_characters_active",
        "idx_characters_created",
        "idx_characters_name",
        "idx_characters_deleted",
    ],
    "character_personalities": [
        "idx_personalities_character",
        "idx_personalities_style",
    ],
    "character_appearances": ["idx_appearances_character", "idx_appearances_method"],
    "content": [
        "idx_content_character",
        "idx_content_type",
        "idx_content_category",
        "idx_content_approved",
        "idx_content_nsfw",
        "idx_content_created",
        "idx_content_quality",
        "idx_content_tags",
        "idx_content_status",
    ],
    "content_generations": [
        "idx_generations_character",
        "idx_generations_status",
        "idx_generations_priority",
        "idx_generations_job_type",
        "idx_generations_created",
        "idx_generations_pending",
    ],
    # names over Django's 30-character limit are shortened (schema-deviations.md)
    "platform_accounts": [
        "idx_plat_accounts_character",
        "idx_platform_accounts_platform",
        "idx_plat_accounts_connected",
        "idx_platform_accounts_status",
        "idx_platform_accounts_username",
    ],
    "posts": [
        "idx_posts_character",
        "idx_posts_platform_account",
        "idx_posts_platform",
        "idx_posts_status",
        "idx_posts_published",
        "idx_posts_platform_post_id",
        "idx_posts_content",
        "idx_posts_hashtags",
        "idx_posts_engagement",
    ],
    "scheduled_posts": [
        "idx_scheduled_posts_character",
        "idx_sched_posts_scheduled_at",
        "idx_scheduled_posts_status",
        "idx_scheduled_posts_platform",
        "idx_scheduled_posts_rule",
    ],
    "automation_rules": [
        "idx_automation_rules_character",
        "idx_automation_rules_enabled",
        "idx_automation_rules_trigger",
        "idx_automation_rules_platforms",
    ],
    "engagement_actions": [
        "idx_engagement_character",
        "idx_engagement_plat_account",
        "idx_engagement_status",
        "idx_engagement_created",
        "idx_engagement_type",
        "idx_engagement_platform",
        "idx_engagement_pending",
    ],
    "analytics": [
        "idx_analytics_character",
        "idx_analytics_date",
        "idx_analytics_platform",
        "idx_analytics_type",
        "idx_analytics_character_date",
        "idx_analytics_char_plat_date",
    ],
    "system_logs": [
        "idx_logs_level",
        "idx_logs_component",
        "idx_logs_character",
        "idx_logs_created",
        "idx_logs_created_level",
        "idx_logs_error",
    ],
}


@pytest.mark.django_db
def test_every_index_of_the_document_exists_with_its_definition():
    rows = dict(
        sql("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'")
    )
    for table, names in DOCUMENT_INDEXES.items():
        # a partitioned table's index is defined ON ONLY the parent, and
        # PostgreSQL builds it on every partition (config/ops/partitions.py)
        on = "ON ONLY" if table in ("analytics", "system_logs") else "ON"
        for name in names:
            assert name in rows, name
            assert f"{on} public.{table} " in rows[name], rows[name]
    assert (
        "WHERE ((status)::text = 'scheduled'::text)"
        in rows["idx_sched_posts_scheduled_at"]
    )
    assert "(priority, created_at) WHERE" in rows["idx_generations_pending"]
    assert "USING gin (tags)" in rows["idx_content_tags"]
    assert "(likes_count DESC, comments_count DESC)" in rows["idx_posts_engagement"]
    assert (
        "(character_id, platform, metric_date DESC)"
        in rows["idx_analytics_char_plat_date"]
    )
    assert "WHERE ((log_level)::text = ANY" in rows["idx_logs_error"]
    assert "UNIQUE" in rows["platform_post_id_unique"]
    assert "NULLS NOT DISTINCT" in rows["unique_metric"]


@pytest.mark.django_db
def test_documented_constraint_names_exist():
    names = {r[0] for r in sql("SELECT conname FROM pg_constraint")}
    for name in (
        "name_length_check",
        "age_range_check",
        "unique_character_personality",
        "unique_character_appearance",
        "communication_style_check",
        "content_tone_check",
        "emoji_usage_check",
        "face_method_check",
        "content_type_check",
        "approval_status_check",
        "file_size_check",
        "dimensions_check",
        "timing_check",
        "job_type_check",
        "connection_status_check",
        "auth_type_check",
        "unique_character_platform",
        "post_type_check",
        "scheduled_at_future",
        "trigger_type_check",
        "hashtag_strategy_check",
        "platforms_check",
        "action_type_check",
        "metric_type_check",
        "unique_metric",
        "log_level_check",
    ):
        assert name in names, name


@pytest.mark.django_db
def test_extensions_are_installed():
    installed = {r[0] for r in sql("SELECT extname FROM pg_extension")}
    assert {"uuid-ossp", "pg_trgm", "pgcrypto"} <= installed


@pytest.mark.django_db
def test_auth_data_is_stored_encrypted():
    account = f.PlatformAccountFactory(auth_data={"token": "plain-secret-123"})
    (raw,) = sql("SELECT auth_data FROM platform_accounts WHERE id = %s", [account.pk])[
        0
    ]
    assert b"plain-secret-123" not in bytes(raw)
    (column_type,) = sql(
        "SELECT data_type FROM information_schema.columns "
        "WHERE table_name = 'platform_accounts' AND column_name = 'auth_data'"
    )[0]
    assert column_type == "bytea"
    account.refresh_from_db()
    assert account.auth_data == {"token": "plain-secret-123"}


@pytest.mark.django_db
def test_models_and_migrations_agree():
    out = io.StringIO()
    # --check exits with status 1 (SystemExit) when a migration is missing
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_migrations_unapply_to_zero_and_apply_again():
    apps = ["logs", "analytics", "platforms", "automation", "content", "characters"]
    executor = MigrationExecutor(connection)
    try:
        for app in apps:
            call_command("migrate", app, "zero", verbosity=0)
        tables = {
            r[0]
            for r in sql("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        }
        assert not tables & {"characters", "posts", "system_logs", "analytics"}
        assert not sql("SELECT 1 FROM pg_proc WHERE proname = 'set_updated_at'")
    finally:
        call_command("migrate", verbosity=0)
    executor.loader.build_graph()
    assert not executor.migration_plan(executor.loader.graph.leaf_nodes())
    f.PostFactory()  # the schema works again


@pytest.mark.django_db
def test_datetime_columns_are_timezone_aware():
    rows = sql(
        "SELECT DISTINCT data_type FROM information_schema.columns "
        "WHERE table_schema='public' AND column_name IN "
        "('created_at', 'updated_at', 'scheduled_at', 'published_at')"
    )
    assert rows == [("timestamp with time zone",)]
    # an instant written with an offset reads back as the same instant, aware
    lisbon_summer = dt.timezone(dt.timedelta(hours=1))
    at = dt.datetime(2030, 7, 1, 9, 30, tzinfo=lisbon_summer)
    scheduled = f.ScheduledPostFactory(scheduled_at=at)
    stored = ScheduledPost.objects.values_list("scheduled_at", flat=True).get(
        pk=scheduled.pk
    )
    assert stored == at
    assert stored.utcoffset() == dt.timedelta(0)
    assert sql(
        "SELECT to_char(scheduled_at AT TIME ZONE 'UTC', 'HH24:MI') "
        "FROM scheduled_posts WHERE id = %s",
        [scheduled.pk],
    ) == [("08:30",)]


@pytest.mark.django_db
def test_content_seed_holds_every_stable_diffusion_seed():
    """BIGINT, not the document's INTEGER: Stable Diffusion seeds run to 2^32 - 1,
    past INTEGER's 2^31 - 1 (docs/schema-deviations.md)."""
    (column_type,) = sql(
        "SELECT data_type FROM information_schema.columns "
        "WHERE table_name = 'content' AND column_name = 'seed'"
    )[0]
    assert column_type == "bigint"
    content = f.ContentFactory(seed=2**32 - 1)
    content.refresh_from_db()
    assert content.seed == 4_294_967_295
