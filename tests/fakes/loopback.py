"""A JSON HTTP server on loopback for fakes of external services.

A fake runs inside the test's process (`with FakeX() as server:`), or in a
process of its own with injected faults and a journal of every call
(`serve_main`, used by `python -m tests.fakes.telegram` and the chaos suite).
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass(frozen=True)
class Faults:
    """Per-call probabilities of an injected fault, drawn independently per call.

    hang: the call is accepted (and journalled) like any other, but the answer
    comes `hang_seconds` late, past the client's read timeout, as a slow real
    server would do. error500 / error429: the call is refused and not accepted.
    """

    hang: float = 0.0
    error500: float = 0.0
    error429: float = 0.0
    hang_seconds: float = 10.0
    retry_after: int = 2
    seed: int | None = None

    def __post_init__(self):
        rates = (self.hang, self.error500, self.error429)
        if any(r < 0 for r in rates) or sum(rates) > 1:
            raise ValueError("fault rates must be >= 0 and add up to at most 1")


class _Server(ThreadingHTTPServer):
    # bursts of connections from several worker processes at once
    request_queue_size = 128


class LoopbackJSONServer:
    """Subclasses implement `record(path, headers, body)` (or
    `record_request(method, path, headers, body)` to see the method) and
    `answer(call)` returning (status, payload) or (status, payload, headers);
    a payload of None sends no body, bytes are sent as they are (a file), and
    a status of None drops the connection without an answer (a server going
    down mid-request). `mode == "slow"` delays every answer, or only the calls
    `slow_when(call)` picks.

    With `faults`, each call gets `call["fault"]`: None, "hang", "500" or "429",
    which `answer` honours. With `journal`, every call is appended to that file
    as one JSON line (`journal_entry`), flushed before the answer is sent.
    """

    # answer over HTTP/1.1 with kept-alive connections (the platforms' APIs
    # do); HTTP/1.0 closes each connection after its answer
    keep_alive = False

    def __init__(
        self,
        *,
        faults: Faults | None = None,
        journal: str | Path | None = None,
        port: int = 0,
    ):
        self.calls: list[dict] = []
        self.mode = "ok"
        self.slow_seconds = 2.0
        self.slow_when = None
        self.lock = threading.Lock()
        self.faults = faults
        self._rng = random.Random(faults.seed if faults else None)
        self._journal = open(journal, "a", buffering=1) if journal else None  # noqa: SIM115 - closed in __exit__
        fake = self

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.1 keeps a client's connection open between calls, as
            # the real APIs do; the answer's headers go out without waiting
            # for the client's acknowledgement (Nagle)
            protocol_version = "HTTP/1.1" if fake.keep_alive else "HTTP/1.0"
            disable_nagle_algorithm = fake.keep_alive

            def log_message(self, *args):
                """Keep test output clean: no access log."""

            def _handle(self):
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    # not read below: the connection cannot carry another call
                    self.close_connection = True
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with fake.lock:
                    call = fake.record_request(
                        self.command, self.path, self.headers, body
                    )
                    call["fault"] = fake.draw_fault()
                    fake.calls.append(call)
                    status, payload, *rest = fake.answer(call)
                    fake.write_journal(call, status, payload)
                headers = rest[0] if rest else {}
                if status is None:
                    self.close_connection = True
                    return
                if call["fault"] == "hang":
                    time.sleep(fake.faults.hang_seconds)
                elif fake.mode == "slow" and (
                    fake.slow_when is None or fake.slow_when(call)
                ):
                    time.sleep(fake.slow_seconds)
                raw = isinstance(payload, bytes)
                data = (
                    payload
                    if raw
                    else b""
                    if payload is None
                    else json.dumps(payload).encode()
                )
                try:
                    self.send_response(status)
                    if payload is not None:
                        self.send_header(
                            "Content-Type",
                            "application/octet-stream" if raw else "application/json",
                        )
                    for name, value in headers.items():
                        self.send_header(name, str(value))
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    return  # the client gave up waiting: the slow mode's point

            do_POST = do_GET = do_PUT = do_DELETE = _handle

        self.server = _Server(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def record_request(self, method: str, path: str, headers, body: bytes) -> dict:
        return self.record(path, headers, body)

    def record(self, path: str, headers, body: bytes) -> dict:
        raise NotImplementedError

    def answer(self, call: dict) -> tuple:
        raise NotImplementedError

    def journal_entry(self, call: dict, status: int, payload) -> dict:
        """What the journal keeps of a call (subclasses add the message's text)."""
        return {}

    def draw_fault(self) -> str | None:
        """Called under `self.lock`."""
        if self.faults is None:
            return None
        draw = self._rng.random()
        f = self.faults
        if draw < f.hang:
            return "hang"
        if draw < f.hang + f.error500:
            return "500"
        if draw < f.hang + f.error500 + f.error429:
            return "429"
        return None

    def write_journal(self, call: dict, status: int, payload) -> None:
        """Called under `self.lock`."""
        if self._journal is None:
            return
        entry = {
            "t": round(time.time(), 3),
            "status": status,
            "fault": call.get("fault"),
            **self.journal_entry(call, status, payload),
        }
        self._journal.write(json.dumps(entry) + "\n")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        if self._journal is not None:
            self._journal.close()


def serve_main(fake_class: type[LoopbackJSONServer], argv: list[str] | None = None):
    """Run a fake in this process until SIGTERM/SIGINT: `python -m tests.fakes.X`.

    Prints `listening <url>` on the first line of stdout once it accepts calls.
    """
    parser = argparse.ArgumentParser(description=fake_class.__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--journal", type=Path, required=True)
    parser.add_argument("--hang", type=float, default=0.0)
    parser.add_argument("--error500", type=float, default=0.0)
    parser.add_argument("--error429", type=float, default=0.0)
    parser.add_argument("--hang-seconds", type=float, default=10.0)
    parser.add_argument("--retry-after", type=int, default=2)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        faults = Faults(
            hang=args.hang,
            error500=args.error500,
            error429=args.error429,
            hang_seconds=args.hang_seconds,
            retry_after=args.retry_after,
            seed=args.seed,
        )
    except ValueError as exc:
        parser.error(str(exc))
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with fake_class(faults=faults, journal=args.journal, port=args.port) as fake:
        print(f"listening {fake.url}", flush=True)
        while not stop.wait(0.5):
            # the journal may be all that is left of this process: keep calls
            # in memory only up to a point
            if len(fake.calls) > 1000:
                del fake.calls[:500]
    sys.exit(0)
