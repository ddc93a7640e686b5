"""No full COUNT(*) on big tables, and admin search uses the trigram indexes."""

import pytest
from django.contrib import admin
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from config import paginators
from config.paginators import EstimatedCountPaginator
from logs.models import SystemLog
from platforms.models import Post
from tests.factories import PostFactory, SystemLogFactory


def analyze(table):
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {table}")


def count_statements(ctx):
    return [q["sql"] for q in ctx.captured_queries if "COUNT(" in q["sql"].upper()]


@pytest.mark.django_db
def test_unfiltered_big_table_uses_reltuples_without_counting(monkeypatch):
    monkeypatch.setattr(paginators, "EXACT_COUNT_BELOW", 10)
    SystemLogFactory.create_batch(25)
    analyze("system_logs")

    paginator = EstimatedCountPaginator(SystemLog.objects.order_by("-created_at"), 10)
    with CaptureQueriesContext(connection) as ctx:
        count = paginator.count
    assert count == 25  # ANALYZE of a small table is exact
    assert count_statements(ctx) == []
    assert "pg_class" in ctx.captured_queries[0]["sql"]


@pytest.mark.django_db
def test_a_partitioned_table_is_estimated_from_its_partitions(monkeypatch):
    """autovacuum analyses the partitions, never the partitioned parent: the
    parent's own reltuples goes stale, the partitions' sum stays right."""
    monkeypatch.setattr(paginators, "EXACT_COUNT_BELOW", 10)
    SystemLogFactory.create_batch(55)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relid::regclass::text FROM pg_partition_tree('system_logs') "
            "WHERE isleaf"
        )
        for (partition,) in cursor.fetchall():
            cursor.execute(f"ANALYZE {partition}")  # what autovacuum does
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'system_logs'")
        assert cursor.fetchone()[0] != 55  # the parent knows nothing of them
    assert paginators.estimated_table_rows(SystemLog) == 55
    with CaptureQueriesContext(connection) as ctx:
        assert EstimatedCountPaginator(SystemLog.objects.all(), 10).count == 55
    assert count_statements(ctx) == []


@pytest.mark.django_db
def test_a_never_analysed_or_small_table_is_counted_for_real(monkeypatch):
    SystemLogFactory.create_batch(3)
    monkeypatch.setattr(paginators, "estimated_table_rows", lambda model, using: -1)
    paginator = EstimatedCountPaginator(SystemLog.objects.all(), 10)
    with CaptureQueriesContext(connection) as ctx:
        assert paginator.count == 3
    assert len(count_statements(ctx)) == 1


@pytest.mark.django_db
def test_a_filtered_queryset_is_counted_exactly_when_fast():
    SystemLogFactory.create_batch(4, log_level="error")
    SystemLogFactory.create_batch(2, log_level="info")
    paginator = EstimatedCountPaginator(SystemLog.objects.filter(log_level="error"), 10)
    assert paginator.count == 4
    # The short timeout was for that count only.
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "0"


@pytest.mark.django_db
def test_a_slow_filtered_count_falls_back_to_the_planner_estimate(monkeypatch):
    monkeypatch.setattr(paginators, "COUNT_TIMEOUT_MS", 20)
    SystemLogFactory.create_batch(5)
    slow = SystemLog.objects.extra(where=["(SELECT pg_sleep(0.05))::text = ''"])

    count = EstimatedCountPaginator(slow, 10).count

    assert isinstance(count, int) and count >= 1
    # The connection is still usable (the cancelled count was rolled back).
    assert SystemLog.objects.count() == 5


@pytest.mark.django_db
def test_post_caption_search_uses_the_trigram_index():
    PostFactory.create_batch(5)
    analyze("posts")
    model_admin = admin.site.get_model_admin(Post)
    request = RequestFactory().get("/admin/platforms/post/", {"q": "sunset"})
    queryset, _ = model_admin.get_search_results(request, Post.objects.all(), "sunset")
    with connection.cursor() as cursor:
        # Few rows in a test database: make the planner prove it *can* use it.
        cursor.execute("SET LOCAL enable_seqscan = off")
    # Unordered: with ORDER BY published_at and 5 rows, walking
    # idx_posts_published is cheapest, which proves nothing about the search.
    plan = queryset.order_by().explain()
    assert "trgm_posts_caption" in plan, plan
    assert "Index Cond: (upper(caption) ~~ '%SUNSET%'::text)" in plan, plan


@pytest.mark.parametrize(
    "model_label,index",
    [
        ("logs.systemlog", "trgm_logs_message"),
        ("content.content", "trgm_content_prompt"),
        ("characters.character", "trgm_characters_name"),
    ],
)
@pytest.mark.django_db
def test_other_big_searches_use_their_trigram_index(model_label, index):
    from django.apps import apps

    model = apps.get_model(model_label)
    model_admin = admin.site.get_model_admin(model)
    request = RequestFactory().get("/")
    queryset, _ = model_admin.get_search_results(
        request, model._base_manager.all(), "sunset"
    )
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    assert index in queryset.order_by().explain()
