"""Pages through Django's test clients, timed, next to the same SQL on psycopg
(shared by the api and admin sections)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from benchmarks.context import BenchError
from benchmarks.floors import statements_runner
from benchmarks.report import measure


def http_host() -> str:
    """A host the settings accept (the test client's 'testserver' is not)."""
    for host in settings.ALLOWED_HOSTS:
        host = host.lstrip(".")
        if host and host != "*":
            return host
    return "localhost"


def bench_user(
    username: str, *, superuser: bool = False, group: str | None = None
) -> User:
    """A user kept in the bench database for these sections."""
    user, created = get_user_model().objects.get_or_create(
        username=username,
        defaults={"is_staff": True, "is_superuser": superuser},
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


def timed_page(
    client: Client,
    url: str,
    *,
    repeat: int,
    before: Callable[[], object] | None = None,
    floor_conn: psycopg.Connection[Any] | None = None,
) -> dict[str, Any]:
    """Median/p95 of GET `url` (after `before()`), its queries, and the floor:
    the SQL it ran, captured once, run again on a plain psycopg connection."""

    def get() -> Any:
        if before:
            before()
        response = client.get(url)
        if response.status_code != 200:
            raise BenchError(
                f"GET {url} answered {response.status_code}: {response.content[:500]!r}"
            )
        return response

    get()  # warm caches (content types, permissions, templates)
    with CaptureQueriesContext(connection) as ctx:
        response = get()
    statements = [q["sql"] for q in ctx.captured_queries]
    median, p95 = measure(get, repeat=repeat)
    page: dict[str, Any] = {
        "median": median,
        "p95": p95,
        "queries": len(statements),
        "response": response,
        "floor": None,
    }
    if floor_conn is not None:
        page["floor"], _ = measure(
            statements_runner(floor_conn, statements), repeat=repeat
        )
    return page
