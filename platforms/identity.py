"""Who an account's credentials belong to: one identity call per platform.

Used when an account is connected (to fill its platform id, username and URL)
and by "Test connection". Each call reads the decrypted `auth_data`; a token
travels in a header (X, YouTube) or in the query string (Meta's Graph API and
the Telegram Bot API put it in the URL), so neither a URL nor a library's
exception text ever reaches a message: errors say what the platform answered,
scrubbed and cut short.

auth_data layout (written by platforms/oauth.py and the Telegram form):
- every OAuth platform: access_token, token_type, expires_at (epoch seconds,
  absent when the token does not expire), refresh_token (X, YouTube), scopes;
- facebook: page_id, page_access_token (the Page token, which publishes);
- instagram: ig_user_id, page_id, page_access_token;
- twitter: user_id; youtube: channel_id;
- telegram: bot_token, chat_id.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import requests
from django.conf import settings

from logs.scrub import scrub_text
from platforms.models import Platform

LABELS = dict(Platform.choices)
# Meta's Graph API error codes that mean "this token is not (or no longer) good,
# or lacks a permission": the account needs connecting again.
META_TOKEN_ERRORS = {10, 102, 190, 200, 463, 467}


class IdentityError(Exception):
    """The platform could not say who the credentials belong to.

    `credentials_rejected`: the platform refused the token itself (revoked,
    expired); otherwise it may work later (timeout, 5xx, rate limit).
    """

    def __init__(self, message: str, *, credentials_rejected: bool = False):
        super().__init__(message)
        self.message = message
        self.credentials_rejected = credentials_rejected


@dataclass(frozen=True)
class Identity:
    """An account as its platform sees it."""

    account_id: str
    username: str
    url: str
    name: str = ""
    details: dict = field(default_factory=dict)


def _message(body: dict, response) -> str:
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):  # Meta and Google
        text = error.get("message") or error.get("status") or ""
    elif isinstance(body, dict):  # X (problem+json), Telegram
        text = (
            body.get("detail")
            or body.get("title")
            or body.get("description")
            or body.get("error_description")
            or (error if isinstance(error, str) else "")
        )
    else:
        text = ""
    return scrub_text(str(text or response.reason or "no detail"))[:200]


def call(
    platform: str,
    url: str,
    *,
    token: str | None = None,
    params: dict | None = None,
) -> dict:
    """GET `url` and return its JSON object, or raise IdentityError.

    `token` goes in an Authorization header; Meta's and Telegram's callers put
    theirs in `params`/the URL, which is why no URL is ever quoted.
    """
    label = LABELS.get(platform, platform)
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        response = requests.get(
            url, params=params, headers=headers, timeout=settings.OAUTH_TIMEOUT
        )
    except requests.Timeout:
        raise IdentityError(f"{label} did not answer in time.") from None
    except requests.ConnectionError:
        raise IdentityError(f"{label} cannot be reached.") from None
    except requests.RequestException as exc:
        raise IdentityError(f"{label}: {type(exc).__name__}.") from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    if response.status_code >= 400 or (
        isinstance(body.get("error"), dict) or body.get("ok") is False
    ):
        detail = _message(body, response)
        found = body.get("error")
        error: dict = found if isinstance(found, dict) else {}
        rejected = response.status_code in (401, 403) or (
            error.get("code") in META_TOKEN_ERRORS
            or error.get("error_subcode") in META_TOKEN_ERRORS
        )
        if response.status_code == 429:
            raise IdentityError(f"{label} rate limit: try again later ({detail}).")
        if response.status_code >= 500:
            raise IdentityError(
                f"{label} server error {response.status_code}: {detail}."
            )
        if rejected:
            raise IdentityError(
                f"{label} refused the credentials: {detail}.",
                credentials_rejected=True,
            )
        raise IdentityError(f"{label} answered {response.status_code}: {detail}.")
    return body


def _graph(path: str, base: str | None = None) -> str:
    base = (base or settings.GRAPH_API_BASE).rstrip("/")
    return f"{base}/{settings.GRAPH_API_VERSION}/{path.lstrip('/')}"


PAGE_FIELDS = "id,name,access_token,instagram_business_account{id,username}"


def meta_pages(user_token: str, platform: str) -> list[dict]:
    """The Facebook Pages the user manages, with their Page tokens and linked
    Instagram business accounts (GET /me/accounts)."""
    body = call(
        platform,
        _graph("me/accounts"),
        params={"fields": PAGE_FIELDS, "access_token": user_token, "limit": 100},
    )
    return [page for page in body.get("data") or [] if page.get("id")]


def meta_granted_permissions(user_token: str, platform: str) -> list[str]:
    """GET /me/permissions: what the person granted (Meta's dialog lets them
    untick single permissions, and the token response does not say)."""
    body = call(platform, _graph("me/permissions"), params={"access_token": user_token})
    return sorted(
        p["permission"]
        for p in body.get("data") or []
        if p.get("status") == "granted" and p.get("permission")
    )


def _required(auth_data: dict, key: str, platform: str) -> str:
    value = (auth_data or {}).get(key)
    if not value:
        raise IdentityError(
            f"The {LABELS.get(platform, platform)} account has no {key} in its "
            "credentials: connect it.",
            credentials_rejected=True,
        )
    return str(value)


def instagram(auth_data: dict) -> Identity:
    token = _required(auth_data, "access_token", "instagram")
    ig_user_id = _required(auth_data, "ig_user_id", "instagram")
    body = call(
        "instagram",
        _graph(ig_user_id, settings.INSTAGRAM_API_BASE),
        params={"fields": "id,username,name", "access_token": token},
    )
    username = body.get("username") or ""
    return Identity(
        account_id=str(body.get("id") or ig_user_id),
        username=username,
        url=f"https://www.instagram.com/{username}/" if username else "",
        name=body.get("name") or "",
        details={"page_id": auth_data.get("page_id")},
    )


def facebook(auth_data: dict) -> Identity:
    token = _required(auth_data, "page_access_token", "facebook")
    page_id = _required(auth_data, "page_id", "facebook")
    body = call(
        "facebook",
        _graph(page_id),
        params={"fields": "id,name,link", "access_token": token},
    )
    page = str(body.get("id") or page_id)
    return Identity(
        account_id=page,
        username=body.get("name") or "",
        url=body.get("link") or f"https://www.facebook.com/{page}",
        name=body.get("name") or "",
    )


def twitter(auth_data: dict) -> Identity:
    token = _required(auth_data, "access_token", "twitter")
    body = call(
        "twitter",
        f"{settings.X_API_BASE.rstrip('/')}/2/users/me",
        token=token,
    )
    user = body.get("data") or {}
    username = user.get("username") or ""
    if not user.get("id"):
        raise IdentityError("X answered without a user id.")
    return Identity(
        account_id=str(user["id"]),
        username=username,
        url=f"https://x.com/{username}" if username else "",
        name=user.get("name") or "",
    )


def youtube(auth_data: dict) -> Identity:
    token = _required(auth_data, "access_token", "youtube")
    body = call(
        "youtube",
        f"{settings.YOUTUBE_API_ROOT.rstrip('/')}/youtube/v3/channels",
        token=token,
        params={"part": "snippet", "mine": "true"},
    )
    items = body.get("items") or []
    if not items:
        raise IdentityError(
            "YouTube: this Google account has no YouTube channel; create one, "
            "then connect again."
        )
    channel = items[0]
    snippet = channel.get("snippet") or {}
    handle = snippet.get("customUrl") or ""
    return Identity(
        account_id=str(channel["id"]),
        username=handle or snippet.get("title") or "",
        url=(
            f"https://www.youtube.com/{handle}"
            if handle
            else f"https://www.youtube.com/channel/{channel['id']}"
        ),
        name=snippet.get("title") or "",
    )


def _telegram(method: str, token: str, params: dict | None = None) -> dict:
    url = f"{settings.TELEGRAM_API_BASE.rstrip('/')}/bot{token}/{method}"
    return call("telegram", url, params=params).get("result") or {}


def telegram(auth_data: dict) -> Identity:
    """getMe (the bot), then getChat (the channel or group it posts to)."""
    token = _required(auth_data, "bot_token", "telegram")
    bot = _telegram("getMe", token)
    if not bot.get("is_bot"):
        raise IdentityError("Telegram: this token does not belong to a bot.")
    chat_id = str((auth_data or {}).get("chat_id") or "")
    details = {"bot_username": bot.get("username"), "bot_id": bot.get("id")}
    if not chat_id:
        return Identity(
            account_id="",
            username=bot.get("username") or "",
            url=f"https://t.me/{bot['username']}" if bot.get("username") else "",
            name=bot.get("first_name") or "",
            details=details,
        )
    chat = _telegram("getChat", token, {"chat_id": chat_id})
    username = chat.get("username") or ""
    return Identity(
        account_id=str(chat.get("id") or chat_id),
        username=username or chat.get("title") or "",
        url=f"https://t.me/{username}" if username else "",
        name=chat.get("title") or "",
        details={**details, "chat_type": chat.get("type")},
    )


WHOAMI = {
    "instagram": instagram,
    "facebook": facebook,
    "twitter": twitter,
    "youtube": youtube,
    "telegram": telegram,
}


def whoami(platform: str, auth_data: dict | None) -> Identity:
    """The identity call of `platform`; IdentityError when it cannot tell."""
    check = WHOAMI.get(platform)
    if check is None:
        raise IdentityError(
            f"{LABELS.get(platform, platform)} has no API to ask: its posts are "
            "published by hand."
        )
    return check(auth_data or {})
