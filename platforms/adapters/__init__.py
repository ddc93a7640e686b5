"""Platform adapters: one small interface, one class per platform.

`get_adapter(account)` picks the class from settings.PLATFORM_ADAPTERS
(platform -> dotted path; "*" is the fallback). Development defaults every
platform to the dry-run adapter. Credentials come decrypted from
`account.auth_data` and are never logged or put into error messages.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.utils.module_loading import import_string


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


class PlatformAdapter:
    """The interface every platform implements."""

    platform = "*"
    # The longest one call may take (connect + read timeouts, polling included):
    # a drain loop stops taking new items when less than this is left of its
    # time budget, so no call is cut off by the task's time limit.
    call_timeout: float = 30.0

    def __init__(self, account):
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

    def delete(self, platform_post_id: str) -> None:
        raise NotConfigured(self._not_configured("deleting posts"))

    def fetch_stats(self) -> dict:
        raise NotConfigured(self._not_configured("fetching stats"))

    def perform_engagement(self, action) -> str | None:
        raise NotConfigured(self._not_configured("engagement"))

    def engagement_exists(self, action, *, since: dt.datetime) -> str | bool | None:
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


def adapter_path(platform: str) -> str | None:
    """The dotted path of `platform`'s adapter, None when it has none."""
    adapters = settings.PLATFORM_ADAPTERS
    return adapters.get(platform) or adapters.get("*") or None


def get_adapter(account) -> PlatformAdapter:
    path = adapter_path(account.platform)
    cls = import_string(path) if path else UnconfiguredAdapter
    return cls(account)


DRY_RUN_ADAPTER = "platforms.adapters.dryrun.DryRunAdapter"


class Mode:
    """How a platform's posts go out (the marker the admin shows)."""

    LIVE = "live"
    DRY_RUN = "dry_run"
    # no adapter: a person publishes, the back-office records it
    ASSISTED = "assisted"

    LABELS = {LIVE: "Live", DRY_RUN: "Dry run", ASSISTED: "By hand"}


def platform_mode(platform: str) -> str:
    path = adapter_path(platform)
    if path is None:
        return Mode.ASSISTED
    return Mode.DRY_RUN if path == DRY_RUN_ADAPTER else Mode.LIVE


def is_assisted(platform: str) -> bool:
    """No adapter publishes for this platform: a person does (assisted publishing)."""
    return adapter_path(platform) is None


def assisted_platforms() -> list[str]:
    """The platforms published by hand; the publisher and the engagement queue
    never claim their rows."""
    from platforms.models import Platform

    return [p for p in Platform.values if is_assisted(p)]
