"""Meta's Graph API (Instagram and Facebook Pages): calls and error mapping.

Errors are mapped from the documented error object
({"error": {"message", "type", "code", "error_subcode", "is_transient"}}):
190/102 (token expired or invalid) refresh once, then park the account;
4/17/32/613 and 80001-80014 (throttling) and 9/2207042 (Instagram's 24-hour
publishing cap) wait; 10 and 200-299 (permission missing) park the account;
transient codes and 5xx retry; the rest fail with Meta's message.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from django.conf import settings

from platforms.adapters import (
    AdapterError,
    CredentialsRejected,
    PermanentError,
    RateLimited,
)
from platforms.adapters.http import HttpAdapter, Response
from platforms.media_links import MediaLinkError, MediaLinkUnavailable, signed_url

logger = logging.getLogger(__name__)

THROTTLE_CODES = {4, 17, 32, 613, *range(80001, 80015)}
TOKEN_CODES = {190, 102}
DEFAULT_WAIT = 900  # Meta says when in a usage header; else a quarter hour
PUBLISH_CAP_WAIT = 3600  # the 24-hour publishing window rolls: look again in an hour


def _regain_seconds(response: Response) -> int:
    """Minutes to wait from X-Business-Use-Case-Usage / X-App-Usage, in seconds."""
    for header in ("X-Business-Use-Case-Usage", "X-Page-Usage", "X-App-Usage"):
        raw = response.headers.get(header)
        if not raw:
            continue
        try:
            usage = json.loads(raw)
        except ValueError:
            continue
        entries = [
            entry
            for value in (usage.values() if isinstance(usage, dict) else [])
            for entry in (value if isinstance(value, list) else [value])
            if isinstance(entry, dict)
        ]
        minutes = max(
            (int(e.get("estimated_time_to_regain_access") or 0) for e in entries),
            default=0,
        )
        if minutes:
            return minutes * 60
    return DEFAULT_WAIT


class GraphAdapter(HttpAdapter):
    service = "Graph API"

    @property
    def graph_base(self) -> str:
        return settings.GRAPH_API_BASE

    def media_link(self, path: str, *, fmt: str | None = None) -> str:
        """The expiring public link Meta fetches a post's file from."""
        try:
            return signed_url(path, fmt=fmt)
        except MediaLinkError as exc:
            raise PermanentError(exc.message) from None
        except MediaLinkUnavailable as exc:  # nothing went out: retry
            raise AdapterError(exc.message) from None

    def graph(
        self,
        method: str,
        path: str,
        *,
        what: str,
        sends: bool = False,
        params: dict | None = None,
        data: dict | None = None,
    ) -> dict:
        url = f"{self.graph_base.rstrip('/')}/{settings.GRAPH_API_VERSION}/{path.lstrip('/')}"
        while True:
            response = self._send(
                method,
                url,
                what=what,
                sends=sends,
                params=params,
                data=data,
                headers={"Authorization": f"Bearer {self.access_token()}"},
            )
            body = self.json_of(response)
            if response.status_code < 400 and "error" not in body:
                return body
            raw_error = body.get("error")
            error: dict = raw_error if isinstance(raw_error, dict) else {}
            code = error.get("code")
            if code in TOKEN_CODES and self.refresh_credentials():
                continue  # refused before it was done: the same request again
            raise self._error(response, error, what)

    def _error(self, response: Response, error: dict, what: str) -> AdapterError:
        code = error.get("code")
        subcode = error.get("error_subcode")
        message = str(
            error.get("error_user_msg") or error.get("message") or response.reason or ""
        )[:300]
        status = response.status_code
        if code in TOKEN_CODES or status == 401:
            return CredentialsRejected(f"{self.service} refused the token: {message}")
        if code == 9 and subcode == 2207042:
            return RateLimited(
                f"Instagram's 24-hour publishing limit is reached: {message}",
                PUBLISH_CAP_WAIT,
            )
        if code in THROTTLE_CODES or status == 429:
            wait = _regain_seconds(response)
            return RateLimited(
                f"{self.service} rate limit ({what}): {message}; retry in {wait} s",
                wait,
            )
        if code == 368:
            return RateLimited(
                f"{self.service} blocked the action for a while: {message}",
                PUBLISH_CAP_WAIT,
            )
        if code == 10 or (isinstance(code, int) and 200 <= code <= 299):
            return CredentialsRejected(
                f"{self.service} permission missing ({what}): {message}"
            )
        if status >= 500 or error.get("is_transient") or code in (1, 2, -1, -2):
            return AdapterError(f"{self.service} error {status} ({what}): {message}")
        return PermanentError(f"{self.service} refused {what}: {message}")


def graph_time(value: str | None) -> dt.datetime | None:
    """A time the Graph API gave, aware; None when missing or unreadable."""
    if not value:
        return None
    try:
        # Graph API: 2024-05-01T12:00:00+0000
        return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return None
