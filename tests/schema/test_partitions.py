"""Monthly partitions of analytics and system_logs (config/ops/partitions.py).

The conversion is run here on populated tables (turned back into plain ones
first, inside the test's transaction): every row, constraint, index and grant
survives; new months are made ahead of time and rows that landed in DEFAULT
move into their month; retention drops whole months; the hot queries prune.
"""

import datetime as dt
import json

import psycopg
import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from analytics.models import Analytics
from config.ops.partitions import (
    ANALYTICS,
    SYSTEM_LOGS,
    add_months,
    create_months_ahead,
    drop_months_before,
    ensure_months,
    month_start,
    partition_table,
    partitions,
    unpartition_table,
)
from logs.maintenance import purge_old_logs
from logs.models import SystemLog
from tests import factories as f


def sql(query, params=None):
    with connection.cursor() as cursor:
        cursor.execute(query, params or [])
        return cursor.fetchall() if cursor.description else cursor.rowcount


def checksum(table: str) -> tuple[int, str]:
    (row,) = sql(
        f"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), ''))"
        f" FROM {table} t"
    )
    return row


def definitions(table: str) -> dict:
    constraints = dict(
        sql(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass",
            [table],
        )
    )
    indexes = dict(
        sql(
            "SELECT c.relname, replace(pg_get_indexdef(c.oid), ' ON ONLY ', ' ON ') "
            "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = %s::regclass",
            [table],
        )
    )
    return {"constraints": constraints, "indexes": indexes}


def where(table: str, pk) -> str:
    """The partition holding the row."""
    return sql(f"SELECT tableoid::regclass::text FROM {table} WHERE id = %s", [pk])[0][
        0
    ]


THIS_MONTH = month_start(timezone.now().date())


@pytest.mark.django_db
def test_converting_populated_tables_keeps_every_row_constraint_index_and_grant():
    with connection.cursor() as cursor:
        unpartition_table(cursor, ANALYTICS)
        unpartition_table(cursor, SYSTEM_LOGS)
    assert sql("SELECT relkind FROM pg_class WHERE relname = 'analytics'") == [("r",)]
    account = f.PlatformAccountFactory()
    for months_ago in range(14):
        day = add_months(THIS_MONTH, -months_ago) + dt.timedelta(days=months_ago)
        f.AnalyticsFactory(platform_account=account, metric_date=day)
        f.AnalyticsFactory(
            character_wide=True, character=account.character, metric_date=day
        )
    logs = f.SystemLogFactory.create_batch(30, character=account.character)
    for n, log in enumerate(logs):
        SystemLog.objects.filter(pk=log.pk).update(
            created_at=timezone.now() - dt.timedelta(days=7 * n)
        )
    role = f"{connection.settings_dict['NAME']}_reader"
    sql(f"CREATE ROLE {role}")
    sql(f"GRANT SELECT ON analytics, system_logs TO {role}")
    before = {t: (checksum(t), definitions(t)) for t in ("analytics", "system_logs")}

    with connection.cursor() as cursor:
        assert partition_table(cursor, ANALYTICS) == 28
        assert partition_table(cursor, SYSTEM_LOGS) == 30

    for table, key in (("analytics", "metric_date"), ("system_logs", "created_at")):
        (rows_before, defs_before) = before[table]
        assert checksum(table) == rows_before
        defs = definitions(table)
        pkey = f"{table}_pkey"
        assert defs_before["constraints"].pop(pkey) == "PRIMARY KEY (id)"
        assert defs["constraints"].pop(pkey) == f"PRIMARY KEY (id, {key})"
        assert defs["constraints"] == defs_before["constraints"]
        assert defs["indexes"].keys() == defs_before["indexes"].keys()
        assert {k: v for k, v in defs["indexes"].items() if k != pkey} == {
            k: v for k, v in defs_before["indexes"].items() if k != pkey
        }
        assert sql("SELECT has_table_privilege(%s, %s, 'SELECT')", [role, table]) == [
            (True,)
        ]
        assert sql("SELECT relkind FROM pg_class WHERE relname = %s", [table]) == [
            ("p",)
        ]
    with connection.cursor() as cursor:
        months = [p.month for p in partitions(cursor, ANALYTICS)]
    # one partition per month with rows, the months ahead, DEFAULT last
    assert months[:-1] == [add_months(THIS_MONTH, n) for n in range(-13, 3)]
    assert months[-1] is None
    # every row sits in its month's partition, none in DEFAULT
    assert sql("SELECT count(*) FROM analytics_default") == [(0,)]
    assert sql("SELECT count(*) FROM system_logs_default") == [(0,)]


@pytest.mark.django_db
def test_the_partitioned_tables_still_enforce_the_documents_rules():
    row = f.AnalyticsFactory(metric_date=THIS_MONTH)
    assert where("analytics", row.pk) == f"analytics_{THIS_MONTH:%Y_%m}"
    with pytest.raises(IntegrityError, match="unique_metric"), transaction.atomic():
        f.AnalyticsFactory(
            platform_account=row.platform_account,
            metric_date=row.metric_date,
            metric_type=row.metric_type,
        )
    with pytest.raises(IntegrityError, match="metric_type_check"), transaction.atomic():
        sql("UPDATE analytics SET metric_type = 'nope' WHERE id = %s", [row.pk])
    with pytest.raises(IntegrityError, match="foreign key"), transaction.atomic():
        sql("SET CONSTRAINTS ALL IMMEDIATE")
        sql(
            "INSERT INTO analytics (character_id, metric_date, metric_type, metric_value)"
            " VALUES (gen_random_uuid(), current_date, 'reach', 1)"
        )
    # ON DELETE SET NULL from the document still reaches the partitions
    log = f.SystemLogFactory(character=row.character)
    sql("DELETE FROM characters WHERE id = %s", [row.character_id])
    assert SystemLog.objects.get(pk=log.pk).character_id is None
    assert not Analytics.objects.filter(pk=row.pk).exists()  # CASCADE


@pytest.mark.django_db
def test_the_daily_snapshot_upsert_and_the_log_handler_write_into_the_months():
    import logging

    from analytics.snapshot import daily_snapshot

    account = f.PlatformAccountFactory(follower_count=10)
    today = timezone.now().date()
    daily_snapshot(day=today)
    daily_snapshot(day=today)  # ON CONFLICT ON CONSTRAINT unique_metric: rewritten
    rows = Analytics.objects.filter(platform_account=account)
    assert rows.count() == 8
    assert {where("analytics", pk) for pk in rows.values_list("pk", flat=True)} == {
        f"analytics_{today:%Y_%m}"
    }
    logging.getLogger("analytics").warning("partitioned log line")
    log = SystemLog.objects.get(message="partitioned log line")
    assert where("system_logs", log.pk) == f"system_logs_{today:%Y_%m}"


@pytest.mark.django_db
def test_default_catches_any_month_and_its_rows_move_when_the_month_is_made():
    far = dt.date(2031, 5, 17)
    row = f.AnalyticsFactory(metric_date=far)
    assert where("analytics", row.pk) == "analytics_default"
    with connection.cursor() as cursor:
        assert ensure_months(cursor, ANALYTICS, [month_start(far)]) == [
            "analytics_2031_05"
        ]
        assert ensure_months(cursor, ANALYTICS, [month_start(far)]) == []  # idempotent
    assert where("analytics", row.pk) == "analytics_2031_05"
    assert sql("SELECT count(*) FROM analytics_default") == [(0,)]


@pytest.mark.django_db
def test_the_periodic_task_creates_the_months_ahead_and_empties_default():
    from config.tasks import create_partitions

    result = create_partitions.run()
    assert result == {"rows": 0, "created": {"analytics": [], "system_logs": []}}
    stray = f.AnalyticsFactory(metric_date=dt.date(2019, 3, 9))
    assert where("analytics", stray.pk) == "analytics_default"
    result = create_partitions.run()
    assert result["created"] == {"analytics": ["analytics_2019_03"], "system_logs": []}
    assert where("analytics", stray.pk) == "analytics_2019_03"
    later = add_months(THIS_MONTH, 7)
    created = create_months_ahead(today=later)
    expected = [f"{add_months(later, n):%Y_%m}" for n in range(3)]
    assert created == {
        "analytics": [f"analytics_{m}" for m in expected],
        "system_logs": [f"system_logs_{m}" for m in expected],
    }


@pytest.fixture
def extra_log_partitions():
    """Months a committing test adds to system_logs are dropped afterwards."""
    with connection.cursor() as cursor:
        before = {p.name for p in partitions(cursor, SYSTEM_LOGS)}
    yield
    with connection.cursor() as cursor:
        for part in partitions(cursor, SYSTEM_LOGS):
            if part.name not in before:
                cursor.execute(f"DROP TABLE {part.name}")


@pytest.mark.django_db(transaction=True)
def test_retention_drops_whole_months_of_logs(extra_log_partitions):
    now = timezone.now()
    old_months = [add_months(THIS_MONTH, -n) for n in (6, 5, 4, 3)]
    with transaction.atomic(), connection.cursor() as cursor:
        ensure_months(cursor, SYSTEM_LOGS, old_months)
    kept, gone = [], []
    for month in old_months:
        log = f.SystemLogFactory()
        at = dt.datetime.combine(month + dt.timedelta(days=14), dt.time(12), dt.UTC)
        SystemLog.objects.filter(pk=log.pk).update(created_at=at)
        # 90 days: the months that ended before the cutoff go
        (
            gone
            if add_months(month, 1) <= (now - dt.timedelta(days=90)).date()
            else kept
        ).append(log.pk)
    ancient = f.SystemLogFactory()  # a month without partition: DEFAULT
    SystemLog.objects.filter(pk=ancient.pk).update(
        created_at=now - dt.timedelta(days=900)
    )
    gone.append(ancient.pk)
    recent = f.SystemLogFactory().pk
    kept.append(recent)
    assert len(gone) >= 3

    assert purge_old_logs(days=90, now=now) == len(gone)
    assert set(SystemLog.objects.values_list("pk", flat=True)) == set(kept)
    with connection.cursor() as cursor:
        months = {p.month for p in partitions(cursor, SYSTEM_LOGS)}
    cutoff_day = (now - dt.timedelta(days=90)).date()
    assert all(m is None or add_months(m, 1) > cutoff_day for m in months)
    with pytest.raises(ValueError, match="at least one day"):
        purge_old_logs(days=0)


@pytest.mark.django_db(transaction=True)
def test_retention_gives_way_to_a_busy_table(caplog, extra_log_partitions):
    """A transaction holding system_logs (an insert in flight) makes the DETACH
    wait at most lock_timeout; the run stops and says so."""
    old = add_months(THIS_MONTH, -8)
    with transaction.atomic(), connection.cursor() as cursor:
        ensure_months(cursor, SYSTEM_LOGS, [old])
    params = connection.settings_dict
    with psycopg.connect(
        host=params["HOST"] or "127.0.0.1",
        port=params["PORT"],
        dbname=params["NAME"],
        user=params["USER"],
    ) as other:
        other.execute("LOCK TABLE system_logs IN ROW EXCLUSIVE MODE")
        dropped = drop_months_before(
            SYSTEM_LOGS, timezone.now() - dt.timedelta(days=90), lock_timeout="200ms"
        )
        other.rollback()
    assert dropped == []
    assert "Retention of system_logs stopped" in caplog.text
    with connection.cursor() as cursor:
        assert old in {p.month for p in partitions(cursor, SYSTEM_LOGS)}


def scanned(query: str, params=None) -> set[str]:
    (row,) = sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {query}", params)
    plan = row[0] if isinstance(row[0], list) else json.loads(row[0])
    found = set()

    def walk(node):
        if "Relation Name" in node:
            found.add(node["Relation Name"])
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found


@pytest.mark.django_db
def test_the_hot_queries_read_only_their_months():
    months = [add_months(THIS_MONTH, -n) for n in range(8)]
    with connection.cursor() as cursor:
        ensure_months(cursor, ANALYTICS, months)
        ensure_months(cursor, SYSTEM_LOGS, months)
    account = f.PlatformAccountFactory()
    since = timezone.now().date() - dt.timedelta(days=90)
    # the analytics series of 90 days (API ?date_from=), by literal date
    touched = scanned(
        "SELECT metric_date, metric_value FROM analytics WHERE character_id = %s "
        "AND metric_type = 'follower_count' AND metric_date >= %s ORDER BY metric_date",
        [account.character_id, since],
    )
    assert touched <= {
        f"analytics_{add_months(month_start(since), n):%Y_%m}" for n in range(7)
    } | {"analytics_default"}
    assert f"analytics_{months[-1]:%Y_%m}" not in touched
    # errors of the last day: current month (and the previous one at most)
    touched = scanned(
        "SELECT * FROM system_logs WHERE log_level IN ('error', 'critical') "
        "AND created_at >= now() - interval '1 day' ORDER BY created_at DESC LIMIT 100"
    )
    assert f"system_logs_{months[-1]:%Y_%m}" not in touched
    assert len(touched - {"system_logs_default"}) <= 4
