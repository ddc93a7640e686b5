"""The plan of every hot query: the intended index, no seq scan of a big table,
and the query's own time read by EXPLAIN ANALYZE (server side)."""

from __future__ import annotations

import json
from typing import Any

from django.db import connection

from benchmarks.context import Bench
from benchmarks.report import Result
from config.ops.partitions import TABLES

BIG_TABLES = {
    "posts",
    "analytics",
    "system_logs",
    "scheduled_posts",
    "engagement_actions",
    "content",
}


def seq_scans(plan: dict[str, Any]) -> set[str]:
    """The relations an EXPLAIN (FORMAT JSON) plan reads with a Seq Scan."""
    found: set[str] = set()

    def walk(node: dict[str, Any]) -> None:
        if node.get("Node Type") == "Seq Scan":
            found.add(str(node.get("Relation Name")))
        for child in node.get("Plans", []):
            walk(child)

    walk(plan["Plan"])
    return found


def pruning_note(plan: dict[str, Any]) -> str:
    """ "reads k of n partitions of t" for the partitioned tables of a plan
    (EXPLAIN ANALYZE: partitions pruned at run time are not in it)."""
    scanned: dict[str, set[str]] = {}

    def walk(node: dict[str, Any]) -> None:
        name = node.get("Relation Name", "")
        for table in TABLES:
            if name.startswith(f"{table}_"):
                scanned.setdefault(table, set()).add(name)
        for child in node.get("Plans", []):
            walk(child)

    walk(plan["Plan"])
    notes = []
    with connection.cursor() as c:
        for table, names in sorted(scanned.items()):
            c.execute(
                "SELECT count(*) FROM pg_inherits WHERE inhparent = %s::regclass",
                [table],
            )
            notes.append(
                f"reads {len(names)} of {c.fetchone()[0]} partitions of {table}"
            )
    return "; ".join(notes)


def hot_queries(
    character: str | None,
) -> list[tuple[str, str, list[Any], str | tuple[str, ...]]]:
    """(name, sql, params, intended index) of the queries that must stay fast."""
    return [
        (
            "due scheduled posts (pattern 2)",
            "SELECT * FROM scheduled_posts WHERE status = 'scheduled' AND scheduled_at <= now() "
            "ORDER BY scheduled_at LIMIT 100",
            [],
            "idx_sched_posts_scheduled_at",
        ),
        (
            "claim due posts FOR UPDATE SKIP LOCKED",
            "SELECT id FROM scheduled_posts WHERE status = 'scheduled' AND scheduled_at <= now() "
            "ORDER BY scheduled_at LIMIT 50 FOR UPDATE SKIP LOCKED",
            [],
            "idx_sched_posts_scheduled_at",
        ),
        (
            "content by character/type/approved (pattern 3)",
            "SELECT * FROM content WHERE character_id = %s AND content_type = 'image' "
            "AND is_approved ORDER BY created_at DESC LIMIT 20",
            [character],
            "idx_content_char_type_created",
        ),
        (
            "character with counts (pattern 1)",
            "SELECT c.*, (SELECT count(*) FROM posts p WHERE p.character_id = c.id), "
            "(SELECT count(*) FROM platform_accounts a WHERE a.character_id = c.id) "
            "FROM characters c WHERE c.id = %s",
            [character],
            "idx_posts_character",
        ),
        (
            "posts of a character by status, newest first",
            "SELECT * FROM posts WHERE character_id = %s AND status = 'published' "
            "ORDER BY published_at DESC LIMIT 50",
            [character],
            "idx_posts_char_status_pub",
        ),
        (
            "analytics of a character, 90 days",
            "SELECT metric_date, platform, metric_value FROM analytics WHERE character_id = %s "
            "AND metric_type = 'follower_count' AND metric_date >= current_date - 90 "
            "ORDER BY metric_date",
            [character],
            ("unique_metric", "idx_analytics_character_date"),
        ),
        (
            "system logs, newest 100",
            "SELECT * FROM system_logs ORDER BY created_at DESC LIMIT 100",
            [],
            "idx_logs_created",
        ),
        (
            "errors of the last day",
            "SELECT * FROM system_logs WHERE log_level IN ('error', 'critical') "
            "AND created_at >= now() - interval '1 day' ORDER BY created_at DESC LIMIT 100",
            [],
            "idx_logs_error",
        ),
        (
            "posts changelist, newest 100",
            "SELECT * FROM posts ORDER BY published_at DESC LIMIT 100",
            [],
            "idx_posts_published",
        ),
        (
            "post search by caption (trigram)",
            "SELECT id FROM posts WHERE UPPER(caption::text) LIKE UPPER('%%number 4242%%') LIMIT 100",
            [],
            "trgm_posts_caption",
        ),
        (
            "pending engagement queue",
            "SELECT id FROM engagement_actions WHERE status = 'pending' ORDER BY created_at LIMIT 50",
            [],
            "idx_engagement_pending",
        ),
    ]


def run(bench: Bench) -> list[Result]:
    results = []
    with connection.cursor() as c:
        for name, sql, params, index in hot_queries(bench.character):
            c.execute("EXPLAIN (FORMAT JSON) " + sql, params)
            plan = c.fetchone()[0][0]
            text = json.dumps(plan)
            seq = seq_scans(plan) & BIG_TABLES
            wanted = (index,) if isinstance(index, str) else index
            used = [i for i in wanted if i in text]
            note = f"uses {used[0]}" if used else f"NOT using {' or '.join(wanted)}"
            if seq:
                note += "; seq scan on " + ", ".join(sorted(seq))

            def timed(sql: str = sql, params: list[Any] = params) -> float:
                c.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
                return float(c.fetchone()[0][0]["Execution Time"])

            times = sorted(timed() for _ in range(min(bench.repeat, 15)))
            # partition pruning (analytics, system_logs), as executed
            c.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, params)
            pruning = pruning_note(c.fetchone()[0][0])
            if pruning:
                note += "; " + pruning
            results.append(
                Result(
                    section="plans",
                    what=name,
                    median_ms=times[len(times) // 2],
                    p95_ms=times[-1],
                    target="intended index, no seq scan of a big table",
                    note=note,
                )
            )
    return results
