"""Outgoing webhooks' rules (a leaf: the model, the admin form and the sender
use them): which URLs are allowed, how a body is signed, how a URL is shown.

Signature: `X-AInfluencer-Signature: t=<unix seconds>,v1=<hex>`, where hex is
HMAC-SHA256 with the webhook's secret over `f"{t}.".encode() + body` (the
exact bytes sent). A receiver recomputes it, compares in constant time and
rejects a `t` more than a few minutes old (a replay). README, "Webhooks".
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

SIGNATURE_HEADER = "X-AInfluencer-Signature"
EVENT_HEADER = "X-AInfluencer-Event"
DELIVERY_HEADER = "X-AInfluencer-Delivery"
SCHEMES = ("http", "https")
_url_syntax = URLValidator(schemes=list(SCHEMES))


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of `<timestamp>.<body>`."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={sign(secret, t, body)}"


def public_host(host: str) -> bool:
    """Whether every address the name resolves to is a public one."""
    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False
    return bool(infos) and all(
        ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_global for info in infos
    )


def url_problem(url: str) -> str | None:
    """Why this URL may not receive webhooks (None: it may)."""
    try:
        _url_syntax(url)
    except ValidationError:
        return "Enter a valid http:// or https:// URL."
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        return "Enter a valid http:// or https:// URL (the port is out of range)."
    if parts.username or parts.password:
        return "Put no user name or password in the URL; the signature authenticates."
    if not settings.WEBHOOK_ALLOW_PRIVATE and not public_host(parts.hostname or ""):
        return (
            "The URL points to a private, loopback or unresolvable address; "
            "webhooks go to public addresses only (WEBHOOK_ALLOW_PRIVATE)."
        )
    return None


def validate_webhook_url(value: str) -> None:
    problem = url_problem(value)
    if problem:
        raise ValidationError(problem, code="invalid_webhook_url")


def masked_url(url: str) -> str:
    """The URL without its path and query (Slack's and Discord's carry their
    token there): `https://hooks.slack.com/…`."""
    parts = urlsplit(url or "")
    if not parts.scheme or not parts.hostname:
        return "-"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    rest = "/…" if (parts.path.strip("/") or parts.query) else "/"
    return f"{parts.scheme}://{parts.hostname}{port}{rest}"
