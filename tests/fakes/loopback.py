"""A JSON HTTP server on loopback for fakes of external services."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackJSONServer:
    """Subclasses implement `record(path, headers, body)` and `answer(call)`
    returning (status, payload); `mode == "slow"` delays every answer."""

    def __init__(self):
        self.calls: list[dict] = []
        self.mode = "ok"
        self.slow_seconds = 2.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                """Keep test output clean: no access log."""

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                call = fake.record(self.path, self.headers, self.rfile.read(length))
                fake.calls.append(call)
                status, payload = fake.answer(call)
                if fake.mode == "slow":
                    time.sleep(fake.slow_seconds)
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except BrokenPipeError:
                    return  # the client gave up waiting: the slow mode's point

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def record(self, path: str, headers, body: bytes) -> dict:
        raise NotImplementedError

    def answer(self, call: dict) -> tuple[int, dict]:
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
