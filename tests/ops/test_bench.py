"""`make bench`'s guard rails and helpers (no timings are asserted)."""

import json
import os
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from benchmarks.floors import pg_connect, statements_runner
from benchmarks.report import Result, write_reports
from benchmarks.runner import main
from benchmarks.scratch import ScratchPosts
from benchmarks.sections import SECTIONS, section
from characters.models import Character
from logs.models import Event
from platforms.adapters import DRY_RUN_ADAPTER
from platforms.models import Post, ScheduledPost
from platforms.publishing import publish_due_posts
from tests.factories.characters import CharacterFactory


def test_every_section_is_a_module_with_run():
    assert {"plans", "api", "admin", "scheduler", "snapshot", "backup"} <= set(SECTIONS)
    modules = Path(__file__).resolve().parents[2] / "benchmarks" / "sections"
    assert {p.stem for p in modules.glob("*.py")} - {"__init__"} == set(SECTIONS)
    for name in SECTIONS:
        assert callable(section(name))


@pytest.mark.django_db
def test_refuses_a_database_whose_name_does_not_end_in_bench(capsys):
    assert main(["--only", "api"]) == 1
    assert "Refusing to benchmark" in capsys.readouterr().err


def test_refuses_an_unknown_section_before_anything_else(capsys):
    assert main(["--sections", "api,nonsense"]) == 1
    assert "Unknown sections: nonsense" in capsys.readouterr().err


def test_compare_lists_changes_and_new_rows(tmp_path, capsys):
    def run(rows):
        return {"meta": {}, "results": rows}

    row = {"section": "api", "what": "detail", "median_ms": 10.0}
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(run([row])))
    new.write_text(json.dumps(run([row | {"median_ms": 5.0}, row | {"what": "list"}])))
    assert main(["--compare", str(old), str(new)]) == 0
    out = capsys.readouterr().out
    assert "| api | detail | 10.00 | 5.00 | -50.0% |" in out
    assert "| api | list | | 10.00 | new |" in out


@pytest.mark.django_db(transaction=True)
def test_the_floor_runs_the_captured_sql_on_its_own_connection():
    """The captured SQL has its values inlined (a '%' in a LIKE included) and
    savepoints that an autocommit connection would refuse: the runner sends
    the one and skips the others, and fetches the rows."""
    CharacterFactory(name="Now 50% off")
    CharacterFactory(name="Full price")
    with (
        CaptureQueriesContext(connection) as ctx,
        transaction.atomic(),
        transaction.atomic(),  # the inner block is a savepoint
    ):
        list(Character.objects.filter(name__icontains="50% off"))
    statements = [q["sql"] for q in ctx.captured_queries]
    assert any(s.startswith("SAVEPOINT") for s in statements)
    conn = pg_connect(connection.settings_dict)
    try:
        assert statements_runner(conn, statements)() == 1
    finally:
        conn.close()


@pytest.mark.django_db
@pytest.mark.usefixtures("dry_run")
def test_scheduler_scratch_rows_publish_and_leave_nothing_behind(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    # the dry-run adapter on every platform, as the scheduler section and its
    # workers set it (benchmarks.workers.use_dry_run_everywhere)
    settings.PLATFORM_ADAPTERS = {"*": DRY_RUN_ADAPTER}
    scratch = ScratchPosts()
    cutoff = scratch.make(40)
    rows = ScheduledPost.objects.filter(pk__in=scratch.ids)
    assert rows.filter(status="scheduled", scheduled_at__lte=cutoff).count() == 40
    assert len(list((tmp_path / "bench").iterdir())) == 300  # one per account

    assert publish_due_posts(now=cutoff) == 40
    assert scratch.outcome() == {"published": 40}

    scratch.reset()
    assert scratch.outcome() == {"scheduled": 40}
    assert not Post.objects.filter(character__name=scratch.NAME).exists()

    characters = list(
        Character.all_objects.filter(name=scratch.NAME).values_list("pk", flat=True)
    )
    assert Event.objects.filter(character_id__in=characters).exists()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM audit_scheduled_posts WHERE character_id = ANY(%s)",
            [characters],
        )
        assert cursor.fetchone()[0] >= 40  # created, published, reset
    scratch.drop()
    assert not (tmp_path / "bench").exists()
    assert not Character.all_objects.filter(name=scratch.NAME).exists()
    assert not ScheduledPost.objects.filter(pk__in=scratch.ids).exists()
    # nothing of them is left outside the cascade: events, the audit trail
    assert not Event.objects.filter(character_id__in=characters).exists()
    with connection.cursor() as cursor:
        for table in ScratchPosts.LEFT_BEHIND[1:]:
            cursor.execute(
                f"SELECT count(*) FROM {table} WHERE character_id = ANY(%s)",
                [characters],
            )
            assert cursor.fetchone() == (0,), table
        cursor.execute(
            "SELECT count(*) FROM audit_characters WHERE pgh_obj_id = ANY(%s)",
            [characters],
        )
        assert cursor.fetchone() == (0,)


def test_a_bench_run_keeps_the_chaos_section_of_benchmarks_md(tmp_path):
    markdown = tmp_path / "BENCHMARKS.md"
    markdown.write_text(
        "# Benchmarks\n\n| old | row |\n\n## Findings\n\nold\n\n"
        "## Chaos\n\n| run | engine |\n| before | abc |\n"
    )
    meta = {"machine": "m", "started": "s", "duration_s": 1.0, "data": "d"}
    write_reports(
        [Result("api", "new row", 1.0, 2.0)],
        meta=meta,
        markdown=markdown,
        json_path=tmp_path / "bench.json",
    )
    text = markdown.read_text()
    assert "| old | row |" not in text and "new row" in text
    assert "## Findings" not in text
    assert text.endswith("## Chaos\n\n| run | engine |\n| before | abc |\n")


@pytest.mark.django_db
def test_partitions_section_removes_a_month_both_ways_and_leaves_nothing():
    from benchmarks.context import Bench
    from benchmarks.sections.partitions import SCRATCH
    from logs.models import SystemLog
    from tests.factories import SystemLogFactory

    SystemLogFactory.create_batch(12)
    batched, dropped = section("partitions")(Bench(repeat=1))
    assert "batched DELETE of one month (12 rows)" in batched.what
    assert "detach + drop of the same month (12 rows)" in dropped.what
    assert SystemLog.objects.count() == 12  # the real rows are untouched
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [SCRATCH])
        assert cursor.fetchone()[0] is None


@pytest.mark.django_db
def test_the_plans_say_how_many_partitions_a_hot_query_reads():
    from benchmarks.sections.plans import pruning_note

    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM analytics "
            "WHERE metric_date = current_date"
        )
        note = pruning_note(cursor.fetchone()[0][0])
    assert note.startswith("reads ") and note.endswith(" partitions of analytics")
    read, total = (int(n) for n in note.split()[1:4:2])
    assert read < total


def test_a_run_without_the_load_section_keeps_the_last_load_table(tmp_path):
    markdown = tmp_path / "BENCHMARKS.md"
    markdown.write_text("# Benchmarks\n\n## Load\n\n| old load | row |\n")
    meta = {"machine": "m", "started": "s", "duration_s": 1.0, "data": "d"}
    json_path = tmp_path / "bench.json"
    write_reports(
        [Result("api", "row", 1.0, 2.0)],
        meta=meta,
        markdown=markdown,
        json_path=json_path,
    )
    assert markdown.read_text().endswith("## Load\n\n| old load | row |\n")

    load_row = Result(
        "load",
        "posts · Django · 8 clients",
        3.0,
        9.0,
        target="0 errors",
        note="met",
        extra={
            "endpoint": "posts",
            "title": "posts page",
            "kind": "api",
            "stack": "Django",
            "clients": 8,
            "rps": 120.0,
            "p99_ms": 12.0,
            "errors": 0,
        },
    )
    write_reports([load_row], meta=meta, markdown=markdown, json_path=json_path)
    text = markdown.read_text()
    assert "| old load | row |" not in text
    assert text.count("## Load") == 1
    assert (
        "| posts page | 8 | 120 | 3.0 | 9.0 | 12.0 | 0 | | | | | | 0 errors | met |"
        in text
    )


@pytest.mark.django_db
@pytest.mark.parametrize("label", ["Telegram", "X", "Facebook", "Instagram", "YouTube"])
def test_adapter_scratch_posts_reach_the_fake_of_their_platform(
    settings, tmp_path, label
):
    """What the adapters section's worker does, in this process: scratch
    posts (text, or the media Instagram and YouTube require) on accounts wired
    to the platform's loopback fake all go out through the real adapter."""
    from benchmarks.sections.adapters import RUNS
    from tests.engine.platform_fakes import ADAPTERS, wired

    (platform, _, media, post_type), *_ = (
        run[1:] for run in RUNS if run[0] == f"{label} adapter"
    )
    with wired(platform, media_root=tmp_path) as w:
        for name, value in w.settings.items():
            setattr(settings, name, value)
        settings.PLATFORM_ADAPTERS = {platform: ADAPTERS[platform]}
        scratch = ScratchPosts()
        try:
            cutoff = scratch.make(
                12,
                platforms=[platform],
                text_only=media is None,
                media=media,
                post_type=post_type,
                account_id=w.account_id,
                auth_data=w.auth,
            )
            rows = ScheduledPost.objects.filter(pk__in=scratch.ids)
            with_media = rows.filter(content__isnull=False)
            if media is None:
                assert not with_media.exists()
            else:
                assert with_media.filter(content__content_type=media).count() == 12
            assert set(rows.values_list("platform_account__platform", flat=True)) == {
                platform
            }
            assert publish_due_posts(now=cutoff) == 12
            assert scratch.outcome() == {"published": 12}
            assert len(w.delivered()) == 12
        finally:
            scratch.drop()


@pytest.mark.django_db
def test_metrics_section_applies_every_row_and_leaves_the_numbers(monkeypatch):
    from benchmarks.context import Bench
    from benchmarks.sections import metrics
    from platforms.models import PostMetrics
    from platforms.sync import apply_post_metrics, post_metrics_fold
    from tests.factories.platforms import PostFactory

    posts = PostFactory.create_batch(6, likes_count=7)
    apply_post_metrics([(p.pk, 7, 0, 0, 0) for p in posts])  # synced once
    post_metrics_fold()
    monkeypatch.setattr(metrics, "POSTS", 6)
    apply, fold, quiet = section("metrics")(Bench(repeat=1))
    assert apply.what.startswith("apply platform metrics to 6 posts")
    assert apply.floor_ms and apply.median_ms > 0
    ratio = apply.median_ms / apply.floor_ms
    verdict = "met (" if ratio <= 3 else "MISSED: "
    assert apply.note.startswith(verdict + f"{ratio:.1f}x")  # computed, not written
    assert "posts changed: 6" in fold.note and "posts changed: 0" in quiet.note
    # every run was rolled back
    ids = [p.pk for p in posts]
    assert set(
        Post.objects.filter(pk__in=ids).values_list("likes_count", flat=True)
    ) == {7}
    assert set(
        PostMetrics.objects.filter(post__in=ids).values_list("likes_count", flat=True)
    ) == {7}


@pytest.mark.django_db
def test_metrics_section_says_when_the_database_is_too_small(monkeypatch):
    from benchmarks.context import Bench, BenchError
    from benchmarks.sections import metrics

    monkeypatch.setattr(metrics, "POSTS", 5)
    with pytest.raises(BenchError, match="not 5 synced"):
        section("metrics")(Bench(repeat=1))


@pytest.mark.django_db
def test_the_bench_database_is_read_into_memory_when_the_cluster_is_local(
    settings, tmp_path, monkeypatch
):
    """Served by the project's local cluster (make test's, as make bench's),
    the database's files are read once before anything is measured; any other
    server is left alone, and the report says which."""
    from benchmarks.prewarm import local_cluster, warm_database

    data = local_cluster()
    assert data is not None, "make test serves the tests from .local/postgres"
    said = warm_database()
    if os.access(data / "base", os.R_OK | os.X_OK):
        assert "read into the page cache first" in said
        assert int(said.split(" MB")[0].rsplit(" ", 1)[1].replace(",", "")) > 0
    else:
        assert "not readable by this user" in said
    # a cluster on another port is not the local one
    monkeypatch.setitem(settings.DATABASES["default"], "PORT", "1")
    assert local_cluster() is None
    assert "not served by the local cluster" in warm_database()
    # nor one whose directory has no postmaster.pid
    settings.BASE_DIR = tmp_path
    assert local_cluster() is None
