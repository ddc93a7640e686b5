"""Monthly range partitions for the two tables that grow without end.

analytics is partitioned by `metric_date`, system_logs by `created_at` (months
in UTC), each with a DEFAULT partition so that no insert ever fails for want of
a month. Every constraint, unique key and index of the schema document is kept
on the partitioned table (PostgreSQL creates them on every partition); the
primary key becomes (id, <partition column>) because PostgreSQL requires the
partition key in a primary or unique key (docs/schema-deviations.md).

- `partition_table` / `unpartition_table`: the migrations' conversion of an
  existing table, rows included (copy into the new table, then constraints and
  indexes built once over the copied rows, which is much faster than keeping
  them up to date row by row);
- `create_months_ahead`: the periodic task's job, so the months to come exist
  before their first row (a row landing in DEFAULT is moved out when its month
  is created);
- `drop_months_before`: retention by detaching and dropping whole months,
  instead of deleting rows in batches (no dead tuples, no vacuum, no WAL of the
  deleted rows).

Django's model keeps `id` as its primary key: lookups by id still use the
(id, key) index of every partition.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection as default_connection
from django.db.backends.utils import CursorWrapper

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PartitionedTable:
    table: str
    column: str
    key_type: str  # "date" or "timestamptz"

    def bound(self, month: dt.date) -> str:
        """The SQL literal of the first instant of `month`."""
        if self.key_type == "date":
            return f"'{month:%Y-%m-%d}'"
        return f"'{month:%Y-%m-%d} 00:00:00+00'"

    def partition(self, month: dt.date) -> str:
        return f"{self.table}_{month:%Y_%m}"

    @property
    def default(self) -> str:
        return f"{self.table}_default"


ANALYTICS = PartitionedTable("analytics", "metric_date", "date")
SYSTEM_LOGS = PartitionedTable("system_logs", "created_at", "timestamptz")
TABLES = {spec.table: spec for spec in (ANALYTICS, SYSTEM_LOGS)}
# Months created ahead of time (the current month and the next ones).
MONTHS_AHEAD = 3


def month_start(day: dt.date) -> dt.date:
    return dt.date(day.year, day.month, 1)


def add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@dataclass
class Partition:
    name: str
    month: dt.date | None  # None: the DEFAULT partition


def partitions(cursor: CursorWrapper, spec: PartitionedTable) -> list[Partition]:
    """The table's partitions, months in order, DEFAULT last."""
    cursor.execute(
        """
        SELECT c.relname, pg_get_expr(c.relpartbound, c.oid)
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = %s::regclass
        """,
        [spec.table],
    )
    found = []
    for name, bound in cursor.fetchall():
        if bound == "DEFAULT":
            found.append(Partition(name, None))
            continue
        # FOR VALUES FROM ('2026-01-01') TO ('2026-02-01') (timestamptz: with a time)
        start = bound.split("FROM ('", 1)[1][:10]
        found.append(Partition(name, dt.date.fromisoformat(start)))
    return sorted(found, key=lambda p: (p.month is None, p.month or dt.date.min))


def is_partitioned(cursor: CursorWrapper, table: str) -> bool:
    cursor.execute("SELECT relkind FROM pg_class WHERE oid = %s::regclass", [table])
    return cursor.fetchone()[0] == "p"


# -- conversion (migrations) --------------------------------------------------------


@dataclass
class _Definitions:
    constraints: list[tuple[str, str, str]]  # name, contype, definition
    indexes: list[str]
    triggers: list[str]
    grants: list[tuple[str, str]]  # privilege, grantee


def _definitions(cursor: CursorWrapper, table: str) -> _Definitions:
    """What a rebuild must recreate: constraints, indexes, triggers and grants
    of the table itself (not those PostgreSQL cloned onto partitions)."""
    cursor.execute(
        """
        SELECT 1 FROM pg_constraint
        WHERE confrelid = %s::regclass AND contype = 'f' AND conparentid = 0
        """,
        [table],
    )
    if cursor.fetchone():
        raise RuntimeError(
            f"a foreign key references {table}: a rebuild would drop it; "
            "handle it in the migration"
        )
    cursor.execute(
        """
        SELECT conname, contype, pg_get_constraintdef(oid)
        FROM pg_constraint
        WHERE conrelid = %s::regclass AND contype IN ('p', 'u', 'c', 'f', 'x')
        ORDER BY contype = 'p' DESC, conname
        """,
        [table],
    )
    constraints = list(cursor.fetchall())
    cursor.execute(
        """
        SELECT pg_get_indexdef(i.indexrelid)
        FROM pg_index i
        WHERE i.indrelid = %s::regclass
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid
                          AND c.conrelid = i.indrelid)
        ORDER BY 1
        """,
        [table],
    )
    # a partitioned table's index reads "ON ONLY table": the plain form cascades
    indexes = [row[0].replace(" ON ONLY ", " ON ", 1) for row in cursor.fetchall()]
    cursor.execute(
        """
        SELECT pg_get_triggerdef(oid) FROM pg_trigger
        WHERE tgrelid = %s::regclass AND NOT tgisinternal AND tgparentid = 0
        ORDER BY tgname
        """,
        [table],
    )
    triggers = [row[0] for row in cursor.fetchall()]
    cursor.execute(
        """
        SELECT a.privilege_type, r.rolname
        FROM pg_class c, aclexplode(c.relacl) a
        JOIN pg_roles r ON r.oid = a.grantee
        WHERE c.oid = %s::regclass AND a.grantee <> c.relowner
        """,
        [table],
    )
    grants = list(cursor.fetchall())
    return _Definitions(constraints, indexes, triggers, grants)


def _recreate(
    cursor: CursorWrapper, table: str, found: _Definitions, primary_key: str
) -> None:
    quote = default_connection.ops.quote_name
    for name, contype, definition in found.constraints:
        if contype == "p":
            definition = primary_key
        cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {quote(name)} {definition}")
    for statement in (*found.indexes, *found.triggers):
        cursor.execute(statement)
    for privilege, grantee in found.grants:
        cursor.execute(f"GRANT {privilege} ON {table} TO {quote(grantee)}")


def _name_indexes(cursor: CursorWrapper, partition: str) -> None:
    """Name a partition's indexes (and so its unique and primary keys) after the
    parent's: `analytics_2026_01_unique_metric` instead of PostgreSQL's
    `analytics_2026_01_character_id_platform_account_id_metric_d_key`, so that an
    error or a plan names the document's constraint or index."""
    cursor.execute(
        """
        SELECT child.relname, parent.relname
        FROM pg_index i
        JOIN pg_class child ON child.oid = i.indexrelid
        JOIN pg_inherits inh ON inh.inhrelid = i.indexrelid
        JOIN pg_class parent ON parent.oid = inh.inhparent
        WHERE i.indrelid = %s::regclass
        """,
        [partition],
    )
    for child, parent in cursor.fetchall():
        wanted = f"{partition}_{parent}"[:63]
        if child != wanted:
            cursor.execute(f'ALTER INDEX "{child}" RENAME TO "{wanted}"')


def _copy_rows(cursor: CursorWrapper, source: str, target: str) -> int:
    cursor.execute(f"SELECT count(*) FROM {source}")
    expected = cursor.fetchone()[0]
    cursor.execute(f"INSERT INTO {target} SELECT * FROM {source}")
    if cursor.rowcount != expected:
        raise RuntimeError(
            f"copied {cursor.rowcount} rows of {expected} from {source}: aborted"
        )
    return expected


def partition_table(
    cursor: CursorWrapper, spec: PartitionedTable, *, months_ahead: int = MONTHS_AHEAD
) -> int:
    """Convert the plain table into a monthly partitioned one; returns rows kept.

    One partition per month that holds rows, plus the current month and
    `months_ahead` - 1 after it, plus DEFAULT. Runs in the migration's
    transaction under an ACCESS EXCLUSIVE lock: the table is unavailable for
    the duration of the copy (seconds per million rows).
    """
    table, old = spec.table, f"{spec.table}__unpartitioned"
    # deferred foreign-key checks of rows written earlier in this transaction
    # would keep the old table from being dropped
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    found = _definitions(cursor, table)
    cursor.execute(
        f"SELECT DISTINCT date_trunc('month', {spec.column} AT TIME ZONE 'UTC')::date "
        f"FROM {table} WHERE {spec.column} IS NOT NULL"
        if spec.key_type == "timestamptz"
        else f"SELECT DISTINCT date_trunc('month', {spec.column})::date FROM {table}"
    )
    months = {row[0] for row in cursor.fetchall()}
    current = month_start(_today())
    months |= {add_months(current, n) for n in range(months_ahead)}
    cursor.execute(f"ALTER TABLE {table} RENAME TO {old}")
    cursor.execute(
        f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING STORAGE "
        f"INCLUDING COMMENTS INCLUDING COMPRESSION) PARTITION BY RANGE ({spec.column})"
    )
    for month in sorted(months):
        _create_partition(cursor, spec, month)
    cursor.execute(f"CREATE TABLE {spec.default} PARTITION OF {table} DEFAULT")
    rows = _copy_rows(cursor, old, table)
    cursor.execute(f"DROP TABLE {old}")
    _recreate(cursor, table, found, f"PRIMARY KEY (id, {spec.column})")
    for part in partitions(cursor, spec):
        _name_indexes(cursor, part.name)
    cursor.execute(f"ANALYZE {table}")
    return rows


def unpartition_table(cursor: CursorWrapper, spec: PartitionedTable) -> int:
    """The reverse: one plain table again, primary key (id); returns rows kept."""
    table, old = spec.table, f"{spec.table}__partitioned"
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    found = _definitions(cursor, table)
    cursor.execute(f"ALTER TABLE {table} RENAME TO {old}")
    cursor.execute(
        f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING STORAGE "
        f"INCLUDING COMMENTS INCLUDING COMPRESSION)"
    )
    rows = _copy_rows(cursor, old, table)
    cursor.execute(f"DROP TABLE {old}")  # and its partitions
    _recreate(cursor, table, found, "PRIMARY KEY (id)")
    cursor.execute(f"ANALYZE {table}")
    return rows


# -- months ahead (periodic task) ------------------------------------------------


def _create_partition(
    cursor: CursorWrapper, spec: PartitionedTable, month: dt.date
) -> None:
    cursor.execute(
        f"CREATE TABLE {spec.partition(month)} PARTITION OF {spec.table} "
        f"FOR VALUES FROM ({spec.bound(month)}) TO ({spec.bound(add_months(month, 1))})"
    )


def ensure_months(
    cursor: CursorWrapper, spec: PartitionedTable, months: Iterable[dt.date]
) -> list[str]:
    """Create the partitions of `months` that do not exist yet; returns their names.

    Rows of such a month already in DEFAULT are moved into the new partition
    (PostgreSQL refuses a new partition whose rows sit in DEFAULT): DEFAULT is
    detached for that moment, its rows of the month re-inserted through the
    parent, and it is attached again, all in one transaction.
    """
    existing = {p.month for p in partitions(cursor, spec)}
    created = []
    for month in sorted(set(months) - existing):
        low, high = spec.bound(month), spec.bound(add_months(month, 1))
        in_month = f"{spec.column} >= {low} AND {spec.column} < {high}"
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {spec.default} WHERE {in_month})")
        if cursor.fetchone()[0]:
            cursor.execute(f"ALTER TABLE {spec.table} DETACH PARTITION {spec.default}")
            _create_partition(cursor, spec, month)
            cursor.execute(
                f"WITH moved AS (DELETE FROM {spec.default} WHERE {in_month} RETURNING *) "
                f"INSERT INTO {spec.table} SELECT * FROM moved"
            )
            cursor.execute(
                f"ALTER TABLE {spec.table} ATTACH PARTITION {spec.default} DEFAULT"
            )
        else:
            _create_partition(cursor, spec, month)
        _name_indexes(cursor, spec.partition(month))
        created.append(spec.partition(month))
    return created


def months_in_default(cursor: CursorWrapper, spec: PartitionedTable) -> list[dt.date]:
    """The months of the rows waiting in DEFAULT (normally none)."""
    key = (
        f"{spec.column} AT TIME ZONE 'UTC'"
        if spec.key_type == "timestamptz"
        else spec.column
    )
    cursor.execute(
        f"SELECT DISTINCT date_trunc('month', {key})::date FROM {spec.default}"
    )
    return sorted(row[0] for row in cursor.fetchall())


def create_months_ahead(
    *,
    months_ahead: int = MONTHS_AHEAD,
    today: dt.date | None = None,
    using: str = "default",
    lock_timeout: str = "5s",
) -> dict[str, list[str]]:
    """For every partitioned table: the current month and the next ones, and
    the months of any rows that landed in DEFAULT (moved into their month).

    Creating a partition locks the table for a moment; `lock_timeout` bounds
    the wait (a failed run is retried by the next: months are made ahead).
    Moving rows out of DEFAULT holds that lock while they move: a backfill of
    history should create its months first (`ensure_months`, as seed_scale
    does) rather than leave millions of rows for this task.
    """
    from django.db import connections, transaction

    current = month_start(today or _today())
    ahead = [add_months(current, n) for n in range(months_ahead)]
    created = {}
    for spec in TABLES.values():
        with transaction.atomic(using=using), connections[using].cursor() as cursor:
            cursor.execute(
                "SELECT set_config('lock_timeout', %s, true)", [lock_timeout]
            )
            months = sorted({*ahead, *months_in_default(cursor, spec)})
            created[spec.table] = ensure_months(cursor, spec, months)
    return created


# -- retention -------------------------------------------------------------------


@dataclass
class Dropped:
    partition: str
    rows: int


def drop_months_before(
    spec: PartitionedTable,
    cutoff: dt.datetime,
    *,
    using: str = "default",
    lock_timeout: str = "5s",
) -> list[Dropped]:
    """Detach and drop every month that ends at or before `cutoff`.

    A month goes whole, so rows stay until their whole month has passed the
    cutoff (up to a month longer than the retention). Rows older than the
    cutoff in DEFAULT (months without a partition) are deleted. Each month is
    its own short transaction; DETACH needs an ACCESS EXCLUSIVE lock on the
    table for a moment, waited for at most `lock_timeout`: on a table too busy
    for that, the run stops (logged) and the next one carries on.
    """
    from django.db import OperationalError, connections, transaction

    connection = connections[using]
    cutoff_key = cutoff.astimezone(dt.UTC)
    last_day = cutoff_key.date()
    with connection.cursor() as cursor:
        months = [
            p
            for p in partitions(cursor, spec)
            if p.month is not None and add_months(p.month, 1) <= last_day
        ]
    dropped = []
    try:
        for part in months:
            with transaction.atomic(using=using), connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('lock_timeout', %s, true)", [lock_timeout]
                )
                cursor.execute(f"SELECT count(*) FROM {part.name}")
                rows = cursor.fetchone()[0]
                cursor.execute(f"ALTER TABLE {spec.table} DETACH PARTITION {part.name}")
                cursor.execute(f"DROP TABLE {part.name}")
            dropped.append(Dropped(part.name, rows))
        with transaction.atomic(using=using), connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('lock_timeout', %s, true)", [lock_timeout]
            )
            cursor.execute(
                f"DELETE FROM {spec.default} WHERE {spec.column} < %s",
                [cutoff_key.date() if spec.key_type == "date" else cutoff_key],
            )
            if cursor.rowcount:
                dropped.append(Dropped(spec.default, cursor.rowcount))
    except OperationalError as err:
        if getattr(err.__cause__, "sqlstate", None) != "55P03":  # lock_not_available
            raise
        logger.warning(
            "Retention of %s stopped: the table stayed locked longer than %s "
            "(%d month(s) dropped, the next run goes on).",
            spec.table,
            lock_timeout,
            len(dropped),
        )
    return dropped
