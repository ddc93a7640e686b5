"""Applying platform metrics to posts (platforms.sync.apply_post_metrics: one
UPDATE ... FROM unnest() per batch) for 100,000 posts, next to a COPY of the
same rows into a scratch table (issue 14, target within 3x). Each run is
rolled back: the scale database keeps its numbers."""

from __future__ import annotations

import io
import random
from typing import Any

from django.db import connection

from benchmarks.context import Bench, BenchError
from benchmarks.report import Result, stats
from benchmarks.sections.snapshot import _timed_rollback
from platforms.sync import apply_post_metrics

POSTS = 100_000


def _rows(limit: int) -> list[tuple[Any, ...]]:
    """(platform, platform_post_id, likes, comments, shares, views) of posts
    the platforms know, with new numbers."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT platform, platform_post_id FROM posts "
            "WHERE platform_post_id IS NOT NULL LIMIT %s",
            [limit],
        )
        found = cursor.fetchall()
    rng = random.Random(14)
    return [
        (
            platform,
            pid,
            rng.randrange(10_000),
            rng.randrange(1_000),
            rng.randrange(500),
            rng.randrange(100_000),
        )
        for platform, pid in found
    ]


def run(bench: Bench) -> list[Result]:
    rows = _rows(POSTS)
    if len(rows) < POSTS:
        raise BenchError(
            f"the bench database has {len(rows):,} posts with a platform id, "
            f"not {POSTS:,}: seed it with `make bench-data`"
        )
    data = "".join("\t".join(str(v) for v in row) + "\n" for row in rows)
    runs = max(3, min(bench.repeat, 5))
    applied: list[int] = []

    def apply() -> None:
        applied.append(apply_post_metrics(rows))

    def copy_rows() -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE bench_metrics (platform text, pid text, "
                "likes int, comments int, shares int, views int) ON COMMIT DROP"
            )
            with cursor.cursor.copy("COPY bench_metrics FROM STDIN") as copy:
                copy.write(io.StringIO(data).read())

    _timed_rollback(apply)  # warm-up: the posts' pages and index in cache
    _timed_rollback(copy_rows)
    updates = [_timed_rollback(apply) for _ in range(runs)]
    copies = [_timed_rollback(copy_rows) for _ in range(runs)]
    if set(applied) != {len(rows)}:
        raise BenchError(f"updated {sorted(set(applied))} posts, not {len(rows)}")
    median, p95 = stats(updates)
    floor, _ = stats(copies)
    return [
        Result(
            section="metrics",
            what=f"apply platform metrics to {len(rows):,} posts (one UPDATE ... FROM "
            "unnest)",
            median_ms=median,
            p95_ms=p95,
            floor_ms=floor,
            queries=1,
            target="within 3x of COPY",
            note="floor: COPY of the same (platform, id, 4 numbers) rows into a "
            "scratch table; the UPDATE also finds each post through "
            "platform_post_id_unique and writes a new row version",
        )
    ]
