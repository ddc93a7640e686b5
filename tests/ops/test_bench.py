"""`manage.py bench`'s guard rails and helpers (no timings are asserted)."""

import json

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from characters.models import Character
from config.bench import pg_connect, statements_runner
from config.management.commands.bench import SECTIONS, Command
from platforms.models import Post, ScheduledPost
from platforms.publishing import publish_due_posts


def test_every_section_has_its_method():
    assert {
        "plans",
        "api",
        "admin",
        "scheduler",
        "snapshot",
        "backup",
        "partitions",
    } <= set(SECTIONS)
    for section in SECTIONS:
        assert callable(getattr(Command, f"bench_{section}"))


@pytest.mark.django_db
def test_refuses_a_database_whose_name_does_not_end_in_bench():
    with pytest.raises(CommandError, match="Refusing to benchmark"):
        call_command("bench", "--sections", "api")


def test_compare_lists_changes_and_new_rows(tmp_path, capsys):
    def run(rows):
        return {"meta": {}, "results": rows}

    row = {"section": "api", "what": "detail", "median_ms": 10.0}
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(run([row])))
    new.write_text(json.dumps(run([row | {"median_ms": 5.0}, row | {"what": "list"}])))
    call_command("bench", "--compare", str(old), str(new))
    out = capsys.readouterr().out
    assert "| api | detail | 10.00 | 5.00 | -50.0% |" in out
    assert "| api | list | | 10.00 | new |" in out


@pytest.mark.django_db
def test_the_floor_runs_the_captured_sql_on_its_own_connection():
    with CaptureQueriesContext(connection) as ctx:
        list(Character.objects.filter(name__icontains="50% off"))
    conn = pg_connect(connection.settings_dict)
    try:
        statements_runner(conn, [q["sql"] for q in ctx.captured_queries])()
    finally:
        conn.close()


@pytest.mark.django_db
def test_scheduler_scratch_rows_publish_and_leave_nothing_behind():
    command = Command()
    cutoff = command._scratch_make(40)
    scratch = ScheduledPost.objects.filter(pk__in=command.scratch_ids)
    assert scratch.filter(status="scheduled", scheduled_at__lte=cutoff).count() == 40

    assert publish_due_posts(now=cutoff) == 40
    assert command._scratch_outcome() == {"published": 40}

    command._scratch_reset()
    assert command._scratch_outcome() == {"scheduled": 40}
    assert not Post.objects.filter(character__name=command.SCRATCH_NAME).exists()

    assert (settings.MEDIA_ROOT / "bench").is_dir()  # the posts' files
    command._scratch_drop()
    assert not (settings.MEDIA_ROOT / "bench").exists()
    assert not Character.all_objects.filter(name=command.SCRATCH_NAME).exists()
    assert not ScheduledPost.objects.filter(pk__in=command.scratch_ids).exists()


@pytest.mark.django_db
def test_partitions_section_removes_a_month_both_ways_and_leaves_nothing():
    from config.bench_partitions import SCRATCH, retention_section
    from logs.models import SystemLog
    from tests.factories import SystemLogFactory

    SystemLogFactory.create_batch(12)
    batched, dropped = retention_section()
    assert "batched DELETE of one month (12 rows)" in batched.what
    assert "detach + drop of the same month (12 rows)" in dropped.what
    assert SystemLog.objects.count() == 12  # the real rows are untouched
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [SCRATCH])
        assert cursor.fetchone()[0] is None


@pytest.mark.django_db
def test_the_plans_say_how_many_partitions_a_hot_query_reads():
    from config.bench_partitions import pruning_note

    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM analytics "
            "WHERE metric_date = current_date"
        )
        note = pruning_note(cursor.fetchone()[0][0])
    assert note.startswith("reads ") and note.endswith(" partitions of analytics")
    read, total = (int(n) for n in note.split()[1:4:2])
    assert read < total
