"""The API through Django, next to the same SQL on a bare psycopg connection."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from benchmarks.context import Bench
from benchmarks.floors import pg_connect
from benchmarks.report import Result
from benchmarks.web import bench_user, http_host, timed_page
from characters.selectors import character_cache_invalidate
from config.permissions import ADMINISTRATORS


def run(bench: Bench) -> list[Result]:
    character = bench.character
    user = bench_user("bench-api", group=ADMINISTRATORS)
    token, _ = Token.objects.get_or_create(user=user)
    client = APIClient(HTTP_HOST=http_host())
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    since = (timezone.localdate() - dt.timedelta(days=90)).isoformat()
    cases = [
        (
            "framework floor: authenticated GET of the API root (no model)",
            "/api/v1/",
            None,
        ),
        (
            "character detail, uncached (cache key deleted first)",
            f"/api/v1/characters/{character}/",
            lambda: character_cache_invalidate(character),
        ),
        (
            "character detail, cached (Redis)",
            f"/api/v1/characters/{character}/",
            None,
        ),
        (
            "posts of a character by status, newest published_at, page of 50",
            f"/api/v1/posts/?character={character}&status=published"
            "&ordering=-published_at&page_size=50",
            None,
        ),
        (
            "content by character/type/approved, page of 50",
            f"/api/v1/content/?character={character}&content_type=image"
            "&approval_status=approved&page_size=50",
            None,
        ),
        (
            "analytics series of a character, 90 days",
            f"/api/v1/analytics/series/?character={character}"
            f"&metric_type=follower_count&date_from={since}",
            None,
        ),
    ]
    results = []
    floor_conn = pg_connect(settings.DATABASES["default"])
    try:
        for what, url, before in cases:
            page = timed_page(
                client, url, repeat=bench.repeat, before=before, floor_conn=floor_conn
            )
            body = page["response"].json()
            if isinstance(body, list):
                rows = len(body)
            else:
                rows = len(body["results"]) if "results" in body else 1
            ratio = page["median"] / page["floor"] if page["floor"] else None
            missed = []
            if ratio is not None and ratio > 3:
                missed.append("over 3x floor")
            if page["p95"] >= 50:
                missed.append("p95 over 50 ms")
            note = f"{rows} rows, {len(page['response'].content) / 1024:.1f} KiB"
            if "cached (Redis)" in what:
                note += "; floor: its only SQL, the token lookup (permissions and the answer come from Redis)"
            if missed:
                note += "; MISSED: " + ", ".join(missed)
            results.append(
                Result(
                    section="api",
                    what=what,
                    median_ms=page["median"],
                    p95_ms=page["p95"],
                    floor_ms=page["floor"],
                    queries=page["queries"],
                    target="<= 3x floor median, p95 < 50 ms",
                    note=note,
                )
            )
    finally:
        floor_conn.close()
        character_cache_invalidate(character)
    return results
