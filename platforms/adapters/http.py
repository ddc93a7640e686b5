"""The shared HTTP side of the platform adapters (Graph API, X, Telegram).

One place decides what a transport failure means for exactly-once work:

- nothing reached the platform (refused connection, connect timeout): a plain
  retryable AdapterError;
- a request that changes something (`sends=True`) went out and no answer came
  back (read timeout, connection lost while reading): OutcomeUnknown, the
  engine reconciles with post_exists;
- a read (`sends=False`) that timed out: retryable, nothing happened.

Tokens travel in the Authorization header (never in a URL that could be
logged) and messages name the call ("POST media_publish"), never the URL.
"""

from __future__ import annotations

import datetime as dt
import http.cookiejar
import logging
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.utils.module_loading import import_string

from platforms.adapters import (
    Account,
    AdapterError,
    CredentialsRejected,
    OutcomeUnknown,
    PermanentError,
    PlatformAdapter,
)
from platforms.media_links import MediaLinkError, resolve_media

logger = logging.getLogger(__name__)


class PlatformSession(requests.Session):
    """A `requests` session for platform calls.

    - What the environment says for a URL (proxies, NO_PROXY, the CA bundle)
      is read once per scheme and host, not on every request: requests scans
      the whole environment twice per call, about a millisecond of CPU.
    - No cookies are kept: one session serves every account of a worker
      (`shared_session`), and an account's call must never carry a cookie
      the platform set for another account. The APIs authenticate by token.
    """

    def __init__(self) -> None:
        super().__init__()
        self.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        self._environment: dict = {}

    def merge_environment_settings(  # type: ignore[override]
        self, url: str, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict:
        scheme, host = urlsplit(url)[:2]
        key = (
            scheme,
            host,
            tuple(sorted((proxies or {}).items())),
            stream,
            verify,
            cert,
        )
        found = self._environment.get(key)
        if found is None:
            found = super().merge_environment_settings(
                url, proxies, stream, verify, cert
            )
            self._environment[key] = found
        return {**found, "proxies": dict(found["proxies"])}


_local = threading.local()
# A kept-alive connection idle longer than this is not reused: the platform
# may close it at any moment, and a request sent on a connection that the
# server is closing fails in a way that cannot tell whether it arrived
# (OutcomeUnknown). Within a drain, calls follow each other in milliseconds.
KEEP_ALIVE_IDLE_SECONDS = 10.0


def shared_session() -> PlatformSession:
    """This thread's session: kept-alive connections to each platform's host
    are reused from one post to the next, whichever account it belongs to."""
    now = time.monotonic()
    session = getattr(_local, "session", None)
    if session is not None and now - _local.used > KEEP_ALIVE_IDLE_SECONDS:
        session.close()
        session = None
    if session is None:
        session = _local.session = PlatformSession()
    _local.used = now
    return session


class HttpAdapter(PlatformAdapter):
    """Base of the adapters that talk JSON over HTTP with `requests`."""

    service = "Platform"  # the name in messages

    def __init__(self, account: Account):
        super().__init__(account)
        self._refreshed = False

    @property
    def connect_timeout(self) -> float:
        return settings.PLATFORM_CONNECT_TIMEOUT

    @property
    def read_timeout(self) -> float:
        return settings.PLATFORM_READ_TIMEOUT

    @property
    def request_timeout(self) -> float:
        return self.connect_timeout + self.read_timeout

    @property
    def auth(self) -> dict:
        return self.account.auth_data or {}

    def access_token(self) -> str:
        token = self.auth.get("access_token") or self.auth.get("token")
        if not token:
            raise CredentialsRejected(
                f"The {self.service} account has no access_token in its credentials."
            )
        return token

    def _send(
        self, method: str, url: str, *, what: str, sends: bool, **kwargs: Any
    ) -> requests.Response:
        kwargs.setdefault("timeout", (self.connect_timeout, self.read_timeout))
        try:
            return shared_session().request(method, url, **kwargs)
        except requests.ConnectTimeout:
            raise AdapterError(f"{self.service} {what}: connection timed out") from None
        except requests.ReadTimeout:
            if sends:
                raise OutcomeUnknown(
                    f"{self.service} {what}: no answer in {self.read_timeout:g} s"
                ) from None
            raise AdapterError(
                f"{self.service} {what}: no answer in {self.read_timeout:g} s"
            ) from None
        except requests.ConnectionError as exc:
            # refused before anything was sent: safe to retry; otherwise the
            # request may have arrived (connection reset while reading)
            text = repr(exc)
            if not sends or "NewConnectionError" in text or "refused" in text:
                raise AdapterError(f"{self.service} {what}: cannot connect") from None
            raise OutcomeUnknown(
                f"{self.service} {what}: connection lost before the answer"
            ) from None
        except requests.RequestException as exc:
            raise AdapterError(f"{self.service} {what}: {type(exc).__name__}") from None

    def refresh_credentials(self) -> bool:
        """Once per adapter: ask the configured refresher (the OAuth service) for
        a new access token after the platform said it expired. The refresher
        stores it; the adapter re-reads account.auth_data."""
        if self._refreshed or not settings.PLATFORM_TOKEN_REFRESHER:
            return False
        self._refreshed = True
        try:
            return bool(import_string(settings.PLATFORM_TOKEN_REFRESHER)(self.account))
        except Exception as exc:  # a failed refresh is a rejected credential
            logger.warning(
                "refreshing the %s token of account %s failed: %s",
                self.service,
                self.account.pk,
                type(exc).__name__,
            )
            return False

    @staticmethod
    def json_of(response: requests.Response) -> dict:
        try:
            body = response.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {"data": body}

    def media_file(self, path: str) -> Path:
        """The real path of a post's file, inside MEDIA_ROOT, that exists."""
        try:
            real = resolve_media(path)
        except MediaLinkError as exc:
            raise PermanentError(exc.message) from None
        if not real.is_file():
            raise PermanentError(f"The media file {real.name} does not exist.")
        return real


def seconds_until(moment: dt.datetime) -> int:
    from django.utils import timezone

    return max(1, int((moment - timezone.now()).total_seconds()) + 1)
