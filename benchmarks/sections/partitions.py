"""system_logs retention by month, next to the batched DELETE it replaced
(partition pruning of the hot queries is in the plans section's notes).

The month measured is a copy of the fullest month of system_logs placed in
January 2000 (no real row is that old): built as a plain table and attached,
so its indexes are built in bulk. It is removed twice, once each way, and
nothing of it is left in the bench database.
"""

from __future__ import annotations

import datetime as dt
import time

from django.db import connection, transaction

from benchmarks.context import Bench
from benchmarks.report import Result
from config.ops.partitions import SYSTEM_LOGS, add_months, drop_months_before

MONTH = dt.date(2000, 1, 1)
SCRATCH = SYSTEM_LOGS.partition(MONTH)
# logs/maintenance.py before the partitions: batches of 10,000, each committed
BATCHED_DELETE = """
DELETE FROM system_logs WHERE id IN (
    SELECT id FROM system_logs WHERE created_at < %s
    ORDER BY created_at LIMIT %s
)
"""
BATCH = 10_000


def scratch_month_fill() -> int:
    """The fullest month of system_logs, copied into January 2000; its rows."""
    scratch_month_drop()
    with transaction.atomic(), connection.cursor() as c:
        c.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'system_logs'::regclass AND c.relname <> %s "
            "ORDER BY c.reltuples DESC LIMIT 1",
            [SYSTEM_LOGS.default],
        )
        source = c.fetchone()[0]
        c.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'system_logs'::regclass "
            "AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
        )
        columns = [row[0] for row in c.fetchall()]
        values = {
            "id": "gen_random_uuid()",
            "created_at": f"timestamptz '{MONTH:%Y-%m-%d} 00:00+00' "
            "+ (created_at - date_trunc('month', created_at))",
        }
        select = ", ".join(values.get(col, col) for col in columns)
        c.execute(
            f"CREATE TABLE {SCRATCH} (LIKE system_logs INCLUDING DEFAULTS "
            "INCLUDING CONSTRAINTS)"
        )
        c.execute(f"INSERT INTO {SCRATCH} SELECT {select} FROM {source}")
        rows = c.rowcount
        c.execute(
            f"ALTER TABLE system_logs ATTACH PARTITION {SCRATCH} FOR VALUES "
            f"FROM ({SYSTEM_LOGS.bound(MONTH)}) TO ({SYSTEM_LOGS.bound(add_months(MONTH, 1))})"
        )
        c.execute(f"ANALYZE {SCRATCH}")
    return rows


def scratch_month_drop() -> None:
    with connection.cursor() as c:
        c.execute(f"DROP TABLE IF EXISTS {SCRATCH}")


def run(bench: Bench) -> list[Result]:
    cutoff = dt.datetime.combine(add_months(MONTH, 1), dt.time(), dt.UTC)
    rows = scratch_month_fill()
    start = time.perf_counter()
    deleted = 0
    while True:
        with transaction.atomic(), connection.cursor() as c:
            c.execute(BATCHED_DELETE, [cutoff, BATCH])
            deleted += c.rowcount
            if c.rowcount < BATCH:
                break
    batched_ms = (time.perf_counter() - start) * 1000
    scratch_month_drop()

    scratch_month_fill()
    start = time.perf_counter()
    dropped = drop_months_before(SYSTEM_LOGS, cutoff)
    drop_ms = (time.perf_counter() - start) * 1000
    scratch_month_drop()
    bench.say(f"dropped {[d.partition for d in dropped]}")
    return [
        Result(
            section="partitions",
            what=f"log retention: batched DELETE of one month ({deleted:,} rows)",
            median_ms=round(batched_ms, 1),
            p95_ms=round(batched_ms, 1),
            target="the old way, for comparison",
            note=f"{BATCH:,} rows per transaction, as logs/maintenance.py did",
        ),
        Result(
            section="partitions",
            what=f"log retention: detach + drop of the same month ({rows:,} rows)",
            median_ms=round(drop_ms, 1),
            p95_ms=round(drop_ms, 1),
            floor_ms=None,
            target="far below the batched DELETE",
            note=(
                f"{batched_ms / drop_ms:,.0f}x faster; includes the count(*) "
                "reported as the rows removed; no dead rows or WAL per row left"
            ),
        ),
    ]
