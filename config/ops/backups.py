"""Backups that restore: verification, the migration-state guard, age retention.

django-dbbackup does the dumping and restoring (pg_dump -Fc / pg_restore). This
module adds what it lacks:

- `verify_backup_file`: the whole archive is readable (TOC with `pg_restore
  --list`, then every data block by restoring into /dev/null), so a truncated
  or corrupt file is reported with its name and the reason;
- `check_restore_allowed`, connected to dbbackup's `pre_restore` signal: a
  plain `dbrestore` refuses, before anything is dropped, a file that does not
  verify or whose django_migrations differ from the target database's in the
  wrong direction (the database is newer than the backup, or the backup was
  made by code we do not have);
- `prune_backups`: delete backups older than BACKUP_RETENTION_DAYS (the count
  limit is dbbackup's own DBBACKUP_CLEANUP_KEEP);
- `PartitionAwarePgDumpConnector`: dbbackup's connector with a restore that
  works over partitioned tables (see its docstring).

Messages name files and reasons, never connection strings or passwords.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import logging
import os
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dbbackup.db import exceptions as _connector_errors
from dbbackup.db.postgresql import PgDumpBinaryConnector, parse_postgres_settings
from django.core.management.base import CommandError
from django.db import DatabaseError, connections

logger = logging.getLogger("config.ops.backups")

MIGRATIONS_TABLE = "django_migrations"


class BackupError(Exception):
    """A backup cannot be read, checked or restored; the message says why."""


@dataclass
class Verification:
    """The outcome of checking one backup file."""

    filename: str
    ok: bool
    reason: str = ""
    entries: int = 0
    tables: int = 0
    size: int = 0
    migrations: set[tuple[str, str]] = field(default_factory=set)

    def line(self) -> str:
        if self.ok:
            return (
                f"OK      {self.filename} ({self.size} bytes, {self.entries} TOC "
                f"entries, {self.tables} tables with data, "
                f"{len(self.migrations)} migrations)"
            )
        return f"FAILED  {self.filename}: {self.reason}"


def _pg_restore() -> str:
    path = shutil.which("pg_restore")
    if not path:
        raise BackupError(
            "pg_restore not found on PATH: install the PostgreSQL client tools "
            "(postgresql-client, same major version as the server or newer)."
        )
    return path


def _stderr_reason(stderr: bytes) -> str:
    lines = [
        line.removeprefix("pg_restore: ").removeprefix("error: ").strip()
        for line in stderr.decode("utf-8", "replace").splitlines()
        if line.strip()
    ]
    return "; ".join(lines[:3]) or "pg_restore failed without a message"


@contextlib.contextmanager
def local_backup_copy(filename: str, storage: Any = None) -> Iterator[Path]:
    """A local, uncompressed path for a backup in storage (or on disk)."""
    if filename.endswith(".gpg"):
        raise BackupError(
            f"{filename} is GPG-encrypted: decrypt it first (gpg --decrypt) and "
            "check/restore the decrypted file with -I/--input-path."
        )
    with tempfile.TemporaryDirectory(prefix="ainf-backup-") as tmp:
        target = Path(tmp) / "backup.dump"
        # A name in backup storage (dbrestore -i), or a local path (-I).
        if os.path.isabs(filename) and os.path.isfile(filename):
            source = open(filename, "rb")  # noqa: SIM115 - closed below
        else:
            if storage is None:
                from dbbackup.storage import get_storage

                storage = get_storage()
            try:
                source = storage.read_file(filename)
            except (OSError, ValueError) as err:
                if not os.path.isfile(filename):
                    raise BackupError(
                        f"{filename}: cannot be read ({err.__class__.__name__})"
                    ) from err
                source = open(filename, "rb")  # noqa: SIM115 - closed below
        with source, open(target, "wb") as out:
            if filename.endswith(".gz"):
                try:
                    with gzip.GzipFile(fileobj=source) as gz:
                        shutil.copyfileobj(gz, out)
                except (OSError, EOFError) as err:
                    raise BackupError(
                        f"{filename}: broken gzip stream ({err})"
                    ) from err
            else:
                shutil.copyfileobj(source, out)
        yield target


def _verify_path(path: Path, filename: str) -> Verification:
    result = Verification(filename=filename, ok=False, size=path.stat().st_size)
    if result.size == 0:
        result.reason = "empty file"
        return result
    listing = subprocess.run(
        [_pg_restore(), "--list", str(path)], capture_output=True, check=False
    )
    if listing.returncode != 0:
        result.reason = (
            f"not a readable pg_dump archive: {_stderr_reason(listing.stderr)}"
        )
        return result
    toc = [
        line
        for line in listing.stdout.decode("utf-8", "replace").splitlines()
        if line and not line.startswith(";")
    ]
    result.entries = len(toc)
    result.tables = sum(1 for line in toc if " TABLE DATA " in line)
    if not any(
        " TABLE DATA public " in line and f" {MIGRATIONS_TABLE} " in line
        for line in toc
    ):
        result.reason = "no django_migrations data: not a full dump of this project"
        return result
    # The TOC sits at the start of the file, so a truncated archive still lists:
    # reading every data block is what finds truncation and corrupt compression.
    full_read = subprocess.run(
        [_pg_restore(), "--file", os.devnull, str(path)],
        capture_output=True,
        check=False,
    )
    if full_read.returncode != 0:
        result.reason = f"data blocks unreadable (truncated or corrupt): {_stderr_reason(full_read.stderr)}"
        return result
    try:
        result.migrations = migrations_in_dump(path)
    except BackupError as err:
        result.reason = str(err)
        return result
    foreign = not_this_project(result.migrations)
    if foreign:
        result.reason = foreign
        return result
    result.ok = True
    return result


def project_initial_migrations() -> set[tuple[str, str]]:
    """(app, name) of the first migration of each of the project's own apps."""
    from django.conf import settings

    return {
        (app, name)
        for app, name in migrations_in_code()
        if app in settings.PROJECT_APPS and name.startswith("0001_")
    }


def not_this_project(dump: set[tuple[str, str]]) -> str | None:
    """Why a dump's django_migrations do not belong to this project, or None.

    Any Django project has a django_migrations table; ours has applied the
    first migration of every one of our apps, under these exact names.
    """
    missing = project_initial_migrations() - dump
    if not missing:
        return None
    apps = sorted({app for app, _ in dump})
    return (
        "not a backup of this project: its django_migrations lacks "
        f"{_names(missing)} (apps in the dump: {', '.join(apps) or 'none'})"
    )


def verify_backup_file(filename: str, storage: Any = None) -> Verification:
    """Check that `filename` (a name in backup storage, or an absolute path) restores."""
    try:
        with local_backup_copy(filename, storage) as path:
            return _verify_path(path, filename)
    except BackupError as err:
        return Verification(filename=filename, ok=False, reason=str(err))


def migrations_in_dump(path: Path) -> set[tuple[str, str]]:
    """(app, name) of every row of django_migrations in a custom-format dump."""
    proc = subprocess.run(
        [
            _pg_restore(),
            "--data-only",
            "--schema",
            "public",
            "--table",
            MIGRATIONS_TABLE,
            "--file",
            "-",
            str(path),
        ],
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BackupError(
            f"cannot read django_migrations from the dump: {_stderr_reason(proc.stderr)}"
        )
    rows: set[tuple[str, str]] = set()
    columns: list[str] | None = None
    for line in proc.stdout.decode("utf-8", "replace").splitlines():
        if columns is None:
            if line.startswith("COPY ") and MIGRATIONS_TABLE in line:
                inside = line[line.index("(") + 1 : line.index(")")]
                columns = [c.strip().strip('"') for c in inside.split(",")]
            continue
        if line == "\\.":
            break
        values = line.split("\t")
        record = dict(zip(columns, values, strict=False))
        rows.add((record["app"], record["name"]))
    if columns is None:
        raise BackupError("the dump holds no django_migrations rows")
    return rows


def migrations_in_database(alias: str = "default") -> set[tuple[str, str]]:
    """Applied migrations of a database; empty when it has no django_migrations."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('public.django_migrations') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return set()
        cursor.execute("SELECT app, name FROM public.django_migrations")
        return {(app, name) for app, name in cursor.fetchall()}


def migrations_in_code() -> set[tuple[str, str]]:
    from django.db.migrations.loader import MigrationLoader

    return set(MigrationLoader(None, ignore_no_migrations=True).disk_migrations)


def _names(pairs: set[tuple[str, str]], limit: int = 8) -> str:
    listed = sorted(f"{app}.{name}" for app, name in pairs)
    more = f" and {len(listed) - limit} more" if len(listed) > limit else ""
    return ", ".join(listed[:limit]) + more


def migration_state_problem(
    dump: set[tuple[str, str]],
    database: set[tuple[str, str]],
    code: set[tuple[str, str]],
) -> str | None:
    """Why restoring a dump with `dump` migrations into `database` is refused."""
    newer_in_database = database - dump
    if newer_in_database:
        return (
            f"the database has {len(newer_in_database)} migration(s) the backup "
            f"does not ({_names(newer_in_database)}): it is newer than the backup. "
            "Restore into a database at the backup's migration state (a fresh "
            "database, or check out the code of the backup's date and migrate "
            "back with `manage.py migrate <app> <migration>`), then migrate forward"
        )
    unknown = dump - code
    if unknown:
        return (
            f"the backup has {len(unknown)} migration(s) this code does not know "
            f"({_names(unknown)}): it was made by newer code; deploy that code first"
        )
    return None


def check_restore_allowed(
    filename: str, database_name: str = "default", storage: Any = None
) -> Verification:
    """Raise CommandError when `filename` must not be restored into the database."""
    try:
        with local_backup_copy(filename, storage) as path:
            result = _verify_path(path, filename)
    except BackupError as err:
        raise CommandError(
            f"Refusing to restore {filename}: {err}. Nothing was changed."
        ) from err
    if not result.ok:
        raise CommandError(
            f"Refusing to restore {filename}: {result.reason}. Nothing was changed."
        )
    try:
        in_database = migrations_in_database(database_name)
    except DatabaseError as err:
        raise CommandError(
            f"Refusing to restore {filename}: cannot read the target database's "
            f"migrations ({err.__class__.__name__}). Nothing was changed."
        ) from err
    problem = migration_state_problem(
        result.migrations, in_database, migrations_in_code()
    )
    if problem:
        raise CommandError(
            f"Refusing to restore {filename}: {problem}. Nothing was changed."
        )
    return result


def pre_restore_guard(
    sender: Any,
    *,
    database_name: str | None = None,
    filename: str = "",
    storage: Any = None,
    **kwargs: Any,
) -> None:
    """dbbackup `pre_restore` receiver: runs before pg_restore touches anything."""
    check_restore_allowed(filename, database_name or "default", storage)


def _backup_date(filename: str) -> dt.datetime | None:
    from dbbackup import utils

    try:
        return utils.filename_to_date(filename)
    except ValueError:
        return None


def prune_backups(
    *,
    days: int,
    dry_run: bool = False,
    now: dt.datetime | None = None,
    storage: Any = None,
) -> list[str]:
    """Delete database and media backups older than `days`; the newest of each kind stays."""
    from dbbackup.storage import get_storage

    storage = storage or get_storage()
    # dbbackup names files with the server's local time (datetime.now()).
    cutoff = (now or dt.datetime.now()) - dt.timedelta(days=days)
    removed: list[str] = []
    for content_type in ("db", "media"):
        files = [
            (date, name)
            for name in storage.list_backups(content_type=content_type)
            if (date := _backup_date(name)) is not None
        ]
        files.sort(reverse=True)
        for date, name in files[1:]:
            if date >= cutoff:
                continue
            removed.append(name)
            if dry_run:
                continue
            storage.delete_file(name)
            if storage.storage.exists(f"{name}.metadata"):
                storage.delete_file(f"{name}.metadata")
    return removed


# -- the connector ---------------------------------------------------------------


class PartitionAwarePgDumpConnector(PgDumpBinaryConnector):
    """`pg_dump --format=custom` like dbbackup's own, restored in one transaction
    that works over partitioned tables.

    `pg_restore --clean` drops each partition's primary-key constraint before
    its parent's, which PostgreSQL refuses ("cannot drop inherited constraint",
    still so in 15.x): a restore into the live database would fail on
    analytics and system_logs. Here pg_restore writes the SQL (with the same
    --clean --if-exists) and psql runs it in a single transaction, after
    dropping the partitioned tables (with their partitions) in that same
    transaction: the --clean statements for them then find nothing to drop.
    All or nothing, like dbbackup's restore.
    """

    psql_cmd = "psql"

    def _restore_dump(self, dump: Any) -> Any:
        from config.ops.partitions import TABLES

        cmd_part, pg_env = parse_postgres_settings(self)
        env = {**os.environ, **self.env, **self.restore_env, **pg_env}
        with tempfile.TemporaryDirectory(prefix="ainf-restore-") as tmp:
            archive = Path(tmp) / "restore.dump"
            with open(archive, "wb") as out:
                if hasattr(dump, "seek"):
                    dump.seek(0)
                shutil.copyfileobj(dump, out)
            to_sql = [self.restore_cmd, "--file=-"]
            if self.pg_options:
                options = self.pg_options
                to_sql += shlex.split(options) if isinstance(options, str) else options
            if self.drop:
                to_sql += ["--clean", "--if-exists"]
            for schema in self.schemas or []:
                to_sql += ["-n", schema]
            to_sql.append(str(archive))
            run_sql = [
                self.psql_cmd,
                cmd_part,
                "--no-psqlrc",
                "--quiet",
                "--single-transaction",
                "--set=ON_ERROR_STOP=1",
            ]
            if self.drop and (not self.schemas or "public" in self.schemas):
                tables = ", ".join(f"public.{name}" for name in TABLES)
                run_sql += ["--command", f"DROP TABLE IF EXISTS {tables} CASCADE"]
            run_sql += ["--file=-"]
            restore_err = open(Path(tmp) / "pg_restore.err", "w+b")  # noqa: SIM115
            psql_err = open(Path(tmp) / "psql.err", "w+b")  # noqa: SIM115
            with restore_err, psql_err:
                producer = subprocess.Popen(
                    to_sql, stdout=subprocess.PIPE, stderr=restore_err, env=env
                )
                consumer = subprocess.Popen(
                    run_sql,
                    stdin=producer.stdout,
                    stdout=subprocess.DEVNULL,
                    stderr=psql_err,
                    env=env,
                )
                assert producer.stdout is not None  # stdout=PIPE
                producer.stdout.close()  # psql alone reads the pipe now
                consumer.wait()
                producer.wait()
                for process, err, name in (
                    (producer, restore_err, "pg_restore"),
                    (consumer, psql_err, "psql"),
                ):
                    if process.returncode:
                        err.seek(0)
                        raise _connector_errors.CommandConnectorError(
                            f"Error running: {name} (exit {process.returncode}): "
                            + err.read().decode("utf-8", "replace")[-2000:]
                        )
        return None
