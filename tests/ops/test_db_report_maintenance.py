"""db_report and db_maintenance against the real test database."""

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from characters.models import Character
from tests import factories


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_report_json_lists_tables_indexes_and_statements_state():
    factories.PostFactory()
    report = json.loads(run("db_report", "--json"))
    assert report["database"] == connection.settings_dict["NAME"]
    tables = {t["table"]: t for t in report["tables"]}
    assert {"characters", "posts", "platform_accounts", "system_logs"} <= set(tables)
    assert tables["posts"]["total_bytes"] > 0
    index_names = [i["index"] for i in report["indexes"]]
    assert "idx_posts_status" in index_names
    scans = [i["scans"] for i in report["indexes"]]
    assert scans == sorted(scans)  # unused first
    assert {d["table"] for d in report["dead_tuples"]} == set(tables)
    # Either statements, or the clear line saying why there are none.
    assert (
        report["slow_statements"]
        or "pg_stat_statements" in (report["slow_statements_unavailable"])
    )


@pytest.mark.django_db
def test_report_table_output_and_pg_stat_statements_unavailable_line():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'"
        )
        installed = cursor.fetchone()[0]
    text = run("db_report")
    assert "Tables (largest first)" in text
    assert "Indexes (unused first)" in text
    assert "Dead tuples" in text
    assert "Slowest statements" in text
    if not installed:
        assert "pg_stat_statements is not available in this database" in text


@pytest.mark.django_db(transaction=True)
def test_report_shows_slow_statements_when_the_extension_exists():
    """The superuser installs pg_stat_statements in the test database for a moment."""
    import psycopg

    params = connection.settings_dict
    dsn = {
        "host": params["HOST"] or "127.0.0.1",
        "port": params["PORT"],
        "dbname": params["NAME"],
        "user": "postgres",
        "autocommit": True,
    }
    with psycopg.connect(**dsn) as admin:
        admin.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    try:
        Character.objects.count()
        report = json.loads(run("db_report", "--json", "--limit", "5"))
        assert report["slow_statements_unavailable"] is None
        assert 0 < len(report["slow_statements"]) <= 5
        assert {"query", "calls", "total_ms", "mean_ms"} <= set(
            report["slow_statements"][0]
        )
        assert "total ms" in run("db_report")
    finally:
        with psycopg.connect(**dsn) as admin:
            admin.execute("DROP EXTENSION IF EXISTS pg_stat_statements")


def wait_for_dead_tuples(table: str) -> None:
    """Statistics reach pg_stat_user_tables up to a second after the commit."""
    import time

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        for _ in range(50):
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = %s",
                [table],
            )
            if cursor.fetchone()[0] > 0:
                return
            time.sleep(0.1)
    raise AssertionError(f"no dead tuples reported for {table}")


@pytest.mark.django_db(transaction=True)
def test_maintenance_vacuums_busy_tables_outside_a_transaction():
    characters = factories.CharacterFactory.create_batch(5)
    Character.objects.filter(pk__in=[c.pk for c in characters]).delete()
    wait_for_dead_tuples("characters")
    out = run("db_maintenance", "--min-dead", "1", "--min-modified", "1")
    assert "VACUUM (ANALYZE) characters" in out
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT last_vacuum IS NOT NULL, last_analyze IS NOT NULL "
            "FROM pg_stat_user_tables WHERE relname = 'characters'"
        )
        assert cursor.fetchone() == (True, True)


@pytest.mark.django_db(transaction=True)
def test_maintenance_reindexes_concurrently_on_request():
    out = run("db_maintenance", "--table", "posts", "--reindex")
    assert "VACUUM (ANALYZE) posts" in out
    assert "REINDEX TABLE CONCURRENTLY posts" in out


@pytest.mark.django_db
def test_maintenance_refuses_inside_a_transaction_and_unknown_tables():
    with pytest.raises(CommandError, match="outside a transaction"):
        run("db_maintenance", "--all")


@pytest.mark.django_db(transaction=True)
def test_maintenance_rejects_unknown_tables():
    with pytest.raises(CommandError, match="No such table in schema public: nope"):
        run("db_maintenance", "--table", "nope")


def bloat_characters(n: int = 20_000) -> None:
    """n characters, then all but every 50th deleted: their indexes keep the pages."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO characters (name) SELECT 'Bloat ' || g "
            "FROM generate_series(1, %s) g",
            [n],
        )
        cursor.execute(
            "DELETE FROM characters WHERE name LIKE 'Bloat %' "
            "AND substr(name, 7)::int % 50 <> 0"
        )


@pytest.mark.django_db(transaction=True)
def test_maintenance_rebuilds_the_indexes_whose_measured_bloat_passes_the_threshold():
    from config.ops.maintenance import index_bloat

    bloat_characters()
    wait_for_dead_tuples("characters")
    out = run(
        "db_maintenance",
        "--table",
        "characters",
        "--reindex-bloated",
        "--bloat-ratio",
        "0.5",
        "--bloat-min-mb",
        "0.1",
    )
    assert "VACUUM (ANALYZE) characters" in out
    assert "REINDEX INDEX CONCURRENTLY characters_pkey (estimated bloat" in out
    after = {b.index: b for b in index_bloat()}
    assert after["characters_pkey"].ratio < 0.5
    # an index that is not bloated is left alone
    assert "idx_posts_status" not in out


@pytest.mark.django_db(transaction=True)
def test_the_weekly_task_reports_what_it_did_in_system_logs():
    from config.tasks import db_maintenance
    from logs.models import SystemLog

    done = db_maintenance.run()
    assert done["rows"] == len(done["vacuumed"]) + len(done["reindexed_bloated"])
    row = SystemLog.objects.get(component="db_maintenance")
    assert row.log_level == "info"
    assert row.message.startswith("Database maintenance: vacuumed ")
    assert row.metadata["vacuumed"] == done["vacuumed"]


@pytest.mark.django_db
def test_maintenance_refuses_a_bloat_ratio_outside_zero_and_one():
    with pytest.raises(CommandError, match="between 0 and 1"):
        run("db_maintenance", "--reindex-bloated", "--bloat-ratio", "1.5")
