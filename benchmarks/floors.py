"""The floors the sections measure against: the same SQL on a bare psycopg
connection, and the environment for PostgreSQL's own client tools."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import psycopg
from django.conf import settings


def pg_connect(db: dict[str, Any]) -> psycopg.Connection[Any]:
    """A plain psycopg connection (autocommit, like Django's) to a DATABASES entry."""
    return psycopg.connect(
        dbname=db["NAME"],
        user=db.get("USER") or None,
        password=db.get("PASSWORD") or None,
        host=db.get("HOST") or None,
        port=db.get("PORT") or None,
        autocommit=True,
    )


def statements_runner(
    conn: psycopg.Connection[Any], statements: list[str]
) -> Callable[[], int]:
    """Run `statements` (SQL captured from Django, values inlined) one after
    another on `conn` and fetch every row: the floor of the code that sent them.
    The runner returns how many rows it fetched."""
    skipped = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")
    statements = [s for s in statements if not s.upper().startswith(skipped)]

    def run() -> int:
        fetched = 0
        with conn.cursor() as c:
            for sql in statements:
                c.execute(sql)  # no params: psycopg sends the text as it is
                if c.description is not None:
                    fetched += len(c.fetchall())
        return fetched

    return run


def pg_env() -> dict[str, str]:
    """The environment for pg_dump/pg_restore/createdb: the default database's
    connection settings as libpq variables."""
    db = settings.DATABASES["default"]
    env = {**os.environ}
    for key, var in (
        ("HOST", "PGHOST"),
        ("PORT", "PGPORT"),
        ("USER", "PGUSER"),
        ("PASSWORD", "PGPASSWORD"),
    ):
        if db.get(key):
            env[var] = str(db[key])
    return env
