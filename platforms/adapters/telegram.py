"""Telegram Bot API adapter: sendMessage / sendPhoto / sendVideo to the account's chat.

auth_data: {"bot_token": "...", "chat_id": "..."} (chat_id falls back to the
account's account_id). The token is part of the URL, so URLs are never logged
and errors never include them.
"""

import datetime as dt
import logging
import re
from typing import Any

from django.conf import settings

from platforms.adapters import (
    Action,
    AdapterError,
    CredentialsRejected,
    PermanentError,
    PlatformAdapter,
    PublishRequest,
    PublishResult,
    RateLimited,
    Support,
    link_parts,
    post_link,
)
from platforms.adapters.http import send
from platforms.adapters.rules import MB, MediaLimits, PlatformRules, PostTypeRule

logger = logging.getLogger(__name__)
# deleteMessage's description for a message the chat does not hold
MESSAGE_GONE = "message to delete not found"
CAPTION_LIMIT = 1024
# Bot API limits: 4096 characters a message, 1024 a caption; bots upload
# photos up to 10 MB and other files up to 50 MB.
PHOTO = MediaLimits(
    max_bytes=10 * MB, min_ratio=1 / 20, max_ratio=20, ratio_label="1:20 and 20:1"
)
VIDEO = MediaLimits(max_bytes=50 * MB)
RULES = PlatformRules(
    label="Telegram",
    default_post_type="post",
    aliases={"message": "post"},
    caption_max=4096,
    caption_max_with_media=CAPTION_LIMIT,
    post_types={
        "post": PostTypeRule(media={"image": PHOTO, "video": VIDEO}, text_only=True)
    },
)
BOTS_CANNOT = "a bot cannot do this through the Bot API"
# Bot API methods that change nothing: a timeout there is a plain retry
READ_METHODS = frozenset({"getMe", "getChat", "getChatMemberCount"})
# a public chat's username in a t.me link (Telegram: 5-32 of a-z, 0-9, _)
CHAT_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,31}")
MESSAGE_LINK = (
    "a Telegram message link is https://t.me/<channel>/<number>, or "
    "https://t.me/c/<number>/<number> for a private chat"
)


class TelegramAdapter(PlatformAdapter):
    platform = "telegram"
    rules = RULES
    support = Support(
        post_types=("post / message (text, photo, video)",),
        delete=True,  # bots delete their own messages (within 48 hours in groups)
        stats=True,  # getChatMemberCount
        post_metrics=False,  # the Bot API gives no per-message views or reactions
        engagement={
            "message": True,
            "reply": True,
            "comment": True,  # a message in the chat
            "like": BOTS_CANNOT,
            "share": BOTS_CANNOT,
            "follow": BOTS_CANNOT,
            "unfollow": BOTS_CANNOT,
        },
    )

    @property
    def call_timeout(self) -> float:
        return settings.TELEGRAM_CONNECT_TIMEOUT + settings.TELEGRAM_READ_TIMEOUT

    def _credentials(self) -> tuple[str, str]:
        data = self.account.auth_data or {}
        token = data.get("bot_token") or data.get("token")
        chat_id = data.get("chat_id") or self.account.account_id
        if not token:
            raise CredentialsRejected(
                "The Telegram account has no bot_token in its credentials."
            )
        if not chat_id:
            raise PermanentError(
                "The Telegram account has no chat_id (credentials or account id)."
            )
        return token, str(chat_id)

    def _call(self, method: str, *, data: dict, files: dict | None = None) -> Any:
        token, _ = self._credentials()
        response = send(
            "POST",
            f"{settings.TELEGRAM_API_BASE.rstrip('/')}/bot{token}/{method}",
            service="Telegram",
            what=method,
            sends=method not in READ_METHODS,
            timeout=(settings.TELEGRAM_CONNECT_TIMEOUT, settings.TELEGRAM_READ_TIMEOUT),
            data=data,
            files=files,
        )
        try:
            body = response.json()
        except ValueError:
            body = {}
        description = str(body.get("description") or response.reason or "")[:200]
        if response.status_code == 429:
            retry_after = (body.get("parameters") or {}).get("retry_after", 30)
            raise RateLimited(
                f"Telegram rate limit: retry after {retry_after} s", retry_after
            )
        if response.status_code in (401, 403):
            raise CredentialsRejected(f"Telegram refused the bot: {description}")
        if response.status_code >= 500:
            raise AdapterError(
                f"Telegram server error {response.status_code}: {description}"
            )
        if response.status_code >= 400 or not body.get("ok"):
            raise PermanentError(f"Telegram refused {method}: {description}")
        return body["result"]

    def publish(self, request: PublishRequest) -> PublishResult:
        _, chat_id = self._credentials()
        text = request.text
        if request.media_type in ("image", "video") and request.media_path:
            method, field = (
                ("sendPhoto", "photo")
                if request.media_type == "image"
                else ("sendVideo", "video")
            )
            with open(request.media_path, "rb") as media:
                result = self._call(
                    method,
                    data={"chat_id": chat_id, "caption": text[:CAPTION_LIMIT]},
                    files={field: media},
                )
        else:
            result = self._call("sendMessage", data={"chat_id": chat_id, "text": text})
        message_id = result["message_id"]
        username = (result.get("chat") or {}).get("username")
        url = f"https://t.me/{username}/{message_id}" if username else None
        return PublishResult(platform_post_id=f"{chat_id}:{message_id}", url=url)

    def post_exists(
        self, request: PublishRequest, *, since: dt.datetime
    ) -> PublishResult | bool | None:
        # A bot cannot list a chat's messages: Telegram cannot tell.
        return None

    def result_from_url(self, url: str) -> PublishResult:
        """A message link (Telegram's "Copy Post Link") of the account's chat:
        t.me/<username>/<n> for a public chat, t.me/c/<id>/<n> for a private
        one. The chat is checked: a private chat's link carries its id; a
        public one's username is asked of Telegram (getChat) unless the
        account's chat_id is the @username itself."""
        link = post_link(url, hosts=("t.me", "telegram.me"), label="Telegram")
        parts = link_parts(link)
        _, chat_id = self._credentials()
        if len(parts) == 3 and parts[0] == "c" and parts[1].isdigit():
            if chat_id != f"-100{parts[1]}":
                raise PermanentError(
                    "This link is to a message of another chat than the account's."
                )
            number, canonical = parts[2], f"https://t.me/c/{parts[1]}/{{}}"
        elif len(parts) == 2 and CHAT_USERNAME.fullmatch(parts[0]):
            if chat_id.startswith("@"):
                username = chat_id[1:]
            else:
                chat = self._call("getChat", data={"chat_id": chat_id}) or {}
                username = chat.get("username") or ""
            if username.lower() != parts[0].lower():
                raise PermanentError(
                    f"This link is to a message of @{parts[0]}, not of the "
                    "account's chat"
                    + (f" (@{username})." if username else " (it has no username).")
                )
            number, canonical = parts[1], f"https://t.me/{username}/{{}}"
        else:
            raise PermanentError(f"Not a link to a Telegram message: {MESSAGE_LINK}.")
        if not number.isdigit() or not 0 < int(number) < 2**31:
            raise PermanentError(f"Not a link to a Telegram message: {MESSAGE_LINK}.")
        message_id = int(number)
        return PublishResult(
            platform_post_id=f"{chat_id}:{message_id}",
            url=canonical.format(message_id),
        )

    def delete(self, platform_post_id: str) -> None:
        chat_id, _, message_id = platform_post_id.partition(":")
        try:
            self._call(
                "deleteMessage", data={"chat_id": chat_id, "message_id": message_id}
            )
        except PermanentError as exc:
            # Already gone (deleted in Telegram by hand): what a take-down
            # wants holds. "message can't be deleted" (too old for a bot, no
            # rights) is still an error.
            if MESSAGE_GONE not in str(exc):
                raise

    def fetch_stats(self) -> dict:
        _, chat_id = self._credentials()
        count = self._call("getChatMemberCount", data={"chat_id": chat_id})
        return {"follower_count": int(count)}

    def perform_engagement(self, action: Action) -> str | None:
        _, chat_id = self._credentials()
        if action.action_type in ("message", "reply", "comment"):
            text = action.message_text or action.comment_text or ""
            data = {"chat_id": chat_id, "text": text}
            if action.action_type == "reply" and action.target_id:
                data["reply_to_message_id"] = action.target_id
            result = self._call("sendMessage", data=data)
            return str(result["message_id"])
        raise PermanentError(
            f"Telegram cannot {action.action_type}: "
            f"{self.support.refusal(action.action_type)}."
        )
