"""dbbackup and dbrestore of the scale database next to plain pg_dump -Fc and
pg_restore (each once: minutes on the scale data)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, cast

from dbbackup.storage import get_storage
from django.conf import settings
from django.core.management import call_command
from django.db import connections

from benchmarks.context import Bench, BenchError
from benchmarks.floors import pg_env
from benchmarks.report import Result, measure


def run(bench: Bench) -> list[Result]:
    env = pg_env()
    db = settings.DATABASES["default"]["NAME"]
    workdir = Path(tempfile.mkdtemp(prefix="bench-backup-"))
    results = []
    try:
        storage = cast(dict[str, Any], settings.STORAGES["dbbackup"])
        settings.STORAGES = {
            **settings.STORAGES,
            "dbbackup": {
                **storage,
                "OPTIONS": {"location": str(workdir / "dbbackup")},
            },
        }
        (workdir / "dbbackup").mkdir()

        def plain_dump() -> None:
            subprocess.run(
                [
                    "pg_dump",
                    "--format=custom",
                    "-f",
                    str(workdir / "plain.dump"),
                    db,
                ],
                env=env,
                check=True,
            )

        def django_dump() -> None:
            for f in (workdir / "dbbackup").iterdir():
                f.unlink()
            call_command("dbbackup", "--noinput", verbosity=0)

        floor, _ = measure(plain_dump, repeat=1, warmup=0)
        median, p95 = measure(django_dump, repeat=1, warmup=0)
        size = (workdir / "plain.dump").stat().st_size
        results.append(
            Result(
                section="backup",
                what="dbbackup of the scale database",
                median_ms=median,
                p95_ms=p95,
                floor_ms=floor,
                target="within 1.2x of pg_dump -Fc",
                note=f"dump {size / 1e6:.0f} MB",
            )
        )
        scratch = f"{db}_restore"

        def plain_restore() -> None:
            subprocess.run(["createdb", scratch], env=env, check=True)
            subprocess.run(
                [
                    "pg_restore",
                    "--no-owner",
                    "-d",
                    scratch,
                    str(workdir / "plain.dump"),
                ],
                env=env,
                check=True,
            )

        drop_database(scratch, env)
        r_median, r_p95 = measure(plain_restore, repeat=1, warmup=0)
        alias = "bench_restore"

        def django_restore() -> None:
            subprocess.run(["createdb", scratch], env=env, check=True)
            target = {**connections.settings["default"], "NAME": scratch}
            settings.DATABASES[alias] = target
            connections.settings[alias] = target
            try:
                # the backup dbbackup just made (named after "default")
                name = get_storage().get_latest_backup(
                    database="default", content_type="db"
                )
                call_command(
                    "dbrestore",
                    "--database",
                    alias,
                    "--input-filename",
                    name,
                    "--noinput",
                    verbosity=0,
                )
            finally:
                connections[alias].close()

        drop_database(scratch, env)
        d_median, d_p95 = measure(django_restore, repeat=1, warmup=0)
        drop_database(scratch, env)
        settings.DATABASES.pop(alias, None)
        results.append(
            Result(
                section="backup",
                what="dbrestore of that backup into a new database",
                median_ms=d_median,
                p95_ms=d_p95,
                floor_ms=r_median,
                target="next to plain pg_restore",
                note=(
                    "dbrestore first verifies the whole archive (pg_restore "
                    "--list, then every data block into /dev/null) and checks "
                    "the migration state: the guard reads the file twice"
                ),
            )
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def drop_database(name: str, env: dict, *, wait_s: float = 120) -> None:
    """dropdb --force, again until it goes through: right after a restore,
    autovacuum (a superuser's process) works on the new database, and a
    non-superuser's --force may not end it ("must be a member of the role
    whose process is being terminated"); it finishes or yields soon."""
    deadline = time.monotonic() + wait_s
    while True:
        done = subprocess.run(
            ["dropdb", "--if-exists", "--force", name],
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode == 0:
            return
        if time.monotonic() > deadline:
            raise BenchError(f"could not drop {name}: {done.stderr.strip()}")
        time.sleep(2)
