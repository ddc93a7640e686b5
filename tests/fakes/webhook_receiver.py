"""A webhook receiver on loopback: it checks each call's signature the way
the README tells receivers to (its own HMAC, not the project's code) and
answers as told (`statuses`: one status per call, the last one repeated)."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time

from tests.fakes.loopback import LoopbackJSONServer


def verify(secret: str, header: str, body: bytes, *, tolerance: int = 300) -> bool:
    """The README's receiver snippet: t=<unix>,v1=<hex> over '<t>.<body>'."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False  # a replay (or a clock far off)
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, fields.get("v1", ""))


class WebhookReceiver(LoopbackJSONServer):
    def __init__(self, secret: str, *, statuses=(200,), answer_body=None, **kwargs):
        super().__init__(**kwargs)
        self.secret = secret
        self.statuses = list(statuses)
        self.answer_body = answer_body if answer_body is not None else {"ok": True}

    def record_request(self, method, path, headers, body):
        return {
            "method": method,
            "path": path,
            "headers": dict(headers.items()),
            "body": body,
            "json": json.loads(body) if body else None,
            "signed": verify(
                self.secret, headers.get("X-AInfluencer-Signature", ""), body
            ),
        }

    def answer(self, call):
        n = len(self.calls) - 1
        status = self.statuses[min(n, len(self.statuses) - 1)]
        if 300 <= status < 400:
            return status, None, {"Location": f"{self.url}/elsewhere"}
        return status, self.answer_body


def closed_port_url() -> str:
    """An address where nothing listens (a receiver that is down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"
