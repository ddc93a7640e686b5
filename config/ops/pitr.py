"""Point-in-time recovery with pgBackRest: base backups, archive checks, restores.

The server archives every WAL segment with `pgbackrest archive-push` (its
archive_command, set by scripts/services.sh locally and by docker-compose.yml in
production). This module drives the rest:

- `Repository.backup`: a base backup (full, or differential on top of the last
  full); pgBackRest expires older backups and, with them, the WAL they needed
  (repo1-retention-full), so the archive's retention follows the backups';
- `Repository.verify`: the tool's own checks (`check`: archiving works now;
  `verify`: every file in the repository reads back with its checksum) and the
  continuity of the WAL from the oldest base backup on: a missing segment is a
  gap that no restore can cross, and is reported by name;
- `restore_to_time`: a copy of the cluster as it was at a given time, in a new
  data folder on its own port (never over the running cluster unless asked:
  `in_place=True`). A copy that cannot reach the time (a segment missing from
  the archive) is reported as a failure naming the segment, never started as if
  it had worked.

Messages name files, segments and times, never passwords.
"""

from __future__ import annotations

import configparser
import datetime as dt
import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

WAL_RANGE = re.compile(
    r"archiveId: (?P<archive>\S+), wal start: (?P<start>[0-9A-F]{24}), "
    r"wal stop: (?P<stop>[0-9A-F]{24})"
)
RESTORED_SEGMENT = re.compile(r'restored log file "([0-9A-F]{24})" from archive')
STOPPED_AT = re.compile(r"recovery stopping (?:before|after) (.*)")
TARGET_NOT_REACHED = "recovery ended before configured recovery target was reached"


class PitrError(Exception):
    """Point-in-time recovery cannot do what was asked; the message says why."""


def as_user(user: str, argv: list[str]) -> list[str]:
    """`argv` run as the OS user `user` (the cluster's owner) when that is not us."""
    if not user or user == pwd.getpwuid(os.geteuid()).pw_name:
        return argv
    if os.geteuid() != 0:
        raise PitrError(
            f"PITR_RUN_AS is {user!r} but this process is not root and cannot "
            "act as that user: run as that user, or unset PITR_RUN_AS."
        )
    return ["runuser", "-u", user, "--", *argv]


def _reason(stderr: str, limit: int = 3) -> str:
    lines = [
        re.sub(r"^\S+ \S+ P\d+ +(ERROR|WARN|ASSERT): ", "", line).strip()
        for line in stderr.splitlines()
        if line.strip()
    ]
    return "; ".join(lines[-limit:]) or "no message"


@dataclass
class ArchiveReport:
    """What `Repository.verify` found."""

    stanza: str
    problems: list[str] = field(default_factory=list)
    backups: int = 0
    newest: str = ""
    newest_age: dt.timedelta | None = None
    wal_ranges: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def line(self) -> str:
        if not self.ok:
            return f"FAILED  WAL archive {self.stanza}: " + "; ".join(self.problems)
        first, last = self.wal_ranges[0][1], self.wal_ranges[-1][2]
        hours = self.newest_age.total_seconds() / 3600 if self.newest_age else 0
        return (
            f"OK      WAL archive {self.stanza}: {self.backups} base backup(s), "
            f"newest {self.newest} ({hours:.1f} h old), WAL {first}..{last} "
            "without a gap, archiving works"
        )


@dataclass
class RestoredCopy:
    """A cluster restored to a point in time, running (unless it failed)."""

    data_dir: Path
    port: int
    log: Path
    target: dt.datetime
    backup: str
    seconds: float
    bindir: Path
    stopped_at: str = ""
    run_as: str = ""

    def stop(self) -> None:
        """Stop the copy (pg_ctl stop -m fast); its folder stays."""
        subprocess.run(
            as_user(
                self.run_as,
                [
                    str(self.bindir / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-m",
                    "fast",
                    "-w",
                    "stop",
                ],
            ),
            capture_output=True,
            timeout=600,
            check=False,
        )


@dataclass(frozen=True)
class Repository:
    """A pgBackRest stanza: the archive and base backups of one cluster."""

    stanza: str
    config: str = ""
    run_as: str = ""
    binary: str = "pgbackrest"

    @classmethod
    def from_settings(cls) -> Repository:
        from django.conf import settings

        config = settings.PITR_PGBACKREST_CONFIG
        return cls(
            stanza=settings.PITR_STANZA,
            config=config if config and os.path.isfile(config) else "",
            run_as=settings.PITR_RUN_AS,
        )

    # -- running pgBackRest ---------------------------------------------------

    def argv(self, *args: str) -> list[str]:
        binary = shutil.which(self.binary)
        if not binary:
            raise PitrError(
                "pgbackrest not found on PATH: install it (Debian: apt-get install "
                "pgbackrest; scripts/services.sh does this for the local cluster)."
            )
        argv = [binary]
        if self.config:
            argv.append(f"--config={self.config}")
        return as_user(self.run_as, [*argv, f"--stanza={self.stanza}", *args])

    def run(self, *args: str, timeout: float = 7200) -> str:
        try:
            done = subprocess.run(
                self.argv(*args),
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as err:
            raise PitrError(
                f"pgbackrest {args[0]} did not finish within {timeout:g} s"
            ) from err
        if done.returncode != 0:
            raise PitrError(
                f"pgbackrest {args[0]} failed (exit {done.returncode}): "
                f"{_reason(done.stderr or done.stdout)}"
            )
        return done.stdout

    def option(self, name: str) -> str | None:
        """An option of the stanza (or [global]) in the config file."""
        if not self.config:
            return os.environ.get("PGBACKREST_" + name.upper().replace("-", "_"))
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(self.config)
        for section in (self.stanza, "global"):
            if parser.has_option(section, name):
                return parser.get(section, name)
        return None

    def info(self) -> dict:
        stanzas = json.loads(self.run("info", "--output=json", timeout=300))
        if not stanzas:
            raise PitrError(f"stanza {self.stanza} not found in the repository")
        return stanzas[0]

    def backups(self) -> list[dict]:
        """The stanza's base backups, oldest first."""
        return self.info().get("backup", [])

    def backup(self, kind: str = "full") -> dict:
        """Take a base backup (full, diff or incr); returns it from `info`."""
        if kind not in {"full", "diff", "incr"}:
            raise PitrError(f"unknown backup type {kind!r}: full, diff or incr")
        before = {b["label"] for b in self.backups()}
        self.run("backup", f"--type={kind}")
        new = [b for b in self.backups() if b["label"] not in before]
        if not new:
            raise PitrError("pgbackrest backup finished but no new backup is listed")
        return new[-1]

    def backup_kind_due(self, *, full_every_days: int, now: float | None = None) -> str:
        """'full' when there is none younger than `full_every_days`, else 'diff'."""
        fulls = [b for b in self.backups() if b["type"] == "full"]
        now = time.time() if now is None else now
        if not fulls or now - fulls[-1]["timestamp"]["stop"] >= full_every_days * 86400:
            return "full"
        return "diff"

    def check(self) -> None:
        """pgBackRest's own check: the server archives a fresh segment right now."""
        self.run("check", timeout=600)

    def verify(self, *, live: bool = True) -> ArchiveReport:
        """Backups present, archiving working (`live`), files intact, no WAL gap."""
        report = ArchiveReport(stanza=self.stanza)
        try:
            info = self.info()
        except PitrError as err:
            report.problems.append(str(err))
            return report
        status = info.get("status", {})
        backups = info.get("backup", [])
        report.backups = len(backups)
        if status.get("code") not in (0, None) and backups:
            report.problems.append(f"stanza status: {status.get('message')}")
        if not backups:
            report.problems.append(
                "no base backup: the archive alone cannot restore anything "
                "(the nightly task takes one; or `pgbackrest backup`)"
            )
        else:
            newest = backups[-1]
            report.newest = newest["label"]
            report.newest_age = dt.timedelta(
                seconds=max(0, time.time() - newest["timestamp"]["stop"])
            )
        if live:
            try:
                self.check()
            except PitrError as err:
                report.problems.append(f"archiving does not work now: {err}")
        try:
            output = self.run(
                "verify", "--log-level-console=detail", "--output=text", timeout=7200
            )
        except PitrError as err:
            report.problems.append(f"repository files do not verify: {err}")
            return report
        report.wal_ranges = [
            (m["archive"], m["start"], m["stop"]) for m in WAL_RANGE.finditer(output)
        ]
        if backups and not report.wal_ranges:
            report.problems.append("no WAL in the archive")
        report.problems.extend(wal_gaps(report.wal_ranges, backups))
        return report

    def wal_segments_after(self, segment: str) -> list[str]:
        """Archived segment names after `segment` on its timeline (for messages)."""
        archive_id = self.info()["archive"][-1]["id"]
        listing = self.run(
            "repo-ls",
            f"archive/{self.stanza}/{archive_id}/{segment[:16]}",
            "--output=json",
            timeout=300,
        )
        names = sorted(
            name[:24]
            for name in json.loads(listing)
            if re.fullmatch(r"[0-9A-F]{24}-[0-9a-f]{40}(\.\w+)?", name)
        )
        return [n for n in names if n > segment]


def wal_gaps(ranges: list[tuple[str, str, str]], backups: list[dict]) -> list[str]:
    """A gap between two WAL ranges of one timeline that a backup needs crossing.

    pgBackRest's `verify` lists the archive as continuous ranges; two ranges on
    the same timeline mean the segments between them are missing. A gap before
    the oldest base backup harms nobody (nothing can restore from there).
    """
    oldest_start = min(
        (b["archive"]["start"] for b in backups if b.get("archive")), default=""
    )
    problems = []
    for (archive_a, _start_a, stop_a), (archive_b, start_b, _stop_b) in zip(
        ranges, ranges[1:], strict=False
    ):
        if archive_a != archive_b or stop_a[:8] != start_b[:8]:
            continue  # another archive or timeline: not a gap
        if start_b <= oldest_start:
            continue
        problems.append(
            f"WAL missing from the archive after {stop_a} up to {start_b} "
            f"(timeline {int(stop_a[:8], 16)}): no restore can pass that point"
        )
    return problems


# -- restoring ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pg_bindir(version: str | None = None) -> Path:
    """The server binaries (pg_ctl) of `version`, or the newest installed."""
    from django.conf import settings

    configured = getattr(settings, "PITR_PG_BINDIR", "")
    if configured:
        return Path(configured)
    candidates = []
    if version:
        candidates.append(Path(f"/usr/lib/postgresql/{version}/bin"))
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).parent)
    for path in candidates:
        if (path / "pg_ctl").is_file():
            return path
    raise PitrError("pg_ctl not found: install the PostgreSQL server package")


def pg_ctl(
    repo: Repository, bindir: Path, *args: str, timeout: float = 600
) -> subprocess.CompletedProcess:
    return subprocess.run(
        as_user(repo.run_as, [str(bindir / "pg_ctl"), *args]),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _prepare_folder(path: Path, owner: str) -> None:
    if path.exists() and any(path.iterdir()):
        raise PitrError(
            f"{path} is not empty: choose a new folder (a restore never writes "
            "into an existing one)"
        )
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    if owner and os.geteuid() == 0:
        entry = pwd.getpwnam(owner)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _log_tail(log: Path, lines: int = 8) -> str:
    try:
        text = log.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def restore_to_time(
    repo: Repository,
    target: dt.datetime,
    *,
    data_dir: Path | None = None,
    port: int | None = None,
    in_place: bool = False,
    timeout: float = 3600,
) -> RestoredCopy:
    """Restore the stanza's cluster as it was at `target` and start it.

    By default into a new folder on a free port of 127.0.0.1 (the copy does not
    archive, so it never mixes its WAL into the repository). With `in_place`,
    the running cluster (pg1-path) is stopped and rewound: its data since
    `target` is lost, which is why it takes an explicit flag.
    """
    if target.tzinfo is None:
        raise PitrError(
            "the target time needs a time zone (e.g. 2026-11-29 22:59+01:00)"
        )
    if target > dt.datetime.now(dt.UTC):
        raise PitrError(f"{target.isoformat()} is in the future")
    backups = repo.backups()
    if not backups:
        raise PitrError("no base backup in the repository: nothing to restore from")
    oldest_stop = dt.datetime.fromtimestamp(backups[0]["timestamp"]["stop"], tz=dt.UTC)
    if target < oldest_stop:
        raise PitrError(
            f"the oldest base backup ({backups[0]['label']}) ends at "
            f"{oldest_stop.isoformat()}: no earlier time can be restored"
        )
    usable = [
        b
        for b in backups
        if dt.datetime.fromtimestamp(b["timestamp"]["stop"], tz=dt.UTC) <= target
    ]
    chosen = usable[-1]["label"]
    source = repo.option("pg1-path")
    if in_place:
        if repo.option("pg1-host"):
            raise PitrError(
                "the cluster is on another host (pg1-host): restore in place there"
            )
        if not source:
            raise PitrError("no pg1-path in the pgBackRest configuration")
        data_dir = Path(source)
    else:
        from django.conf import settings

        data_dir = data_dir or settings.PITR_RESTORE_ROOT / (
            f"{repo.stanza}-{target.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}"
        )
        if source and data_dir.resolve() == Path(source).resolve():
            raise PitrError(
                f"{data_dir} is the running cluster's data folder: restoring over it "
                "needs the explicit in-place option"
            )
        _prepare_folder(data_dir, repo.run_as)
    log = data_dir.parent / f"{data_dir.name}.log"
    started = time.monotonic()
    bindir = pg_bindir()
    options = [
        f"--pg1-path={data_dir}",
        "--type=time",
        f"--target={target.isoformat(sep=' ')}",
        "--target-action=promote",
        f"--set={chosen}",
    ]
    if in_place:
        stop = pg_ctl(repo, bindir, "-D", str(data_dir), "-m", "fast", "-w", "stop")
        if stop.returncode not in (0, 1) and "not running" not in stop.stderr:
            raise PitrError(f"could not stop the cluster: {_reason(stop.stderr)}")
        repo.run("restore", *options, "--delta", timeout=timeout)
    else:
        repo.run("restore", *options, "--archive-mode=off", timeout=timeout)
        port = port or free_port()
        with open(data_dir / "postgresql.auto.conf", "a") as conf:
            # A copy beside the running cluster: its own port, TCP on loopback
            # only, no socket in the original's folder, modest memory.
            conf.write(
                "\n# restore_to_time: a copy, not the running cluster\n"
                f"port = {port}\n"
                "listen_addresses = '127.0.0.1'\n"
                "unix_socket_directories = ''\n"
                "shared_buffers = '128MB'\n"
                f"cluster_name = 'pitr copy {target.isoformat()}'\n"
            )
    version = (data_dir / "PG_VERSION").read_text().strip()
    bindir = pg_bindir(version)
    if in_place and not port:
        port = int(_setting_from_conf(data_dir, "port") or 5432)
    log.touch()
    if repo.run_as and os.geteuid() == 0:
        entry = pwd.getpwnam(repo.run_as)
        os.chown(log, entry.pw_uid, entry.pw_gid)
    start = pg_ctl(
        repo,
        bindir,
        "-D",
        str(data_dir),
        "-l",
        str(log),
        "-w",
        "-t",
        str(int(timeout)),
        "start",
    )
    # pg_ctl returns once the server accepts (read-only) connections, which can
    # be before the target is reached: wait until pg_control says "in
    # production" (promoted, writable: what `pg_ctl promote -w` waits for too)
    # or the server is gone.
    deadline = time.monotonic() + timeout
    promoted = False
    while start.returncode == 0 and time.monotonic() < deadline:
        if cluster_state(repo, bindir, data_dir) == "in production":
            promoted = True
            break
        if not (data_dir / "postmaster.pid").exists():
            break
        time.sleep(0.2)
    text = log.read_text(errors="replace") if log.exists() else ""
    if not promoted:
        pg_ctl(repo, bindir, "-D", str(data_dir), "-m", "immediate", "-w", "stop")
        raise PitrError(_failure_message(repo, target, text, log))
    stopped = STOPPED_AT.findall(text)
    if port is None:  # chosen above for a copy, read from the conf in place
        raise PitrError(f"no port for the restored cluster in {data_dir}")
    return RestoredCopy(
        data_dir=data_dir,
        port=port,
        log=log,
        target=target,
        backup=chosen,
        seconds=time.monotonic() - started,
        stopped_at=stopped[-1] if stopped else "",
        bindir=bindir,
        run_as=repo.run_as,
    )


def cluster_state(repo: Repository, bindir: Path, data_dir: Path) -> str:
    """pg_control's "Database cluster state" (e.g. "in archive recovery")."""
    done = subprocess.run(
        as_user(repo.run_as, [str(bindir / "pg_controldata"), str(data_dir)]),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "LC_ALL": "C"},
        check=False,
    )
    match = re.search(r"^Database cluster state:\s*(.+)$", done.stdout, re.M)
    return match.group(1).strip() if match else ""


def _setting_from_conf(data_dir: Path, name: str) -> str | None:
    value = None
    for conf in ("postgresql.conf", "postgresql.auto.conf"):
        path = data_dir / conf
        if not path.exists():
            continue
        for line in path.read_text(errors="replace").splitlines():
            match = re.match(rf"\s*{name}\s*=\s*'?([^'#\s]+)", line)
            if match:
                value = match.group(1)
    return value


def _failure_message(
    repo: Repository, target: dt.datetime, text: str, log: Path
) -> str:
    restored = RESTORED_SEGMENT.findall(text)
    if TARGET_NOT_REACHED in text:
        last = restored[-1] if restored else "the base backup's end"
        missing = ""
        if restored:
            try:
                later = repo.wal_segments_after(restored[-1])
            except PitrError:
                later = []
            if later:
                missing = (
                    f" The segment after {last} is missing from the archive (the "
                    f"archive goes on at {later[0]}): WAL between them is lost, "
                    "so no restore can pass that point."
                )
            else:
                missing = (
                    f" The archive ends at {last}: nothing committed after "
                    f"{target.isoformat()} has been archived yet (the current "
                    "segment is archived when it fills, at archive_timeout, or with "
                    "`pgbackrest check` on the running cluster)."
                )
        return (
            f"The copy cannot reach {target.isoformat()}: recovery ran out of WAL "
            f"after {last}.{missing} Nothing was started; the server log is {log}."
        )
    return f"The restored copy did not start (server log {log}):\n{_log_tail(log)}"
