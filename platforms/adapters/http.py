"""The shared HTTP side of the platform adapters (Graph API, X, Telegram).

One place decides what a transport failure means for exactly-once work:

- nothing reached the platform (refused connection, connect timeout): a plain
  retryable AdapterError;
- a request that changes something (`sends=True`) went out and no answer came
  back (read timeout, connection lost while reading, an answer cut short):
  OutcomeUnknown, the engine reconciles with post_exists;
- a read (`sends=False`) that timed out: retryable, nothing happened.

Tokens travel in the Authorization header (never in a URL that could be
logged) and messages name the call ("POST media_publish"), never the URL.

Requests go out through urllib3 directly (`Transport`), not through the
`requests` session layer: preparing a request there (merging settings,
hooks, cookies, re-parsing the URL) cost about as much CPU as the HTTP
exchange itself, at hundreds of posts a second per worker (issue 14). What
`requests` did that matters is kept: the proxy and CA bundle the environment
names (read once per scheme and host), redirects followed for reads, and no
cookies ever carried from one account's call to another's (none are kept).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from http.client import HTTPException
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

import urllib3
from django.conf import settings
from django.utils.module_loading import import_string
from requests.utils import (
    DEFAULT_CA_BUNDLE_PATH,
    get_environ_proxies,
    prepend_scheme_if_needed,
    select_proxy,
)
from urllib3.exceptions import (
    ConnectTimeoutError,
    LocationValueError,
    MaxRetryError,
    NewConnectionError,
    ProxyError,
    ReadTimeoutError,
    ResponseError,
)
from urllib3.fields import RequestField
from urllib3.filepost import encode_multipart_formdata

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

# Methods that only read: a redirect is followed for them (as `requests`
# did); a call that changes something is never sent again to another place.
READS = frozenset({"GET", "HEAD", "OPTIONS"})
# Connect and read errors are raised as they are, never retried here: the
# queue retries, after reconciling what may have gone out. A read follows up
# to 5 redirects; other errors come wrapped once (MaxRetryError.reason).
_RETRY_READ = urllib3.Retry(
    total=None, connect=False, read=False, other=0, status=0, redirect=5
)
# the headers `requests` sent with every call, under our own User-Agent
DEFAULT_HEADERS = urllib3.util.make_headers(
    keep_alive=True, accept_encoding=True, user_agent="ainfluencer"
) | {"Accept": "*/*"}


class Response:
    """An answer, read in full: what the adapters read of it (the names of
    `requests.Response`)."""

    __slots__ = ("content", "headers", "reason", "status_code")

    def __init__(
        self,
        status_code: int,
        reason: str | None,
        headers: Mapping[str, str],
        content: bytes,
    ) -> None:
        self.status_code = status_code
        self.reason = reason or ""
        self.headers = headers  # case-insensitive (urllib3's HTTPHeaderDict)
        self.content = content

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not JSON."""
        return json.loads(self.content)


def _pairs(data: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Form or query fields as `requests` encoded them: a list is the field
    repeated, None leaves the field out, anything else is its str()."""
    pairs = []
    for name, value in data.items():
        for item in value if isinstance(value, list | tuple) else (value,):
            if item is not None:
                pairs.append(
                    (name, item if isinstance(item, str | bytes) else str(item))
                )
    return pairs


def _multipart(data: Mapping[str, Any] | None, files: Mapping[str, Any]) -> tuple:
    """(body, content type) of a multipart/form-data request: the form fields,
    then each file, given as (filename, content or file[, mime type[,
    headers]]) or as an open file (named after it)."""
    fields: list[Any] = [
        (name, value.encode() if isinstance(value, str) else value)
        for name, value in _pairs(data or {})
    ]
    for name, value in files.items():
        if isinstance(value, tuple):
            filename, content, mime, extra = (*value, None, None)[:4]
        else:
            filename, content, mime, extra = (
                _file_name(value) or name,
                value,
                None,
                None,
            )
        if hasattr(content, "read"):
            content = content.read()
        if content is None:
            continue
        field = RequestField(name=name, data=content, filename=filename, headers=extra)
        field.make_multipart(content_type=mime)
        fields.append(field)
    return encode_multipart_formdata(fields)


def _file_name(file: Any) -> str | None:
    name = getattr(file, "name", None)
    if isinstance(name, str) and name and not (name[0] == "<" and name[-1] == ">"):
        return os.path.basename(name)
    return None


class Transport:
    """One thread's HTTP client: a kept-alive connection per platform host
    (urllib3 pools of one connection), and per scheme and host the proxy and
    CA bundle the environment names, read once (HTTP(S)_PROXY, NO_PROXY,
    REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE, else certifi's bundle: what
    `requests` chose). No cookies are kept: one transport serves every
    account of a worker thread, and an account's call must never carry a
    cookie the platform set for another account (the APIs authenticate by
    token)."""

    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], tuple[str | None, str]] = {}
        self._managers: dict[tuple[str | None, str], urllib3.PoolManager] = {}

    def route(self, url: str) -> tuple[str | None, str]:
        """(proxy URL or None, CA bundle) for the URL's scheme and host."""
        scheme, host = urlsplit(url)[:2]
        found = self._routes.get((scheme, host))
        if found is None:
            proxy = select_proxy(url, get_environ_proxies(url))
            if proxy:  # "host:port" means an HTTP proxy, as requests took it
                proxy = prepend_scheme_if_needed(proxy, "http")
            bundle = (
                os.environ.get("REQUESTS_CA_BUNDLE")
                or os.environ.get("CURL_CA_BUNDLE")
                or DEFAULT_CA_BUNDLE_PATH
            )
            found = self._routes[(scheme, host)] = (proxy, bundle)
        return found

    def _manager(self, proxy: str | None, bundle: str) -> urllib3.PoolManager:
        manager = self._managers.get((proxy, bundle))
        if manager is not None:
            return manager
        tls = {"ca_cert_dir" if os.path.isdir(bundle) else "ca_certs": bundle}
        pools: dict[str, Any] = {"num_pools": 16, "maxsize": 1, **tls}
        if proxy is None:
            manager = urllib3.PoolManager(**pools)
        elif proxy.lower().startswith("socks"):
            try:
                from urllib3.contrib.socks import SOCKSProxyManager
            except ImportError:
                raise LocationValueError(
                    "a SOCKS proxy needs PySocks (urllib3[socks])"
                ) from None
            user, password = _proxy_auth(proxy)
            manager = SOCKSProxyManager(
                proxy, username=user, password=password, **pools
            )
        else:
            user, password = _proxy_auth(proxy)
            headers = (
                urllib3.util.make_headers(proxy_basic_auth=f"{user}:{password}")
                if user
                else None
            )
            manager = urllib3.ProxyManager(proxy, proxy_headers=headers, **pools)
        self._managers[(proxy, bundle)] = manager
        return manager

    def request(
        self,
        method: str,
        url: str,
        *,
        timeout: tuple[float, float],
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        json: Any = None,  # noqa: A002 - the name `requests` gave it
        files: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """Send one request and read its whole answer. urllib3's errors are
        raised as they are (`send` says what each means)."""
        if params and (query := urlencode(_pairs(params))):
            url = f"{url}{'&' if '?' in url else '?'}{query}"
        sent = dict(DEFAULT_HEADERS)
        body: bytes | str | None = None
        if files:
            body, sent["Content-Type"] = _multipart(data, files)
        elif json is not None:
            body = _dumps(json, allow_nan=False).encode()
            sent["Content-Type"] = "application/json"
        elif data:
            body = urlencode(_pairs(data))
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        if headers:
            sent.update(headers)
        reads = method.upper() in READS
        answer = self._manager(*self.route(url)).urlopen(
            method,
            url,
            body=body,
            headers=sent,
            timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]),
            retries=_RETRY_READ if reads else False,
            redirect=reads,
            preload_content=True,
        )
        return Response(answer.status, answer.reason, answer.headers, answer.data)

    def close(self) -> None:
        for manager in self._managers.values():
            manager.clear()
        self._managers.clear()


_dumps = json.dumps


def _proxy_auth(proxy: str) -> tuple[str, str]:
    """The user and password in a proxy URL ('' when none), unquoted."""
    parts = urlsplit(proxy)
    return unquote(parts.username or ""), unquote(parts.password or "")


_local = threading.local()
# A kept-alive connection idle longer than this is not reused: the platform
# may close it at any moment, and a request sent on a connection that the
# server is closing fails in a way that cannot tell whether it arrived
# (OutcomeUnknown). Within a drain, calls follow each other in milliseconds.
KEEP_ALIVE_IDLE_SECONDS = 10.0


def shared_transport() -> Transport:
    """This thread's transport: kept-alive connections to each platform's
    host are reused from one post to the next, whichever account it belongs
    to."""
    now = time.monotonic()
    transport = getattr(_local, "transport", None)
    if transport is not None and now - _local.used > KEEP_ALIVE_IDLE_SECONDS:
        transport.close()
        transport = None
    if transport is None:
        transport = _local.transport = Transport()
    _local.used = now
    return transport


def send(
    method: str,
    url: str,
    *,
    service: str,
    what: str,
    sends: bool,
    timeout: tuple[float, float],
    **kwargs: Any,
) -> Response:
    """One call to a platform, its transport failures mapped for
    exactly-once work (this module's docstring); `what` names the call in
    messages, never the URL (a token may be in it)."""
    try:
        return shared_transport().request(method, url, timeout=timeout, **kwargs)
    except MaxRetryError as exc:
        raise failure(
            exc.reason or exc, f"{service} {what}", sends, timeout[1]
        ) from None
    except (urllib3.exceptions.HTTPError, OSError, HTTPException) as exc:
        raise failure(exc, f"{service} {what}", sends, timeout[1]) from None


def failure(
    exc: BaseException, where: str, sends: bool, read_timeout: float
) -> AdapterError:
    """What a transport error means: nothing was sent (retry), or, for a
    call that changes something, maybe it was (OutcomeUnknown)."""
    if isinstance(exc, ProxyError) and isinstance(
        exc.original_error, ConnectTimeoutError
    ):
        exc = exc.original_error  # the proxy itself could not be reached
    # a refused connection or an unknown host (NewConnectionError is a
    # ConnectTimeoutError too): nothing left this machine
    if isinstance(exc, NewConnectionError):
        return AdapterError(f"{where}: cannot connect")
    if isinstance(exc, ConnectTimeoutError):
        return AdapterError(f"{where}: connection timed out")
    if isinstance(exc, LocationValueError | ResponseError):
        # a URL that cannot be used, too many redirects: before sending, or a read
        return AdapterError(f"{where}: {type(exc).__name__}")
    if isinstance(exc, ReadTimeoutError):
        message = f"{where}: no answer in {read_timeout:g} s"
        return OutcomeUnknown(message) if sends else AdapterError(message)
    # the connection broke after the request began (reset, closed, an answer
    # cut short, TLS failing mid-way): the platform may have it
    if sends:
        return OutcomeUnknown(f"{where}: connection lost before the answer")
    return AdapterError(f"{where}: connection lost ({type(exc).__name__})")


class HttpAdapter(PlatformAdapter):
    """Base of the adapters that talk JSON over HTTP (`send`)."""

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
    ) -> Response:
        return send(
            method,
            url,
            service=self.service,
            what=what,
            sends=sends,
            timeout=(self.connect_timeout, self.read_timeout),
            **kwargs,
        )

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
    def json_of(response: Response) -> dict:
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
