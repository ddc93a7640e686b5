"""Backups on the project's own local setup (issue 11, item 7).

- the superuser's pg_stat_statements (scripts/services.sh creates it in the
  application's database) stays out of the dumps, so `dbrestore` into the same
  database and the restore drill into a fresh one both work;
- `verify_backup` refuses a dump of another Django project;
- backup files are readable by their owner only.
"""

import io
import os
import stat
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from psycopg import sql

from characters.models import Character
from config.ops.backups import verify_backup_file
from tests import factories
from tests.ops.conftest import table_checksums
from tests.ops.test_backup_restore import assert_restored

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=out)
    return out.getvalue()


def _dsn(dbname: str, user: str) -> dict:
    params = connection.settings_dict
    return {
        "host": params["HOST"] or "127.0.0.1",
        "port": params["PORT"] or 5432,
        "dbname": dbname,
        "user": user,
        "autocommit": True,
    }


@pytest.fixture
def superuser_pg_stat_statements():
    """What scripts/services.sh does to the application's database."""
    dsn = _dsn(connection.settings_dict["NAME"], "postgres")
    with psycopg.connect(**dsn) as admin:
        admin.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    yield
    with psycopg.connect(**dsn) as admin:
        admin.execute("DROP EXTENSION IF EXISTS pg_stat_statements")


@pytest.fixture
def scratch_database():
    """An empty database owned by the application role, dropped afterwards."""
    name = f"{connection.settings_dict['NAME']}_drill"
    owner = connection.settings_dict["USER"]
    with psycopg.connect(**_dsn("postgres", "postgres")) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)
            )
        )
        admin.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(owner)
            )
        )
    yield name
    with psycopg.connect(**_dsn("postgres", "postgres")) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)
            )
        )


def test_restore_into_the_same_database_with_the_superusers_extension(
    backup_dir, superuser_pg_stat_statements
):
    """Before: pg_restore --clean stopped at "must be owner of extension
    pg_stat_statements" and the whole restore rolled back."""
    factories.PostFactory()
    before = table_checksums()
    run("dbbackup", "--noinput")
    Character.objects.update(name="after the backup")
    factories.CharacterFactory()
    assert table_checksums() != before
    run("dbrestore", "--noinput")
    dump = next(p.name for p in backup_dir.iterdir() if p.name.endswith(".psql.bin"))
    assert_restored(before, dump)
    with connection.cursor() as cursor:
        # the superuser's extension was left alone, not dropped
        cursor.execute(
            "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'"
        )
        assert cursor.fetchone()[0] == 1


def test_restore_drill_into_a_fresh_database(
    backup_dir, superuser_pg_stat_statements, scratch_database
):
    """The drill of docs/operations.md, as the application role: createdb,
    dbrestore, check, migrate --check. Before: "permission denied to create
    extension pg_stat_statements" (not a trusted extension)."""
    factories.PostFactory()
    factories.AnalyticsFactory()
    before = table_checksums()
    run("dbbackup", "--noinput")
    params = connection.settings_dict
    url = (
        f"postgres://{params['USER']}@{params['HOST'] or '127.0.0.1'}:"
        f"{params['PORT']}/{scratch_database}"
    )
    env = {**os.environ, "DATABASE_URL": url, "DB_POOL": "false"}
    manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
    dump = next(p for p in backup_dir.iterdir() if p.name.endswith(".psql.bin"))
    for command in (
        ["dbrestore", "--noinput", "-I", str(dump)],
        ["check"],
        ["migrate", "--check"],
    ):
        done = subprocess.run(
            [*manage, *command], env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, (command, done.stdout, done.stderr)
    with psycopg.connect(**_dsn(scratch_database, params["USER"])) as restored:
        count = restored.execute("SELECT count(*) FROM posts").fetchone()[0]
        extensions = {
            row[0] for row in restored.execute("SELECT extname FROM pg_extension")
        }
    assert count == before["posts"][0] == 1
    assert {"pg_trgm", "pgcrypto", "uuid-ossp"} <= extensions
    assert "pg_stat_statements" not in extensions


@pytest.fixture
def foreign_dump(tmp_path) -> Path:
    """A complete pg_dump of another Django project (its own apps' migrations)."""
    name = f"{connection.settings_dict['NAME']}_foreign"
    owner = connection.settings_dict["USER"]
    with psycopg.connect(**_dsn("postgres", "postgres")) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)
            )
        )
        admin.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(name), sql.Identifier(owner)
            )
        )
    try:
        with psycopg.connect(**_dsn(name, owner)) as other:
            other.execute(
                "CREATE TABLE django_migrations (id bigserial PRIMARY KEY, "
                "app varchar(255) NOT NULL, name varchar(255) NOT NULL, "
                "applied timestamptz NOT NULL)"
            )
            other.execute(
                "INSERT INTO django_migrations (app, name, applied) VALUES "
                "('contenttypes', '0001_initial', now()), "
                "('auth', '0001_initial', now()), "
                "('blog', '0001_initial', now()), "
                "('shop', '0001_initial', now())"
            )
            other.execute("CREATE TABLE blog_entry (id serial PRIMARY KEY, t text)")
        path = tmp_path / "default-other-2026-01-01-000000.psql.bin"
        params = connection.settings_dict
        subprocess.run(
            [
                "pg_dump",
                "--format=custom",
                f"--dbname=postgresql://{owner}@{params['HOST'] or '127.0.0.1'}:"
                f"{params['PORT']}/{name}",
                f"--file={path}",
            ],
            check=True,
            capture_output=True,
        )
        yield path
    finally:
        with psycopg.connect(**_dsn("postgres", "postgres")) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(name)
                )
            )


def test_verify_backup_refuses_another_projects_dump(foreign_dump, backup_dir):
    result = verify_backup_file(str(foreign_dump))
    assert not result.ok
    assert "not a backup of this project" in result.reason
    assert "characters" in result.reason  # names what is missing
    with pytest.raises(CommandError, match="not a backup of this project"):
        run("verify_backup", str(foreign_dump))
    # and our own dump passes the same check
    factories.CharacterFactory()
    run("dbbackup", "--noinput")
    assert "OK      " in run("verify_backup")


def test_backup_files_are_readable_by_their_owner_only(backup_dir, media_root):
    factories.CharacterFactory()
    (media_root / "a.txt").write_text("media")
    run("dbbackup", "--noinput")
    run("mediabackup", "--noinput", "--compress")
    files = sorted(backup_dir.iterdir())
    assert len(files) == 3  # dump, its .metadata, the media archive
    for path in files:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == 0o600, (path.name, oct(mode))
