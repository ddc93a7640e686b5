"""wrk's driver: a run that stops at its limit counts its own time, not the
idle rest of the duration (a cold-cache run goes through each path once);
wrk's latencies as it corrects them; what PostgreSQL did beside a run."""

import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.db import connection

from benchmarks.loadgen import DatabaseActivity, Server, describe_activity, run_wrk


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body leave at once

    def do_GET(self):
        body = b"{}"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        """Quiet: wrk's summary is what the test reads."""


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_run_stopped_at_its_limit_is_not_diluted_by_the_idle_rest(server, tmp_path):
    paths = [(f"/item/{n}", None) for n in range(30)]
    run = run_wrk(server, paths, clients=1, seconds=3, limit=25, script_dir=tmp_path)
    assert run.stopped_early and run.requests >= 25 and run.errors == 0
    # wrk reports the whole 3 s; 25 quick answers took a small part of them
    assert run.seconds >= 2.9
    assert run.rps > 3 * (run.requests / run.seconds)
    assert run.rps == pytest.approx(1 / (run.mean_ms / 1000))


def test_a_run_for_its_duration_counts_requests_over_seconds(server, tmp_path):
    run = run_wrk(server, [("/", None)], clients=2, seconds=1, script_dir=tmp_path)
    # how many depends on the machine (24 in a second on a loaded one): the
    # run went its whole duration and its rate is its count over its time
    assert not run.stopped_early and run.requests > 0 and run.errors == 0
    assert run.rps == pytest.approx(run.requests / run.seconds)


class _Stall(_Ok):
    """One request in the whole run stalls: the first to /stall."""

    stalled = threading.Event()

    def do_GET(self):
        if self.path == "/stall" and not self.stalled.is_set():
            self.stalled.set()
            time.sleep(0.6)
        super().do_GET()


def test_one_stall_weighs_in_the_p95_as_wrk_corrects_it(tmp_path):
    """The report's explanation of the 1-client tails: wrk adds, for a
    response slower than twice the mean interval, the samples a steady stream
    of requests would have waited. One stall of 0.6 s among hundreds of quick
    answers lifts the p95 far above what 95% of the answers took."""
    _Stall.stalled.clear()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Stall)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        paths = [("/stall", None)] + [(f"/{n}", None) for n in range(99)]
        run = run_wrk(
            f"http://127.0.0.1:{httpd.server_address[1]}",
            paths,
            clients=1,
            seconds=2,
            script_dir=tmp_path,
        )
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert run.errors == 0 and run.requests > 20
    assert run.max_ms >= 600
    # 1 answer of all was slow, yet wrk's p99 is in the stall
    assert run.p99_ms > 100
    # the mean counts the added samples: more time than the run had
    assert run.requests * run.mean_ms / 1000 > run.seconds


@pytest.mark.django_db(transaction=True)
def test_database_activity_sees_the_wal_written_beside_a_run():
    from benchmarks.sections.load import _database_url

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_activity_probe (v text)")
    try:
        with DatabaseActivity(_database_url(), interval=0.05) as activity:
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO bench_activity_probe "
                    "SELECT repeat('x', 200) FROM generate_series(1, 20000)"
                )
            time.sleep(0.2)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE bench_activity_probe")
    summary = activity.summary()
    assert summary["samples"] >= 2
    assert summary["wal_mb"] >= 4  # 20,000 rows of 200 bytes, logged
    assert "MB of WAL written" in describe_activity(summary)


def test_describe_activity_says_what_ran_beside_a_run():
    assert describe_activity({"samples": 20, "wal_mb": 0.2, "dirty_mb": 10}) == ""
    line = describe_activity(
        {
            "samples": 20,
            "checkpointing": 12,
            "checkpoints": 1,
            "autovacuum": {"VACUUM public.scheduled_posts": 5},
            "wal_mb": 3.5,
            "dirty_mb": 900,
            "workers_started": 1,
        }
    )
    assert line == (
        "1 web worker(s) started (one replaced at max_requests or the memory "
        "bound); a checkpoint writing in 12 of 20 samples; 1 checkpoint(s) completed; "
        "autovacuum `VACUUM public.scheduled_posts` in 5 of 20 samples; "
        "up to 900 MB of the page cache waiting for the disk; "
        "3.5 MB of WAL written"
    )


def test_a_run_starts_once_the_work_left_in_flight_has_ended():
    """wrk stops with requests still running on the server (32 admin pages
    are seconds of work): the next run waits until the workers are idle."""
    busy = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\nend = time.time() + 0.8\n"
            "while time.time() < end: pass\ntime.sleep(60)",
        ]
    )
    server = Server(name="busy", argv=[], env={}, port=0, log=Path(os.devnull))
    server.proc = busy
    try:
        time.sleep(0.1)
        assert 0.5 <= server.wait_idle(quiet=0.2, timeout=10) < 5
        # idle now: one quiet window and it returns
        assert server.wait_idle(quiet=0.2, timeout=10) < 0.5
    finally:
        busy.kill()
        busy.wait()
