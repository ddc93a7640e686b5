"""Database health report: sizes, index usage, dead tuples, slow statements."""

from django.core.management.base import BaseCommand
from django.db import DatabaseError, connections

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


def _size(n) -> str:
    n = float(n or 0)
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def _rows(cursor) -> list[dict]:
    names = [c.name for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def slow_statements(cursor, limit: int) -> tuple[list[dict], str | None]:
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


def build_report(alias: str = "default", limit: int = 10) -> dict:
    from django.db import transaction

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


def _table(headers: list[str], rows: list[list]) -> list[str]:
    cells = [[str("" if v is None else v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells
    ]
    return out


class Command(BaseCommand):
    help = (
        "Table sizes, index sizes and usage (unused first), dead tuples and the "
        "slowest statements (pg_stat_statements). --json for machines."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Output JSON.")
        parser.add_argument("--database", default="default")
        parser.add_argument(
            "--limit", type=int, default=10, help="Slow statements shown."
        )

    def handle(self, *args, json: bool, database: str, limit: int, **options):
        report = build_report(database, limit)
        if json:
            import json as json_module

            self.stdout.write(json_module.dumps(report, indent=2, default=str))
            return
        w = self.stdout.write
        w(f"Database {report['database']}: {_size(report['database_bytes'])}")
        w("")
        w("Tables (largest first)")
        for line in _table(
            ["table", "total", "table", "indexes", "live rows", "dead rows", "dead %"],
            [
                [
                    t["table"],
                    _size(t["total_bytes"]),
                    _size(t["table_bytes"]),
                    _size(t["index_bytes"]),
                    t["live_tuples"],
                    t["dead_tuples"],
                    t["dead_pct"],
                ]
                for t in report["tables"]
            ],
        ):
            w(line)
        w("")
        w("Indexes (unused first)")
        for line in _table(
            ["index", "table", "scans", "size", "unique"],
            [
                [
                    i["index"],
                    i["table"],
                    i["scans"],
                    _size(i["bytes"]),
                    "yes" if i["is_unique"] else "",
                ]
                for i in report["indexes"]
            ],
        ):
            w(line)
        w("")
        w("Dead tuples (most first)")
        for line in _table(
            ["table", "dead rows", "dead %"],
            [
                [d["table"], d["dead_tuples"], d["dead_pct"]]
                for d in report["dead_tuples"]
            ],
        ):
            w(line)
        w("")
        w("Slowest statements (total time)")
        if report["slow_statements_unavailable"]:
            w(report["slow_statements_unavailable"])
        else:
            for line in _table(
                ["total ms", "mean ms", "calls", "rows", "query"],
                [
                    [s["total_ms"], s["mean_ms"], s["calls"], s["rows"], s["query"]]
                    for s in report["slow_statements"]
                ],
            ):
                w(line)
