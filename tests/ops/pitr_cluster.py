"""A throwaway PostgreSQL cluster made by scripts/services.sh itself.

`LOCAL_DIR` points the script at a temporary folder, so the cluster is set up
exactly as `make run`'s (WAL archived by pgBackRest from its first start, the
same pgbackrest.conf) but on its own port, data folder and repository: the
drills can back it up, damage its archive and restore it without touching the
cluster the tests run on.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import connection

from config.ops.pitr import Repository, as_user, free_port, pg_bindir

SERVICES = Path(settings.BASE_DIR) / "scripts" / "services.sh"


class ScratchCluster:
    def __init__(self) -> None:
        # under /tmp, not pytest's tmp_path: the postgres user must reach it
        self.root = Path(tempfile.mkdtemp(prefix="ainf-pitr-"))
        self.root.chmod(0o755)
        self.port = free_port()
        self.env = {
            **os.environ,
            "LOCAL_DIR": str(self.root),
            "LOCAL_PG_PORT": str(self.port),
            "LOCAL_PG_SHARED_BUFFERS": "32MB",
            "LOCAL_PG_FSYNC": "off",
        }
        self.env.pop("DATABASE_URL", None)
        # the application's database in the copy has the test database's name,
        # so that code connecting with settings.DATABASES finds it there too
        self.dbname = connection.settings_dict["NAME"]
        self.repository = Repository(
            stanza="ainfluencer",
            config=str(self.root / "pgbackrest" / "pgbackrest.conf"),
            run_as=settings.PITR_RUN_AS,
        )

    @property
    def data_dir(self) -> Path:
        return self.root / "postgres"

    def services(self, command: str) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [str(SERVICES), command],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done

    def start(self) -> ScratchCluster:
        self.services("pg-start")
        return self

    def start_plain(self) -> None:
        """pg_ctl start, bypassing services.sh (a cluster as an older script left it)."""
        done = subprocess.run(
            as_user(
                settings.PITR_RUN_AS,
                [
                    str(pg_bindir() / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.root / "log" / "plain.log"),
                    "-w",
                    "start",
                ],
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr

    def stop(self) -> None:
        subprocess.run(
            [str(SERVICES), "pg-stop"], env=self.env, capture_output=True, check=False
        )

    def remove(self) -> None:
        # immediate: a fast stop would first archive every pending segment
        subprocess.run(
            as_user(
                settings.PITR_RUN_AS,
                [
                    str(pg_bindir() / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
            ),
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.root, ignore_errors=True)

    def connect(self, port: int | None = None, user: str = "ainfluencer"):
        return psycopg.connect(
            host="127.0.0.1",
            port=port or self.port,
            dbname=self.dbname,
            user=user,
            autocommit=True,
        )

    def load_project_schema(self) -> None:
        """The project's tables (schema only), copied from the test database
        into a database of the same name."""
        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            dbname="postgres",
            user="postgres",
            autocommit=True,
        ) as admin:
            admin.execute(f'CREATE DATABASE "{self.dbname}" OWNER ainfluencer')
        params = connection.settings_dict
        dump = subprocess.run(
            [
                "pg_dump",
                "--schema-only",
                "--no-owner",
                f"--dbname=postgresql://{params['USER']}@{params['HOST'] or '127.0.0.1'}"
                f":{params['PORT']}/{params['NAME']}",
                *(f"--extension={name}" for name in settings.DB_EXTENSIONS),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        # psql, not psycopg: the dump holds psql meta-commands (\restrict)
        subprocess.run(
            [
                "psql",
                "-v",
                "ON_ERROR_STOP=1",
                "-q",
                f"--dbname=postgresql://ainfluencer@127.0.0.1:{self.port}/{self.dbname}",
            ],
            input=dump.stdout,
            capture_output=True,
            text=True,
            check=True,
        )
