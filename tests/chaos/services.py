"""Throwaway PostgreSQL and Redis servers for one chaos run.

Each run gets its own cluster (initdb into the run's folder) and its own Redis,
on free loopback ports, so that stopping and starting them never touches the
developer's or CI's servers. Both run as children of the harness (PostgreSQL
as the `postgres` user when the harness runs as root, as
scripts/services.sh does) and die with it (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import ctypes
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1
# Environment passed through to the processes of a run; everything else is set
# explicitly, so the developer's own DATABASE_URL, REDIS_URL ... never leak in.
PASSTHROUGH_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV", "TZ")


def django_env(
    *, database_url: str, redis_url: str, folder: Path, **extra: str
) -> dict[str, str]:
    """The environment of a manage.py / celery process on these servers: the
    production profile (DEBUG off, real keys, no pool), files under `folder`."""
    env = {k: os.environ[k] for k in PASSTHROUGH_ENV if k in os.environ}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONUNBUFFERED="1",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        CRYPTOGRAPHY_KEY=secrets.token_urlsafe(32),
        ALLOWED_HOSTS="localhost",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DB_POOL="false",
        MEDIA_ROOT=str(folder / "media"),
        BACKUP_ROOT=str(folder / "backups"),
        STATIC_ROOT=str(folder / "static"),
        **extra,
    )
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def die_with_parent() -> None:
    """preexec_fn: SIGKILL this child when the harness dies, however it dies.

    Runs after Popen's user/group switch (which would clear the setting)."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def wait_port(port: int, *, timeout: float, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def pg_bindir() -> Path:
    """The newest PostgreSQL server binaries (as scripts/services.sh finds them)."""
    found = shutil.which("pg_config")
    if found:
        out = subprocess.run(
            [found, "--bindir"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if out and Path(out, "initdb").exists():
            return Path(out)
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2])
    )
    for path in reversed(candidates):
        if Path(path, "initdb").exists():
            return Path(path)
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError(
        "No PostgreSQL server binaries (initdb) found: run `make setup` first."
    )


class PostgresCluster:
    """A PostgreSQL cluster in `root/pg` with one database owned by `user`."""

    user = "chaos"
    database = "chaos"

    def __init__(self, root: Path, *, port: int | None = None):
        self.root = root
        self.data = root / "pg" / "data"
        self.sockets = root / "pg" / "run"
        self.log = root / "pg" / "postgres.log"
        self.port = port or free_port()
        self.bindir = pg_bindir()
        self.proc: subprocess.Popen | None = None
        self._as_user: dict = {}
        if os.geteuid() == 0:
            try:
                pg = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError(
                    "Running as root needs the `postgres` user (make setup creates it)."
                ) from None
            self._as_user = {"user": pg.pw_uid, "group": pg.pw_gid}

    @property
    def url(self) -> str:
        return f"postgres://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def _chown(self, path: Path) -> None:
        if self._as_user:
            os.chown(path, self._as_user["user"], self._as_user["group"])

    def init(self) -> None:
        for path in (self.root / "pg", self.data, self.sockets):
            path.mkdir(parents=True, exist_ok=True)
            self._chown(path)
        self.data.chmod(0o700)
        subprocess.run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
            check=True,
            capture_output=True,
            **self._as_user,
        )
        with open(self.data / "postgresql.conf", "a") as conf:
            # a throwaway cluster: no fsync (the OS keeps what was written,
            # and only the server is ever crashed, never the machine)
            conf.write(
                "\nlisten_addresses = '127.0.0.1'\n"
                f"port = {self.port}\n"
                f"unix_socket_directories = '{self.sockets}'\n"
                "max_connections = 100\n"
                "shared_buffers = 64MB\n"
                "fsync = off\n"
                "full_page_writes = off\n"
                "log_min_messages = warning\n"
            )
        self.start()
        self.psql(f"CREATE ROLE {self.user} LOGIN CREATEDB")
        self.psql(f"CREATE DATABASE {self.database} OWNER {self.user}")

    def start(self) -> None:
        log = open(self.log, "ab")  # noqa: SIM115 - the server's stderr for its life
        self._chown(self.log)
        self.proc = subprocess.Popen(
            [str(self.bindir / "postgres"), "-D", str(self.data)],
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
            **self._as_user,
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"PostgreSQL exited with {self.proc.returncode}: "
                    f"{self.log.read_text()[-2000:]}"
                )
            ready = subprocess.run(
                [
                    str(self.bindir / "pg_isready"),
                    "-q",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                ],
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.2)
        raise TimeoutError("PostgreSQL did not accept connections in 60 s")

    def stop(self, *, mode: str = "immediate") -> None:
        """immediate: a crash (SIGQUIT, recovery at the next start); fast: SIGINT."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGQUIT if mode == "immediate" else signal.SIGINT)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def psql(self, sql: str) -> str:
        return subprocess.run(
            [
                str(self.bindir / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-qtAc",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout


class RedisServer:
    """A Redis on its own port with an append-only file, like production's."""

    def __init__(self, root: Path, *, port: int | None = None):
        self.dir = root / "redis"
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self.binary = shutil.which("redis-server")
        if not self.binary:
            raise RuntimeError("redis-server not found: run `make setup` first.")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.dir),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--maxmemory-policy",
                "noeviction",
                "--logfile",
                str(self.dir / "redis.log"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        wait_port(self.port, timeout=30, proc=self.proc)

    def stop(self) -> None:
        """SIGKILL: an outage, not a shutdown (the AOF keeps what was written)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.kill()
        self.proc.wait()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None
