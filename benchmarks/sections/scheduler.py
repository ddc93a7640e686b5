"""The scheduler: the real claim of due posts next to a plain
SELECT ... FOR UPDATE SKIP LOCKED, then publishing the due scratch posts with
one and two worker processes (dry-run adapter), profiled when too slow."""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from benchmarks.context import Bench, BenchError
from benchmarks.floors import pg_connect
from benchmarks.report import Result, measure
from benchmarks.scratch import ScratchPosts
from benchmarks.workers import (
    profile_summary,
    publish_worker,
    use_dry_run_everywhere,
)
from platforms.publishing import claim_due_posts, publish_due_posts


def publish_with_workers(
    scratch: ScratchPosts,
    workers: int,
    cutoff: dt.datetime,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Publish the due scratch posts with `workers` processes started with
    multiprocessing's "spawn" (each its own Django and connection); the
    clock runs from the common start signal to the last worker's end.
    `overrides`: settings of the workers (benchmarks.workers.publish_worker)."""
    ctx = multiprocessing.get_context("spawn")
    go = ctx.Event()
    queue = ctx.Queue()
    log_path = str(Path(tempfile.gettempdir()) / "bench-publish-workers.log")
    Path(log_path).unlink(missing_ok=True)
    connection.close()  # nothing of this process's connection in the children
    procs = [
        ctx.Process(
            target=publish_worker,
            args=(go, queue, cutoff.isoformat(), 50, log_path, overrides),
        )
        for _ in range(workers)
    ]
    for proc in procs:
        proc.start()
    time.sleep(3)  # let them import Django and connect before the start
    go.set()
    reports = [queue.get(timeout=1800) for _ in procs]
    for proc in procs:
        proc.join()
        if proc.exitcode:
            raise BenchError(f"a publish worker failed; see {log_path}")
    published = sum(r["published"] for r in reports)
    wall = max(r["end"] for r in reports) - min(r["start"] for r in reports)
    return {
        "published": published,
        "wall_s": wall,
        "rate": published / wall if wall else 0.0,
        "per_worker": [
            round(r["published"] / (r["end"] - r["start"])) for r in reports
        ],
        "outcome": scratch.outcome(),
        # the largest worker's resident memory at its end and at its peak
        "cpu_s": sum(r.get("cpu_s", 0.0) for r in reports),
        "rss_mb": max((r.get("rss_mb", 0.0) for r in reports), default=0.0),
        "peak_rss_mb": max((r.get("peak_rss_mb", 0.0) for r in reports), default=0.0),
    }


def profile_publishing(scratch: ScratchPosts, n: int) -> tuple[str, Path]:
    """Publish `n` scratch posts in this process under pyinstrument (log lines
    to /dev/null); a summary, and the full text profile under bench-results/.

    In one lane: pyinstrument samples the thread that started it, and with
    lanes that thread only waits for the others (the profile said
    "Thread.join 99%")."""
    from django.test.utils import override_settings
    from pyinstrument import Profiler

    # only the first `n` scratch posts are due by `until`
    until = scratch.EPOCH + dt.timedelta(seconds=n - 1)
    handlers = [h for h in logging.getLogger().handlers if hasattr(h, "setStream")]
    with open(os.devnull, "w") as devnull:
        streams = [h.setStream(devnull) for h in handlers]
        profiler = Profiler(interval=0.0005)
        profiler.start()
        try:
            with override_settings(PUBLISH_CALLS_IN_FLIGHT=1):
                published = publish_due_posts(batch=50, time_budget=600, now=until)
        finally:
            profiler.stop()
            for handler, stream in zip(handlers, streams, strict=True):
                handler.setStream(stream)
    out = Path(settings.BASE_DIR) / "bench-results" / "scheduler-profile.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(profiler.output_text(unicode=False, color=False, show_all=True))
    session = profiler.last_session
    if session is None:
        raise BenchError("pyinstrument recorded no session")
    return (
        f"profile of {published} posts in one process, one lane "
        f"({published / session.duration:.0f} posts/s): {profile_summary(session)}",
        out,
    )


def claim_row(bench: Bench, cutoff: dt.datetime) -> Result:
    """The real claim_due_posts next to the plain SELECT, both rolled back so
    that every repetition sees the same due rows."""

    def claim() -> None:
        with transaction.atomic():
            claimed = claim_due_posts(limit=50, now=cutoff)
            transaction.set_rollback(True)
        if len(claimed) != 50:
            raise BenchError(f"claimed {len(claimed)} due posts, not 50")

    with CaptureQueriesContext(connection) as ctx:
        claim()
    queries = len([q for q in ctx.captured_queries if "SAVEPOINT" not in q["sql"]])
    median, p95 = measure(claim, repeat=bench.repeat)
    floor_conn = pg_connect(settings.DATABASES["default"])
    try:

        def plain() -> None:
            with (
                floor_conn.transaction(force_rollback=True),
                floor_conn.cursor() as c,
            ):
                c.execute(
                    "SELECT id FROM scheduled_posts WHERE status = 'scheduled' "
                    "AND scheduled_at <= now() ORDER BY scheduled_at "
                    "LIMIT 50 FOR UPDATE SKIP LOCKED"
                )
                c.fetchall()

        floor, _ = measure(plain, repeat=bench.repeat)
    finally:
        floor_conn.close()
    return Result(
        section="scheduler",
        what="claim 50 due posts (claim_due_posts, rolled back)",
        median_ms=median,
        p95_ms=p95,
        floor_ms=floor,
        queries=queries,
        target="close to the plain SELECT ... FOR UPDATE SKIP LOCKED",
        note="floor: SELECT id ... LIMIT 50 FOR UPDATE SKIP LOCKED, rolled back; "
        "the claim also joins platform_accounts and sets the lease (UPDATE)",
    )


def run(bench: Bench) -> list[Result]:
    use_dry_run_everywhere()
    n = bench.due_posts
    scratch = ScratchPosts()
    cutoff = scratch.make(n)
    try:
        results = [claim_row(bench, cutoff)]
        runs = {}
        for workers in (1, 2):
            scratch.reset()
            done = publish_with_workers(scratch, workers, cutoff)
            runs[workers] = done
            bench.say(
                f"  {workers} worker(s): {done['published']} published in "
                f"{done['wall_s']:.1f} s, {done['rate']:.0f} posts/s, {done['outcome']}"
            )
        profile_note = ""
        if min(min(r["per_worker"]) for r in runs.values()) < 500:
            scratch.reset()
            profile_note, path = profile_publishing(scratch, min(n, 1000))
            bench.say(f"  {profile_note} (full profile: {path})")
        for workers, done in runs.items():
            per = done["rate"] / workers
            note = (
                f"{done['rate']:.0f} posts/s in all, per worker "
                f"{', '.join(str(r) for r in done['per_worker'])} posts/s; "
                f"outcome {done['outcome']}"
            )
            if workers == 2:
                note += f"; {done['rate'] / runs[1]['rate']:.2f}x one worker"
            if per < 500:
                note += "; MISSED: under 500 posts/s per worker"
                if profile_note:
                    note += f"; {profile_note}"
            results.append(
                Result(
                    section="scheduler",
                    what=f"publish {n} due posts, {workers} worker process"
                    + ("es" if workers > 1 else "")
                    + " (dry-run adapter)",
                    median_ms=round(done["wall_s"] * 1000, 3),
                    p95_ms=round(done["wall_s"] * 1000, 3),
                    target=">= 500 posts/s per worker, 2 workers ~2x one",
                    note=note,
                    extra={
                        "posts_per_second": round(done["rate"], 1),
                        "per_worker": done["per_worker"],
                    },
                )
            )
    finally:
        scratch.drop()
    return results
