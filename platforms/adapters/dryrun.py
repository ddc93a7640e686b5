"""The dry-run adapter: records what it would send and returns a synthetic id.

The record lives in the shared cache (Redis), keyed by the marker, so any
worker can answer `post_exists` for a post another worker sent.
"""

import datetime as dt
import logging

from django.core.cache import cache

from platforms.adapters import Action, PlatformAdapter, PublishRequest, PublishResult

logger = logging.getLogger(__name__)
RECORD_TTL = 7 * 24 * 3600


def _key(marker: str) -> str:
    return f"dryrun:sent:{marker}"


class DryRunAdapter(PlatformAdapter):
    call_timeout = 5.0  # a Redis write

    def publish(self, request: PublishRequest) -> PublishResult:
        result = PublishResult(
            platform_post_id=f"dryrun-{request.marker}",
            url=f"https://dry-run.invalid/{self.account.platform}/{request.marker}",
        )
        cache.set(_key(request.marker), result.platform_post_id, RECORD_TTL)
        logger.info(
            "dry-run publish on %s for %s: %d characters, media %s",
            self.account.platform,
            request.marker,
            len(request.text),
            request.media_type or "none",
        )
        return result

    def post_exists(
        self, request: PublishRequest, *, since: dt.datetime
    ) -> PublishResult | bool | None:
        marker = request.marker
        sent = cache.get(_key(marker))
        if sent is None:
            return False
        return PublishResult(
            platform_post_id=sent,
            url=f"https://dry-run.invalid/{self.account.platform}/{marker}",
        )

    def delete(self, platform_post_id: str) -> None:
        logger.info("dry-run delete of %s", platform_post_id)

    def fetch_stats(self) -> dict:
        return {
            "follower_count": self.account.follower_count,
            "following_count": self.account.following_count,
        }

    def perform_engagement(self, action: Action) -> str | None:
        logger.info("dry-run %s on %s", action.action_type, action.target_id)
        return f"dryrun-{action.pk}"
