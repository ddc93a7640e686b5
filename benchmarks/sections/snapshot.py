"""The daily analytics upsert next to a COPY of the same rows.

Each measured run happens in a transaction that is rolled back, so the scale
database keeps no benchmark rows and every run writes a day that is new (the
real nightly case: 8 metrics x every account, inserted, not updated): the day
after the latest one recorded, so that yesterday's snapshot is there for the
follower milestones and the last 30 days' posts for the engagement rate, as
every night (a day far in the future made every account look for its previous
snapshot in every month's partition, and had no recent posts).
"""

from __future__ import annotations

import datetime as dt
import io
import time
from collections.abc import Callable

from django.db import connection, transaction

from analytics.snapshot import daily_snapshot
from benchmarks.context import Bench
from benchmarks.report import Result, stats


def _next_day() -> dt.date:
    """The day after the latest recorded one (today on an empty database)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(metric_date) FROM analytics")
        (latest,) = cursor.fetchone()
    return latest + dt.timedelta(days=1) if latest else dt.date.today()


COLUMNS = (
    "character_id, platform_account_id, platform, metric_date, metric_type, "
    "metric_value, metadata"
)


def _timed_rollback(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    try:
        with transaction.atomic():
            fn()
            elapsed = (time.perf_counter() - start) * 1000
            raise _Rollback
    except _Rollback:
        return elapsed


class _Rollback(Exception):
    """Leaves the bench database as it was."""


def run(bench: Bench) -> list[Result]:
    runs = max(3, min(bench.repeat, 10))
    day = _next_day()
    # the rows the snapshot writes, as COPY text, taken once from a real run
    buffer = io.StringIO()
    with transaction.atomic():
        written = daily_snapshot(day)
        # psycopg's copy API under Django's cursor wrapper
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(
                f"COPY (SELECT {COLUMNS} FROM analytics WHERE metric_date = "
                f"'{day.isoformat()}') TO STDOUT"
            ) as copy,
        ):
            for chunk in copy:
                buffer.write(bytes(chunk).decode())
        transaction.set_rollback(True)
    data = buffer.getvalue()

    def upsert() -> None:
        daily_snapshot(day)

    def copy_rows() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE bench_scratch (LIKE analytics INCLUDING DEFAULTS "
                "INCLUDING CONSTRAINTS INCLUDING INDEXES) ON COMMIT DROP"
            )
            with cursor.cursor.copy(f"COPY bench_scratch ({COLUMNS}) FROM STDIN") as cp:
                cp.write(data)

    _timed_rollback(upsert)  # warm-up: posts and analytics pages in cache
    _timed_rollback(copy_rows)
    upserts = [_timed_rollback(upsert) for _ in range(runs)]
    copies = [_timed_rollback(copy_rows) for _ in range(runs)]
    median, p95 = stats(upserts)
    floor, _ = stats(copies)
    return [
        Result(
            section="snapshot",
            what=f"daily analytics snapshot: upsert of {written:,} rows (every account)",
            median_ms=median,
            p95_ms=p95,
            floor_ms=floor,
            target="within 5x of COPY",
            note=(
                "floor: COPY of the same rows into a scratch table with the same "
                "indexes; the upsert also aggregates every published post; "
                f"the day after the latest recorded ({day.isoformat()})"
            ),
        )
    ]
