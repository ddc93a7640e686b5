"""The database health report's numbers (`manage.py db_report`): sizes,
index usage, dead tuples, slow statements."""

from typing import Any

from django.db import DatabaseError, connections, transaction
from django.db.backends.utils import CursorWrapper

TABLES_SQL = """
SELECT c.relname AS table,
       pg_total_relation_size(c.oid) AS total_bytes,
       pg_relation_size(c.oid) AS table_bytes,
       pg_indexes_size(c.oid) AS index_bytes,
       s.n_live_tup AS live_tuples,
       s.n_dead_tup AS dead_tuples,
       round(100.0 * s.n_dead_tup / nullif(s.n_live_tup + s.n_dead_tup, 0), 1)
           AS dead_pct,
       s.last_vacuum, s.last_autovacuum, s.last_analyze, s.last_autoanalyze
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
ORDER BY pg_total_relation_size(c.oid) DESC, c.relname
"""

# Unused indexes first (the document's query), then the smallest scan counts.
INDEXES_SQL = """
SELECT s.relname AS table, s.indexrelname AS index, s.idx_scan AS scans,
       pg_relation_size(s.indexrelid) AS bytes,
       i.indisunique AS is_unique, i.indisprimary AS is_primary
FROM pg_stat_user_indexes s
JOIN pg_index i ON i.indexrelid = s.indexrelid
WHERE s.schemaname = 'public'
ORDER BY s.idx_scan ASC, pg_relation_size(s.indexrelid) DESC, s.indexrelname
"""

STATEMENTS_SQL = """
SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 200) AS query, calls,
       round(total_exec_time::numeric, 1) AS total_ms,
       round(mean_exec_time::numeric, 2) AS mean_ms, rows
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
ORDER BY total_exec_time DESC
LIMIT %s
"""


def _rows(cursor: CursorWrapper) -> list[dict[str, Any]]:
    names = [c.name for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def slow_statements(
    cursor: CursorWrapper, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """The slowest statements, or why pg_stat_statements cannot be read."""
    cursor.execute(
        "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'"
    )
    if not cursor.fetchone()[0]:
        return [], (
            "pg_stat_statements is not available in this database: add it to "
            "shared_preload_libraries and run CREATE EXTENSION pg_stat_statements "
            "(as a superuser)."
        )
    try:
        cursor.execute("SAVEPOINT db_report_statements")
        cursor.execute(STATEMENTS_SQL, [limit])
        rows = _rows(cursor)
        cursor.execute("RELEASE SAVEPOINT db_report_statements")
    except DatabaseError as err:
        cursor.execute("ROLLBACK TO SAVEPOINT db_report_statements")
        return [], f"pg_stat_statements cannot be read ({err.__class__.__name__})."
    return rows, None


def build_report(alias: str = "default", limit: int = 10) -> dict[str, Any]:
    """The report as data (the command prints it, or its JSON)."""
    with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT current_database(), pg_database_size(current_database())"
        )
        name, size = cursor.fetchone()
        cursor.execute(TABLES_SQL)
        tables = _rows(cursor)
        cursor.execute(INDEXES_SQL)
        indexes = _rows(cursor)
        statements, unavailable = slow_statements(cursor, limit)
    for row in tables:
        for key in (
            "last_vacuum",
            "last_autovacuum",
            "last_analyze",
            "last_autoanalyze",
        ):
            row[key] = row[key].isoformat() if row[key] else None
        row["dead_pct"] = (
            float(row["dead_pct"]) if row["dead_pct"] is not None else None
        )
    for row in statements:
        row["total_ms"] = float(row["total_ms"])
        row["mean_ms"] = float(row["mean_ms"])
    return {
        "database": name,
        "database_bytes": size,
        "tables": tables,
        "indexes": indexes,
        "dead_tuples": sorted(
            (
                {
                    "table": t["table"],
                    "dead_tuples": t["dead_tuples"] or 0,
                    "dead_pct": t["dead_pct"],
                }
                for t in tables
            ),
            key=lambda r: -r["dead_tuples"],
        ),
        "slow_statements": statements,
        "slow_statements_unavailable": unavailable,
    }
