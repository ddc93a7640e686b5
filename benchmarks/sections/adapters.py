"""Publishing through each HTTP adapter against its loopback fake, next to the
dry-run adapter on the same posts (issue 14): one worker process, text posts
(Telegram sendMessage, X POST /2/tweets, a Facebook Page's feed), so the row
measures the engine plus the adapter's HTTP round trip, not media uploads.

The fakes are the tests' own (tests/engine/platform_fakes.py), each a
threaded HTTP server in this process; the worker is a separate process, so
the two do not share an interpreter lock. Every post the worker records as
published must be one the fake holds.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.context import Bench, BenchError
from benchmarks.report import Result
from benchmarks.scratch import ScratchPosts
from benchmarks.sections.scheduler import publish_with_workers
from platforms.adapters import DRY_RUN_ADAPTER

# (label, platform, posts/s target per worker or None)
RUNS: tuple[tuple[str, str, int | None], ...] = (
    ("dry-run adapter", "telegram", None),
    ("Telegram adapter", "telegram", 300),
    ("X adapter", "twitter", 300),
    ("Facebook adapter", "facebook", None),
)
# issue 18: a worker's resident memory after publishing this many posts
MEMORY_POSTS = 5000
MEMORY_TARGET_MB = 200


@contextlib.contextmanager
def _platform(label: str, platform: str) -> Iterator[tuple[Any, dict[str, Any]]]:
    """(wired fake or None, the worker's settings) for one run."""
    if label == "dry-run adapter":
        yield None, {"PLATFORM_ADAPTERS": {"*": DRY_RUN_ADAPTER}}
        return
    from tests.engine.platform_fakes import ADAPTERS, wired

    with tempfile.TemporaryDirectory() as media, wired(platform, media_root=media) as w:
        overrides = {**w.settings, "PLATFORM_ADAPTERS": {platform: ADAPTERS[platform]}}
        overrides.pop("MEDIA_ROOT", None)  # text posts: no files
        yield w, overrides


def run(bench: Bench) -> list[Result]:
    n = max(200, bench.due_posts // 2)
    scratch = ScratchPosts()
    results: list[Result] = []
    try:
        for label, platform, target in RUNS:
            with _platform(label, platform) as (w, overrides):
                cutoff = scratch.make(
                    n,
                    platforms=[platform],
                    text_only=True,
                    account_id=w.account_id if w else None,
                    auth_data=w.auth if w else None,
                )
                # this process serves the fake: its CPU time during the run
                # is the fake's (the worker's is its own process's)
                here = time.process_time()
                done = publish_with_workers(scratch, 1, cutoff, overrides)
                fake_cpu = time.process_time() - here
                delivered = len(w.delivered()) if w else done["published"]
            outcome = done["outcome"]
            bench.say(
                f"  {label}: {done['published']} published in {done['wall_s']:.1f} s, "
                f"{done['rate']:.0f} posts/s, {outcome}, the fake holds {delivered}"
            )
            if outcome.get("published", 0) != n or delivered != n:
                log = Path(tempfile.gettempdir()) / "bench-publish-workers.log"
                raise BenchError(
                    f"{label}: {outcome} of {n} posts, {delivered} delivered; see {log}"
                )
            note = (
                f"{done['rate']:.0f} posts/s; {n} text posts, all delivered; "
                f"CPU a post: worker {1000 * done['cpu_s'] / n:.2f} ms"
                + ("" if w is None else f", fake {1000 * fake_cpu / n:.2f} ms")
                + f"; the worker resident {done['rss_mb']:.0f} MB at its end "
                f"(peak {done['peak_rss_mb']:.0f} MB)"
            )
            if target and done["rate"] < target:
                note += f"; MISSED: under {target} posts/s"
            note += memory_verdict(done["rss_mb"], n)
            results.append(
                Result(
                    section="adapters",
                    what=f"publish {n} text posts, 1 worker process, {label}"
                    + ("" if w is None else " against its loopback fake"),
                    median_ms=round(done["wall_s"] * 1000, 3),
                    p95_ms=round(done["wall_s"] * 1000, 3),
                    target="; ".join(
                        ([f">= {target} posts/s per worker"] if target else [])
                        + [
                            f"< {MEMORY_TARGET_MB} MB resident after {MEMORY_POSTS:,} posts"
                        ]
                    ),
                    note=note,
                    extra={
                        "posts_per_second": round(done["rate"], 1),
                        "worker_cpu_ms_per_post": round(1000 * done["cpu_s"] / n, 3),
                        "fake_cpu_ms_per_post": (
                            None if w is None else round(1000 * fake_cpu / n, 3)
                        ),
                        "rss_mb": done["rss_mb"],
                        "peak_rss_mb": done["peak_rss_mb"],
                    },
                )
            )
    finally:
        scratch.drop()
    return results


def memory_verdict(rss_mb: float, n: int) -> str:
    """Issue 18: a worker under 200 MB resident after publishing 5,000 posts.
    The worker is a process with Django and the Celery app loaded that runs
    the publishing drain itself (not under a Celery consumer); it is judged
    only when it published 5,000 posts."""
    if n < MEMORY_POSTS:
        return (
            f"; memory not judged: {n} posts, not {MEMORY_POSTS:,} "
            f"(--due-posts {2 * MEMORY_POSTS} judges it)"
        )
    if rss_mb >= MEMORY_TARGET_MB:
        return f"; MISSED: {MEMORY_TARGET_MB} MB or more resident"
    return ""
