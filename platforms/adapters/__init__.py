"""Platform adapters: one small interface, one class per platform.

`get_adapter(account)` picks the class from settings.PLATFORM_ADAPTERS
(platform -> dotted path; "*" is the fallback). Development defaults every
platform to the dry-run adapter. Credentials come decrypted from
`account.auth_data` and are never logged or put into error messages.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import SplitResult, urlsplit

from django.conf import settings
from django.utils.module_loading import import_string

from platforms.adapters.rules import MediaInfo, PlatformRules, PostDraft

# The rows an adapter works on: a platforms.models.PlatformAccount and an
# EngagementAction. Not imported: the models import the adapters (for the
# platforms' scheduling rules), so the adapters stay below them.
Account = Any
Action = Any


class AdapterError(Exception):
    """A publish/engage call failed. `retryable` says whether trying later may help."""

    retryable = True

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class PermanentError(AdapterError):
    """The platform refused the request itself (bad content, bad chat): do not retry."""

    retryable = False


class NotConfigured(PermanentError):
    """No adapter exists for this platform yet."""


class CredentialsRejected(AdapterError):
    """The platform refused the account's credentials (token revoked, banned)."""

    retryable = False


class RateLimited(AdapterError):
    """The platform asked us to wait `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class OutcomeUnknown(AdapterError):
    """The request went out but no answer came back: it may have been published."""


@dataclass(frozen=True)
class PublishRequest:
    """What to publish.

    `marker` is our id for the post (the scheduled post's id). It is the same
    for every attempt of a post, so adapters whose platform accepts a
    client-supplied idempotency or dedupe key send it (`idempotency_key`), and
    adapters that can list recent posts reconcile by it (`post_exists`).
    """

    marker: str
    caption: str
    hashtags: list[str] = field(default_factory=list)
    post_type: str | None = None
    media_path: str | None = None  # absolute path of the file under MEDIA_ROOT
    media_type: str | None = None  # image, video, text, audio
    attempt: int = 1  # 1 for the first attempt, 2 after one retry, ...
    # the post's facts for the platform's rules (size, duration, ...) and a
    # carousel's further files: (absolute path, MediaInfo) each
    media_info: MediaInfo | None = None
    additional_media: tuple[tuple[str, MediaInfo], ...] = ()

    @property
    def draft(self) -> PostDraft:
        media = []
        if self.media_path and self.media_type in ("image", "video"):
            media.append(self.media_info or MediaInfo(content_type=self.media_type))
        media += [info for _, info in self.additional_media]
        return PostDraft(
            post_type=self.post_type,
            caption=self.caption,
            hashtags=tuple(self.hashtags),
            media=tuple(media),
        )

    @property
    def idempotency_key(self) -> str:
        return self.marker

    @property
    def text(self) -> str:
        tags = " ".join(f"#{t.lstrip('#')}" for t in self.hashtags if t)
        return f"{self.caption}\n\n{tags}".strip() if tags else self.caption


@dataclass(frozen=True)
class PublishResult:
    platform_post_id: str
    url: str | None = None


@dataclass(frozen=True)
class Support:
    """What an adapter does on its platform (the README's support matrix)."""

    post_types: tuple[str, ...] = ()
    delete: bool = False
    stats: bool = False
    post_metrics: bool = False
    # engagement action type -> True, or the reason the platform refuses it
    engagement: dict[str, bool | str] = field(default_factory=dict)

    def refusal(self, action_type: str) -> str | None:
        answer = self.engagement.get(action_type, "not offered by the platform's API")
        return None if answer is True else str(answer)


class PlatformAdapter:
    """The interface every platform implements."""

    platform = "*"
    # what the platform accepts (checked when a post is scheduled) and what
    # the adapter can do there; None / empty where unknown
    rules: PlatformRules | None = None
    support = Support()

    @property
    def call_timeout(self) -> float:
        """The longest one call may take (connect + read timeouts, polling
        included): a drain loop stops taking new items when less than this is
        left of its time budget, so no call is cut off by the task's time limit."""
        return 30.0

    def __init__(self, account: Account):
        self.account = account

    def publish(self, request: PublishRequest) -> PublishResult:
        raise NotConfigured(self._not_configured("publishing"))

    def post_exists(
        self, request: PublishRequest, *, since: dt.datetime
    ) -> PublishResult | bool | None:
        """Whether an attempt started at `since` to publish `request` reached the
        platform: its result, False (it did not), or None (the platform cannot tell).
        """
        return None

    def result_from_url(self, url: str) -> PublishResult:
        """The post a person found at `url` (its link, copied from the
        platform), as this account's post, with the platform id `publish`
        would have recorded: how a post whose outcome is unknown is recorded
        once someone has seen that it went out. Raises PermanentError when the
        link is not a post of this account (or this platform has no way to
        tell), AdapterError when the platform could not be asked."""
        raise PermanentError(
            f"{self.account.platform.capitalize()} posts cannot be recorded from "
            "a link: retry the post, or cancel it."
        )

    def delete(self, platform_post_id: str) -> None:
        raise NotConfigured(self._not_configured("deleting posts"))

    def fetch_stats(self) -> dict:
        """The account's numbers: {follower_count, following_count, post_count}
        (the keys the platform knows)."""
        raise NotConfigured(self._not_configured("fetching stats"))

    # How many post ids one fetch_post_metrics request may carry on this platform.
    metrics_batch_size = 50

    def fetch_post_metrics(self, platform_post_ids: list[str]) -> dict[str, dict]:
        """{platform_post_id: {likes, comments, shares, views}} for the ids the
        platform still knows (a deleted post is left out), at most
        `metrics_batch_size` ids a request."""
        raise NotConfigured(self._not_configured("fetching post metrics"))

    @classmethod
    def validate(cls, draft: PostDraft) -> dict[str, list[str]]:
        """{field: [messages]} for what this platform would refuse; {} when fine."""
        return cls.rules.problems(draft) if cls.rules else {}

    def perform_engagement(self, action: Action) -> str | None:
        raise NotConfigured(self._not_configured("engagement"))

    def engagement_exists(
        self, action: Action, *, since: dt.datetime
    ) -> str | bool | None:
        """Whether an engagement attempt started at `since` was performed: its
        platform id (or True), False, or None when the platform cannot tell."""
        return None

    def _not_configured(self, what: str) -> str:
        return (
            f"{what.capitalize()} on {self.account.platform} is not configured: "
            f"no adapter for this platform yet (settings.PLATFORM_ADAPTERS)."
        )


class UnconfiguredAdapter(PlatformAdapter):
    """Platforms without an adapter: every call raises a clear NotConfigured."""


# Whose rules a platform's posts follow (whatever adapter publishes them: the
# dry run checks the real platform's rules too).
PLATFORM_RULES = {
    "instagram": "platforms.adapters.instagram.InstagramAdapter",
    "facebook": "platforms.adapters.facebook.FacebookAdapter",
    "twitter": "platforms.adapters.x.XAdapter",
    "youtube": "platforms.adapters.youtube.YouTubeAdapter",
    "telegram": "platforms.adapters.telegram.TelegramAdapter",
}


def post_link(url: str, *, hosts: tuple[str, ...], label: str) -> SplitResult:
    """`url` taken apart, when it is an http(s) link on one of `hosts` (a
    "www." or "m." in front allowed); PermanentError naming what was expected
    otherwise. A person pasted it: nothing of it is trusted further."""
    text = (url or "").strip()
    try:
        link = urlsplit(text)
        host = (link.hostname or "").lower()
    except ValueError:
        link, host = None, ""
    host = host.removeprefix("www.").removeprefix("m.")
    if link is None or link.scheme not in ("http", "https") or host not in hosts:
        raise PermanentError(
            f"Not a link to a {label} post: expected https://{hosts[0]}/..."
        )
    return link


def link_parts(link: SplitResult) -> list[str]:
    """The non-empty segments of a link's path."""
    return [part for part in link.path.split("/") if part]


def adapter_class_for(platform: str) -> type[PlatformAdapter] | None:
    """The real adapter class of a platform (not the configured one), or None."""
    path = PLATFORM_RULES.get(platform)
    return import_string(path) if path else None


def post_problems(platform: str, draft: PostDraft) -> dict[str, list[str]]:
    """What `platform` would refuse in this post, before it is scheduled."""
    cls = adapter_class_for(platform)
    return cls.validate(draft) if cls else {}


def adapter_path(platform: str) -> str | None:
    """The dotted path of `platform`'s adapter, None when it has none."""
    adapters = settings.PLATFORM_ADAPTERS
    return adapters.get(platform) or adapters.get("*") or None


def get_adapter(account: Account) -> PlatformAdapter:
    """An adapter for this account: the configured class of its platform."""
    path = adapter_path(account.platform)
    cls = import_string(path) if path else UnconfiguredAdapter
    return cls(account)


DRY_RUN_ADAPTER = "platforms.adapters.dryrun.DryRunAdapter"
