"""wrk's driver: a run that stops at its limit counts its own time, not the
idle rest of the duration (a cold-cache run goes through each path once)."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from benchmarks.loadgen import run_wrk


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
