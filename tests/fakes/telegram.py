"""A loopback fake of the Telegram Bot API (sendMessage, sendPhoto, sendVideo)."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeTelegram:
    """Records calls; `mode` decides the answer: ok, 429, 500, 401, 400, slow."""

    def __init__(self):
        self.calls: list[dict] = []
        self.mode = "ok"
        self.retry_after = 7
        self.slow_seconds = 2.0
        self._next_id = 100
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                """Keep test output clean: no access log."""

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                _, bot, method = self.path.split("/", 2)
                fake.calls.append(
                    {
                        "token": bot.removeprefix("bot"),
                        "method": method,
                        "body": body,
                        "content_type": self.headers.get("Content-Type", ""),
                    }
                )
                status, payload = fake.answer(method)
                if fake.mode == "slow":
                    time.sleep(fake.slow_seconds)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, method: str):
        if self.mode == "429":
            return 429, {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {self.retry_after}",
                "parameters": {"retry_after": self.retry_after},
            }
        if self.mode == "500":
            return 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}
        if self.mode == "401":
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        if self.mode == "400":
            return 400, {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: chat not found",
            }
        self._next_id += 1
        return 200, {
            "ok": True,
            "result": {
                "message_id": self._next_id,
                "chat": {"id": -1001, "username": "luna_channel", "type": "channel"},
            },
        }

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
