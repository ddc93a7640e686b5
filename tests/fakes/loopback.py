"""A JSON HTTP server on loopback for fakes of external services."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackJSONServer:
    """Subclasses implement `record(path, headers, body)` (or
    `record_request(method, path, headers, body)` to see the method) and
    `answer(call)` returning (status, payload) or (status, payload, headers);
    a payload of None sends no body, bytes are sent as they are (a file), and
    a status of None drops the connection without an answer (a server going
    down mid-request). `mode == "slow"` delays every answer, or only the calls
    `slow_when(call)` picks."""

    def __init__(self):
        self.calls: list[dict] = []
        self.mode = "ok"
        self.slow_seconds = 2.0
        self.slow_when = None
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                """Keep test output clean: no access log."""

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with fake.lock:
                    call = fake.record_request(
                        self.command, self.path, self.headers, body
                    )
                    fake.calls.append(call)
                    status, payload, *rest = fake.answer(call)
                headers = rest[0] if rest else {}
                if status is None:
                    self.close_connection = True
                    return
                if fake.mode == "slow" and (
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

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def record_request(self, method: str, path: str, headers, body: bytes) -> dict:
        return self.record(path, headers, body)

    def record(self, path: str, headers, body: bytes) -> dict:
        raise NotImplementedError

    def answer(self, call: dict) -> tuple:
        raise NotImplementedError

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
