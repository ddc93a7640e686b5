"""Code that runs in the publish worker processes of the scheduler section, and
the summary of a profile of one. Imports nothing from Django at module level:
a process started with multiprocessing's "spawn" imports this module first and
sets Django up itself."""

from __future__ import annotations

import time
from typing import Any


def use_dry_run_everywhere() -> None:
    """The scheduler section measures the dry-run adapter on every platform of
    its scratch accounts (OnlyFans included, which is otherwise published by
    hand), whatever PLATFORM_DRY_RUN says."""
    from django.conf import settings

    from platforms.adapters import DRY_RUN_ADAPTER

    settings.PLATFORM_ADAPTERS = {"*": DRY_RUN_ADAPTER}


def publish_worker(
    go: Any,
    results: Any,
    cutoff_iso: str,
    batch: int,
    log_path: str,
    overrides: dict[str, Any] | None = None,
) -> None:
    """One publishing worker process (multiprocessing "spawn": its own Django,
    its own database connection). Waits for `go`, then runs the real
    `publish_due_posts` with `now=cutoff` and reports its count and times.
    Its log lines (one or two per post) go to `log_path`, not the terminal.
    `overrides`: settings that wire a real adapter to a fake (the adapters
    section); without them every platform is the dry-run adapter."""
    import datetime as dt
    import os

    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.utils.module_loading import import_string

    from platforms.publishing import publish_due_posts
    from platforms.queues import clear_expired_rate_limits

    # as a production worker runs (DEBUG off): with DEBUG on (a development
    # .env), Django keeps and times every statement, about 60 us each
    settings.DEBUG = False
    if overrides is None:
        use_dry_run_everywhere()
    else:
        for name, value in overrides.items():
            setattr(settings, name, value)
    cutoff = dt.datetime.fromisoformat(cutoff_iso)
    clear_expired_rate_limits(now=cutoff)  # connect and warm up before the start
    # the adapters' modules loaded before the start, as in a Celery worker
    # after its first task (importing X's twitter-text alone takes 0.45 s of
    # CPU: 0.09 ms a post of a 5,000-post run, counted once per process)
    for path in set(settings.PLATFORM_ADAPTERS.values()):
        import_string(path)
    go.wait()
    start, cpu = time.time(), time.process_time()
    published = publish_due_posts(batch=batch, time_budget=3600, now=cutoff)
    end, cpu = time.time(), time.process_time() - cpu
    connection.close()
    results.put(
        {
            "pid": os.getpid(),
            "published": published,
            "start": start,
            "end": end,
            "cpu_s": cpu,  # this process's CPU time (all its threads)
            **resident_memory(),
        }
    )


def resident_memory() -> dict[str, float]:
    """This process's resident memory now and at its peak, in MB (Linux's
    /proc/self/status: VmRSS and VmHWM); empty where /proc is missing."""
    try:
        with open("/proc/self/status") as status:
            lines = dict(line.split(":", 1) for line in status if ":" in line)
    except OSError:
        return {}
    found = {}
    for key, name in (("VmRSS", "rss_mb"), ("VmHWM", "peak_rss_mb")):
        if key in lines:
            found[name] = round(int(lines[key].split()[0]) / 1024, 1)  # kB
    return found


def profile_summary(
    session: Any,
    *,
    app: tuple[str, ...] = ("/platforms/", "/config/workqueue.py"),
    n: int = 4,
) -> str:
    """Where a pyinstrument session spent its time: the share spent waiting on
    PostgreSQL (psycopg's wait) and the `n` costliest calls from the project's
    code under `app` (the publishing path: platforms and the queue machine)
    into libraries (Django's ORM, Redis), inclusive."""
    calls: dict[str, float] = {}
    waiting = 0.0

    def in_app(frame: Any) -> bool:
        path = frame.file_path or ""
        return any(a in path for a in app) and "site-packages" not in path

    def walk(frame: Any, parent: Any) -> None:
        nonlocal waiting
        if frame.is_synthetic:
            return
        if frame.function == "wait" and "psycopg" in (frame.file_path or ""):
            waiting += frame.time
            return
        if parent is not None and in_app(parent) and not in_app(frame):
            callee = frame.function
            if getattr(frame, "class_name", None):
                callee = f"{frame.class_name}.{callee}"
            key = f"{parent.function} -> {callee}"
            calls[key] = calls.get(key, 0.0) + frame.time
        for child in frame.children:
            walk(child, frame)

    walk(session.root_frame(), None)
    total = session.duration or 1.0
    top = sorted(calls.items(), key=lambda kv: -kv[1])[:n]
    return f"waiting on PostgreSQL {100 * waiting / total:.0f}% of the time; " + (
        "costliest calls: "
        + ", ".join(f"{name} {100 * t / total:.0f}%" for name, t in top)
    )
