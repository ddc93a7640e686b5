"""`/health/` for load balancers: the database and the broker answer, or 503.

No authentication and no secrets: each check reports ok, a latency and, on
failure, only the exception's class name (messages can carry host names or
connection strings).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

TIMEOUT_SECONDS = 2


def _timed(check: Callable[[], object]) -> dict[str, Any]:
    started = time.monotonic()
    try:
        check()
    except Exception as err:  # noqa: BLE001 - any failure is "down"
        return {"ok": False, "error": err.__class__.__name__}
    return {"ok": True, "latency_ms": round((time.monotonic() - started) * 1000, 1)}


def _database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _broker() -> None:
    url = settings.CELERY_BROKER_URL
    if url.startswith(("redis://", "rediss://", "unix://")):
        import redis

        client = redis.Redis.from_url(
            url,
            socket_timeout=TIMEOUT_SECONDS,
            socket_connect_timeout=TIMEOUT_SECONDS,
        )
        try:
            if not client.ping():
                raise ConnectionError("no PONG")
        finally:
            client.close()
        return
    from kombu import Connection

    with Connection(url, connect_timeout=TIMEOUT_SECONDS) as conn:
        conn.ensure_connection(max_retries=1, timeout=TIMEOUT_SECONDS)


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """200 when the database and the broker answer, else 503 (each check's
    latency, and its error class on failure)."""
    checks = {"database": _timed(_database), "broker": _timed(_broker)}
    healthy = all(c["ok"] for c in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )
