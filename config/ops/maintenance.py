"""Database maintenance: VACUUM (ANALYZE) of the busy tables, REINDEX CONCURRENTLY
of the indexes whose measured bloat passes a threshold (schema document,
section 11). Run weekly by `config.tasks.db_maintenance` (the dashboard shows
its heartbeat), which writes a report row to system_logs; by hand with
`manage.py db_maintenance`.

Safe from beat: VACUUM and REINDEX CONCURRENTLY take no lock that blocks reads
or writes, a lock_timeout bounds the wait for the locks they do take, and they
run in autocommit (PostgreSQL refuses both inside a transaction block).

Index bloat is measured, per B-tree index with plain key columns, as its size on
disk against the size its live entries need: entries (pg_class.reltuples, fresh
after the VACUUM ANALYZE) times their width (pg_stats.avg_width of the key
columns, aligned, with the tuple header and line pointer) packed at the index's
fillfactor. This is the estimate monitoring tools use (check_pgactivity,
ioguix's btree bloat query) and needs no extension; `pgstattuple` would be
exact but must be installed by a superuser.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core.management.base import CommandError
from django.db import connections

BUSY_SQL = """
SELECT relname FROM pg_stat_user_tables
WHERE schemaname = 'public'
  AND (n_dead_tup >= %(dead)s OR n_mod_since_analyze >= %(modified)s)
ORDER BY n_dead_tup + n_mod_since_analyze DESC, relname
"""

BLOAT_SQL = """
WITH idx AS (
    SELECT c.oid, c.relname AS index_name, t.relname AS table_name, i.indrelid,
           i.indkey::int2[] AS keys, c.reltuples,
           pg_relation_size(c.oid) AS actual_bytes,
           current_setting('block_size')::int AS block,
           coalesce((regexp_match(array_to_string(c.reloptions, ','),
                                  'fillfactor=(\\d+)'))[1]::int, 90) AS fillfactor
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_class t ON t.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_am am ON am.oid = c.relam
    WHERE n.nspname = 'public' AND am.amname = 'btree' AND c.relkind = 'i'
      AND i.indisvalid AND c.reltuples >= 0
      AND 0 <> ALL (i.indkey::int2[])  -- expression keys have no column stats
),
widths AS (
    SELECT idx.oid,
           sum(coalesce(s.avg_width, 8)) AS key_width,
           bool_or(coalesce(s.null_frac, 0) > 0) AS nullable
    FROM idx
    CROSS JOIN LATERAL unnest(idx.keys) AS k(attnum)
    JOIN pg_attribute a ON a.attrelid = idx.indrelid AND a.attnum = k.attnum
    LEFT JOIN pg_stats s
      ON s.schemaname = 'public' AND s.tablename = idx.table_name
     AND s.attname = a.attname
    GROUP BY idx.oid
),
sized AS (
    SELECT idx.*,
           -- IndexTupleData (8 bytes, + null bitmap), key data MAXALIGNed, and
           -- a 4-byte line pointer; usable page = block - header - btree special
           floor((idx.block - 24 - 16) * idx.fillfactor / 100.0
                 / (8 + CASE WHEN w.nullable THEN 8 ELSE 0 END
                      + ceil(w.key_width / 8.0) * 8 + 4)) AS per_page
    FROM idx JOIN widths w ON w.oid = idx.oid
)
SELECT table_name, index_name, actual_bytes,
       ((ceil(reltuples / greatest(per_page, 1)) + 1) * block)::bigint AS expected_bytes
FROM sized
ORDER BY actual_bytes DESC
"""


@dataclass
class IndexBloat:
    table: str
    index: str
    actual_bytes: int
    expected_bytes: int

    @property
    def bloat_bytes(self) -> int:
        return max(0, self.actual_bytes - self.expected_bytes)

    @property
    def ratio(self) -> float:
        return self.bloat_bytes / self.actual_bytes if self.actual_bytes else 0.0


def index_bloat(alias: str = "default") -> list[IndexBloat]:
    """The estimated bloat of every B-tree index with plain key columns."""
    with connections[alias].cursor() as cursor:
        cursor.execute(BLOAT_SQL)
        return [IndexBloat(*row) for row in cursor.fetchall()]


def maintain(
    *,
    alias: str = "default",
    tables: list[str] | None = None,
    all_tables: bool = False,
    min_dead: int = 1000,
    min_modified: int = 1000,
    reindex: bool = False,
    reindex_bloated: bool = False,
    bloat_ratio: float = 0.3,
    bloat_min_bytes: int = 10 * 1024 * 1024,
    lock_timeout: str = "5s",
) -> dict:
    """VACUUM (ANALYZE) the selected tables; REINDEX what was asked.

    `reindex`: REINDEX TABLE CONCURRENTLY of the selected tables;
    `reindex_bloated`: REINDEX INDEX CONCURRENTLY of every index whose bloat is
    over `bloat_ratio` of its size and `bloat_min_bytes` (measured after the
    VACUUM ANALYZE, so the statistics are fresh).
    """
    if not 0 < bloat_ratio < 1:
        raise CommandError(
            f"The bloat threshold must be between 0 and 1, not {bloat_ratio}."
        )
    connection = connections[alias]
    if connection.in_atomic_block:
        raise CommandError(
            "db_maintenance must run outside a transaction (VACUUM and REINDEX "
            "CONCURRENTLY cannot run inside one)."
        )
    connection.ensure_connection()
    quote = connection.ops.quote_name
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        )
        existing = [row[0] for row in cursor.fetchall()]
        if tables:
            unknown = sorted(set(tables) - set(existing))
            if unknown:
                raise CommandError(
                    f"No such table in schema public: {', '.join(unknown)}"
                )
            selected = list(dict.fromkeys(tables))
        elif all_tables:
            selected = existing
        else:
            cursor.execute(BUSY_SQL, {"dead": min_dead, "modified": min_modified})
            selected = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT set_config('lock_timeout', %s, false)", [lock_timeout])
        vacuumed, reindexed, bloated = [], [], []
        try:
            for table in selected:
                cursor.execute(f"VACUUM (ANALYZE) public.{quote(table)}")
                vacuumed.append(table)
                if reindex:
                    cursor.execute(f"REINDEX TABLE CONCURRENTLY public.{quote(table)}")
                    reindexed.append(table)
            if reindex_bloated:
                for found in index_bloat(alias):
                    if found.ratio < bloat_ratio or found.bloat_bytes < bloat_min_bytes:
                        continue
                    cursor.execute(
                        f"REINDEX INDEX CONCURRENTLY public.{quote(found.index)}"
                    )
                    cursor.execute(
                        "SELECT pg_relation_size(%s::regclass)", [found.index]
                    )
                    bloated.append(
                        {
                            "index": found.index,
                            "table": found.table,
                            "bytes_before": found.actual_bytes,
                            "bytes_after": cursor.fetchone()[0],
                            "estimated_bloat": round(found.ratio, 3),
                        }
                    )
        finally:
            cursor.execute("RESET lock_timeout")
    return {
        "vacuumed": vacuumed,
        "reindexed": reindexed,
        "reindexed_bloated": bloated,
        "seconds": round(time.monotonic() - started, 1),
        "rows": len(vacuumed) + len(reindexed) + len(bloated),
    }


def report_line(done: dict) -> str:
    """One sentence for system_logs."""
    saved = sum(b["bytes_before"] - b["bytes_after"] for b in done["reindexed_bloated"])
    parts = [f"vacuumed {len(done['vacuumed'])} table(s)"]
    if done["reindexed"]:
        parts.append(f"reindexed {len(done['reindexed'])} table(s)")
    parts.append(
        f"rebuilt {len(done['reindexed_bloated'])} bloated index(es)"
        + (f" ({saved / 1048576:.1f} MB freed)" if done["reindexed_bloated"] else "")
    )
    return f"Database maintenance: {', '.join(parts)} in {done['seconds']} s."
