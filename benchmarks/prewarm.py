"""The bench database in memory before anything is measured.

A server that has been running holds its hot data in the page cache; a
cluster just (re)started reads it from disk, and the section or stack measured
first pays for that (the load section measures Django before the FastAPI
reference, endpoint by endpoint). Reading the files once takes the cache's
state out of the comparison between runs.

When the database's files are on this machine (the local cluster of
scripts/services.sh, which `make bench` starts), they are read once into the
page cache. Elsewhere nothing is done, and the report says so.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.conf import settings
from django.db import connection

CHUNK = 1 << 20


def local_cluster() -> Path | None:
    """The data directory of the local cluster, when the bench database is
    served by it: .local/postgres whose postmaster.pid names the port that
    DATABASE_URL uses."""
    data = Path(settings.BASE_DIR) / ".local" / "postgres"
    try:
        lines = (data / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    port = str(settings.DATABASES["default"].get("PORT") or 5432)
    host = settings.DATABASES["default"].get("HOST") or ""
    local = host in ("", "localhost", "127.0.0.1", "::1") or host.startswith("/")
    # postmaster.pid: pid, data directory, start time, port, ...
    if local and len(lines) > 3 and lines[3].strip() == port:
        return data
    return None


def warm_database() -> str:
    """Read the bench database's files into the page cache; a sentence for
    the report saying what was read, or why nothing was."""
    data = local_cluster()
    if data is None:
        return "not read into memory first (not served by the local cluster)"
    with connection.cursor() as cursor:
        cursor.execute("SELECT oid FROM pg_database WHERE datname = current_database()")
        (oid,) = cursor.fetchone()
    started, size = time.monotonic(), 0
    try:
        files = sorted((data / "base" / str(oid)).iterdir())
        for path in files:
            try:
                with open(path, "rb", buffering=0) as handle:
                    while chunk := handle.read(CHUNK):
                        size += len(chunk)
            except (FileNotFoundError, IsADirectoryError):
                continue  # dropped or rewritten meanwhile (a relation, pg_internal.init)
    except PermissionError:
        return "not read into memory first (its files are not readable by this user)"
    return (
        f"its {size / 1e6:,.0f} MB of files read into the page cache first "
        f"({time.monotonic() - started:.0f} s)"
    )
