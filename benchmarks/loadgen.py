"""The load section's machinery: the servers under test (gunicorn with the
project's config, uvicorn with the reference) and the load generator (wrk,
Debian's, driven by a small Lua script), with the workers' memory sampled
while it runs.

Imports nothing from Django: the servers are processes of their own, started
with the environment given here.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]


class LoadError(Exception):
    """A server did not start or the load generator failed; the message says why."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the servers ------------------------------------------------------------------


@dataclass
class Server:
    """One server process tree on loopback (a master and its workers)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    port: int
    log: Path
    probe: str = "/"
    proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = self.log.open("ab")
        self.proc = subprocess.Popen(
            self.argv,
            cwd=ROOT,
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: stopped as one
        )
        out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise LoadError(
                    f"{self.name} exited with {self.proc.returncode} at start; "
                    f"see {self.log}:\n{self.tail()}"
                )
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}{self.probe}", timeout=2
                ):
                    return
            except urllib.error.HTTPError:
                return  # it answers (a 401/404 is an answer)
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise LoadError(
            f"{self.name} did not answer in {timeout:.0f} s:\n{self.tail()}"
        )

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def workers(self) -> list[int]:
        """Pids of the worker processes: the master's children (not
        multiprocessing's resource tracker), or the server itself when it runs
        alone (uvicorn with one worker)."""
        if self.proc is None:
            return []
        pids = [pid for pid in children(self.proc.pid) if not _helper(pid)]
        return pids or [self.proc.pid]

    def cpu_ticks(self) -> int:
        """CPU time (clock ticks) the worker processes have used so far."""
        return sum(cpu_ticks(pid) for pid in self.workers())

    def wait_idle(self, quiet: float = 0.2, timeout: float = 30) -> float:
        """Wait until the workers used no CPU for `quiet` seconds; the seconds
        waited. When wrk stops, the requests it had in flight still run to
        their end: 32 admin pages are seconds of work, and a run started
        meanwhile measured them as its own first requests' wait (the tails
        of the 1-client rows) or shared the cores with them."""
        started = time.monotonic()
        before = self.cpu_ticks()
        while time.monotonic() - started < timeout:
            time.sleep(quiet)
            now = self.cpu_ticks()
            if now == before:
                break
            before = now
        return time.monotonic() - started

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def children(pid: int) -> list[int]:
    pids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            pids += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return pids


def _helper(pid: int) -> bool:
    try:
        return b"resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # gone


def cpu_ticks(pid: int) -> int:
    """utime + stime of `pid` in clock ticks (/proc/<pid>/stat); 0 if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    # the fields after the command, which is in parentheses and may hold spaces
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def memory_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of `pid` in KiB: resident now and its peak; 0s if gone."""
    now = peak = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                now = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1])
    except OSError:
        pass  # the process is gone: what was read (or 0) stands
    return now, peak


@dataclass
class MemorySampler:
    """Samples every worker of `server` while a run goes on: per pid, the peak
    resident size (VmHWM) and the last one seen."""

    server: Server
    interval: float = 0.25
    peak: dict[int, int] = field(default_factory=dict)
    last: dict[int, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> None:
        for pid in self.server.workers():
            now, hwm = memory_kib(pid)
            if now:
                self.last[pid] = now
                self.peak[pid] = max(self.peak.get(pid, 0), hwm, now)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> MemorySampler:
        self.sample()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self.sample()


# --- the database's own background work -------------------------------------------------

ACTIVITY_SQL = """
SELECT backend_type, coalesce(wait_event, ''), coalesce(query, '')
FROM pg_stat_activity
WHERE backend_type IN ('checkpointer', 'autovacuum worker')
"""
# the WAL position, not pg_stat_wal: a backend reports its WAL statistics
# up to seconds late
COUNTERS_SQL = """
SELECT (SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter),
       pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')
"""


@dataclass
class DatabaseActivity:
    """What PostgreSQL did on its own while one run went on: samples (every
    `interval`) of the checkpointer writing a checkpoint and of autovacuum
    workers, and the checkpoints completed and WAL written in between.

    A tail of slow writes is read against it: a spread checkpoint's writes or
    an autovacuum of the table under load compete for the same disk and
    cores as the requests (the earlier runs' PATCH tails had no explanation).
    Its own connection (psycopg, autocommit), one small query a sample.
    """

    dsn: str
    interval: float = 0.5
    samples: int = 0
    checkpointing: int = 0
    autovacuum: dict[str, int] = field(default_factory=dict)
    checkpoints: int = 0
    wal_bytes: int = 0
    # the kernel's dirty and under-writeback page cache, the largest seen (KiB):
    # a commit's fsync waits behind it
    dirty_kib: int = 0
    error: str = ""
    _stop: threading.Event = field(default_factory=threading.Event)
    _ready: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _start: tuple[int, int] = (0, 0)

    def _counters(self, cur: Any) -> tuple[int, int]:
        cur.execute(COUNTERS_SQL)
        done, wal = cur.fetchone()
        return int(done), int(wal)

    def _loop(self) -> None:
        try:
            self._sample()
        except psycopg.Error as exc:  # the run goes on; its row says so
            self.error = str(exc).strip()[:200]
        finally:
            self._ready.set()

    def _sample(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn, conn.cursor() as cur:
            self._start = self._counters(cur)
            self._ready.set()
            while True:
                cur.execute(ACTIVITY_SQL)
                self.samples += 1
                seen: set[str] = set()
                for kind, wait, query in cur.fetchall():
                    if kind == "checkpointer" and wait != "CheckpointerMain":
                        self.checkpointing += 1
                    elif kind == "autovacuum worker" and query:
                        seen.add(query.removeprefix("autovacuum: ").strip())
                for what in seen:
                    self.autovacuum[what] = self.autovacuum.get(what, 0) + 1
                self.dirty_kib = max(self.dirty_kib, dirty_kib())
                if self._stop.wait(self.interval):
                    break
            done, wal = self._counters(cur)
            self.checkpoints = done - self._start[0]
            self.wal_bytes = wal - self._start[1]

    def __enter__(self) -> DatabaseActivity:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        # the run starts once the counters' starting point is read
        self._ready.wait(timeout=10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)

    def summary(self) -> dict[str, Any]:
        return {
            "samples": self.samples,
            "checkpointing": self.checkpointing,
            "checkpoints": self.checkpoints,
            "autovacuum": dict(sorted(self.autovacuum.items())),
            "wal_mb": round(self.wal_bytes / 2**20, 1),
            "dirty_mb": round(self.dirty_kib / 1024),
        } | ({"error": self.error} if self.error else {})


def dirty_kib() -> int:
    """The kernel's page cache waiting for the disk: Dirty + Writeback (KiB)."""
    try:
        lines = Path("/proc/meminfo").read_text().splitlines()
    except OSError:
        return 0  # no /proc (not Linux): nothing to report
    return sum(
        int(line.split()[1])
        for line in lines
        if line.startswith(("Dirty:", "Writeback:"))
    )


# below this, the kernel's dirty pages are the ordinary trickle of any run
DIRTY_MB_WORTH_SAYING = 64


def describe_activity(activity: dict[str, Any]) -> str:
    """One line for the report: what ran beside a run (in PostgreSQL, in the
    kernel, a web worker replaced), or "" when nothing did."""
    samples = activity.get("samples") or 0
    parts: list[str] = []
    if activity.get("error"):
        parts.append(f"not sampled ({activity['error']})")
    if activity.get("workers_started"):
        parts.append(
            f"{activity['workers_started']} web worker(s) started (one replaced "
            "at max_requests or the memory bound)"
        )
    if activity.get("checkpointing"):
        parts.append(
            f"a checkpoint writing in {activity['checkpointing']} of {samples} samples"
        )
    if activity.get("checkpoints"):
        parts.append(f"{activity['checkpoints']} checkpoint(s) completed")
    for what, n in (activity.get("autovacuum") or {}).items():
        parts.append(f"autovacuum `{what}` in {n} of {samples} samples")
    if activity.get("dirty_mb", 0) >= DIRTY_MB_WORTH_SAYING:
        parts.append(
            f"up to {activity['dirty_mb']} MB of the page cache waiting for the disk"
        )
    if activity.get("wal_mb", 0) >= 1:
        parts.append(f"{activity['wal_mb']:g} MB of WAL written")
    return "; ".join(parts)


# --- the load generator ---------------------------------------------------------------

# One wrk thread holds every connection: the generator takes as little of the
# two cores as possible. Requests go round a list of paths (and bodies); the
# summary comes back as one JSON line. `limit` > 0 stops after that many
# responses (a run that must not repeat a path, such as a cold cache).
WRK_SCRIPT = r"""
local requests_ = {}
local i = 0
local seen = 0
local limit = __LIMIT__
local method = "__METHOD__"
__HEADERS__
__REQUESTS__

request = function()
  i = i + 1
  local r = requests_[((i - 1) % #requests_) + 1]
  return wrk.format(method, r[1], nil, r[2])
end

if limit > 0 then
  response = function(status, headers, body)
    seen = seen + 1
    if seen >= limit then wrk.thread:stop() end
  end
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '@@{"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d,"p50":%d,"p95":%d,"p99":%d,"max":%d,' ..
    '"mean":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read,
    e.write, e.status, e.timeout, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean))
end
"""


def _lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid Lua string literal here


@dataclass
class Run:
    """What wrk measured for one endpoint at one level of concurrency."""

    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    error_detail: dict[str, int]
    clients: int = 1
    mean_ms: float = 0.0
    # stopped at its `limit` before the duration ran out: wrk still reports
    # the whole duration, so requests / seconds would count the idle rest
    stopped_early: bool = False

    @property
    def rps(self) -> float:
        if self.stopped_early and self.mean_ms:
            # every connection busy until the stop: Little's law
            return self.clients / (self.mean_ms / 1000)
        return self.requests / self.seconds if self.seconds else 0.0


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def run_wrk(
    base_url: str,
    requests: list[tuple[str, str | None]],
    *,
    clients: int,
    seconds: float,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    limit: int = 0,
    script_dir: Path,
    timeout_s: int = 10,
) -> Run:
    """`clients` connections on one wrk thread for `seconds` (or `limit`
    responses), going round `requests` ([(path, body or None)])."""
    if not wrk_available():
        raise LoadError("wrk is not installed (make bench installs it: apt wrk).")
    header_lines = "\n".join(
        f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}"
        for k, v in (headers or {}).items()
    )
    request_lines = "\n".join(
        f"requests_[{n}] = {{{_lua_string(path)}, "
        f"{'nil' if body is None else _lua_string(body)}}}"
        for n, (path, body) in enumerate(requests, start=1)
    )
    script = (
        WRK_SCRIPT.replace("__LIMIT__", str(int(limit)))
        .replace("__METHOD__", method)
        .replace("__HEADERS__", header_lines)
        .replace("__REQUESTS__", request_lines)
    )
    script_dir.mkdir(parents=True, exist_ok=True)
    path = script_dir / "load.lua"
    path.write_text(script)
    argv = [
        "wrk",
        "-t1",
        f"-c{clients}",
        f"-d{max(1, round(seconds))}s",
        f"--timeout={timeout_s}s",
        "-s",
        str(path),
        base_url,
    ]
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=seconds + timeout_s + 30
    )
    line = next(
        (ln[2:] for ln in proc.stdout.splitlines() if ln.startswith("@@")), None
    )
    if proc.returncode != 0 or line is None:
        raise LoadError(
            f"wrk failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout}"
        )
    data = json.loads(line)
    detail = {
        k: data[k] for k in ("connect", "read", "write", "status", "timeout") if data[k]
    }
    return Run(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=sum(detail.values()),
        p50_ms=data["p50"] / 1000,
        p95_ms=data["p95"] / 1000,
        p99_ms=data["p99"] / 1000,
        max_ms=data["max"] / 1000,
        error_detail=detail,
        clients=clients,
        mean_ms=data["mean"] / 1000,
        stopped_early=bool(limit) and data["requests"] >= limit,
    )


def python() -> str:
    return sys.executable


def env_without(
    prefixes: tuple[str, ...], base: dict[str, str] | None = None
) -> dict[str, Any]:
    base = dict(os.environ if base is None else base)
    return {k: v for k, v in base.items() if not k.startswith(prefixes)}
