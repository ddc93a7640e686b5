"""Admin changelists and the busiest character's page: time and query count,
and the same query count deeper in the table."""

from __future__ import annotations

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from benchmarks.context import Bench
from benchmarks.report import Result
from benchmarks.web import bench_user, http_host, timed_page


def run(bench: Bench) -> list[Result]:
    client = Client(HTTP_HOST=http_host())
    client.force_login(bench_user("bench-admin", superuser=True))
    posts = reverse("admin:platforms_post_changelist")
    analytics = reverse("admin:analytics_analytics_changelist")
    logs = reverse("admin:logs_systemlog_changelist")
    character = reverse("admin:characters_character_change", args=[bench.character])
    # (what, url, url of the same page deeper in the table: same query count)
    pages = [
        ("posts changelist", posts, posts + "?p=200"),
        ("posts changelist, search 'number 4242'", posts + "?q=number+4242", None),
        ("posts changelist, status failed", posts + "?status__exact=failed", None),
        ("analytics changelist", analytics, analytics + "?p=200"),
        (
            "analytics changelist, search 'persona 42'",
            analytics + "?q=persona+42",
            None,
        ),
        (
            "analytics changelist, metric follower_count",
            analytics + "?metric_type__exact=follower_count",
            None,
        ),
        ("system logs changelist", logs, logs + "?p=200"),
        (
            "system logs changelist, search 'message 4242'",
            logs + "?q=message+4242",
            None,
        ),
        (
            "system logs changelist, level error",
            logs + "?log_level__exact=error",
            None,
        ),
        ("character change page (busiest character)", character, None),
    ]
    results = []
    for what, url, deeper in pages:
        page = timed_page(client, url, repeat=bench.repeat)
        note = f"{len(page['response'].content) / 1024:.0f} KiB"
        if deeper:
            with CaptureQueriesContext(connection) as ctx:
                client.get(deeper)
            note += f"; page 200: {len(ctx)} queries"
            if len(ctx) != page["queries"]:
                note += " (NOT constant)"
        if page["median"] >= 300:
            note += "; MISSED: median over 300 ms"
        results.append(
            Result(
                section="admin",
                what=what,
                median_ms=page["median"],
                p95_ms=page["p95"],
                queries=page["queries"],
                target="< 300 ms median, constant queries",
                note=note,
            )
        )
    return results
