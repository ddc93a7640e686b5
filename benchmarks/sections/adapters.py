"""Publishing through each HTTP adapter against its loopback fake, next to the
dry-run adapter (issue 14): one worker process each. Telegram, X and Facebook
publish text posts (sendMessage, POST /2/tweets, a Page's feed), so their rows
measure the engine plus the adapter's HTTP round trip; Instagram and YouTube
publish no text, so theirs carry media: an Instagram image (a signed media
link, the container, its status, media_publish, after the publishing-limit
check) and a YouTube video of 4 KiB (the resumable upload's session and one
PUT), the flows of a real post with a small file.

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

# (label, platform, posts/s target per worker or None, media kind or None:
# text posts, post type)
RUNS: tuple[tuple[str, str, int | None, str | None, str], ...] = (
    ("dry-run adapter", "telegram", None, None, "post"),
    ("Telegram adapter", "telegram", 300, None, "post"),
    ("X adapter", "twitter", 300, None, "post"),
    ("Facebook adapter", "facebook", None, None, "post"),
    ("Instagram adapter", "instagram", None, "image", "post"),
    ("YouTube adapter", "youtube", None, "video", "video"),
)
WHAT = {None: "text posts", "image": "image posts", "video": "video posts"}
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
        # the scratch posts' files are under this process's MEDIA_ROOT, which
        # the worker shares (the fake's own folder is for the tests' files)
        overrides.pop("MEDIA_ROOT", None)
        yield w, overrides


def run(bench: Bench) -> list[Result]:
    n = max(200, bench.due_posts // 2)
    scratch = ScratchPosts()
    results: list[Result] = []
    try:
        for label, platform, target, media, post_type in RUNS:
            with _platform(label, platform) as (w, overrides):
                cutoff = scratch.make(
                    n,
                    platforms=[platform],
                    text_only=media is None,
                    media=media,
                    post_type=post_type,
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
                f"{done['rate']:.0f} posts/s; {n} {WHAT[media]}, all delivered; "
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
                    what=f"publish {n} {WHAT[media]}, 1 worker process, {label}"
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
