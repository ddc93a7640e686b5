"""A loopback fake of the Stable Diffusion web UI API (POST /sdapi/v1/txt2img)."""

import base64
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image


def png(width: int, height: int, colour=(200, 80, 120)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


class FakeWebUI:
    """Records payloads; `mode` decides the answer: ok, 500, 422, garbage, slow."""

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
                payload = json.loads(self.rfile.read(length) or b"{}")
                fake.calls.append({"path": self.path, "payload": payload})
                status, body = fake.answer(self.path, payload)
                if fake.mode == "slow":
                    time.sleep(fake.slow_seconds)
                data = json.dumps(body).encode()
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

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, path: str, payload: dict):
        if path != "/sdapi/v1/txt2img":
            return 404, {"detail": "Not Found"}
        if self.mode == "500":
            return 500, {"error": "OutOfMemoryError", "detail": "CUDA out of memory"}
        if self.mode == "422":
            return 422, {"detail": "sampler_name: unknown sampler"}
        if self.mode == "garbage":
            return 200, {"images": ["not base64 at all!!"], "info": "{}"}
        seed = payload.get("seed", -1)
        seed = 1234 if seed in (-1, None) else seed
        count = payload.get("batch_size", 1)
        images = [
            base64.b64encode(png(payload["width"], payload["height"])).decode()
            for _ in range(count)
        ]
        info = {"seed": seed, "all_seeds": [seed + n for n in range(count)]}
        return 200, {"images": images, "parameters": payload, "info": json.dumps(info)}

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
