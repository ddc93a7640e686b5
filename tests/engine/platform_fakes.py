"""Each HTTP adapter wired to its loopback fake, for the engine-level tests
(several workers at once, a real Celery worker): how to point the settings
at the fake, what account and content a post needs, and what the fake
received."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from tests import factories as f
from tests.engine import platform_helpers as h
from tests.fakes import graph, telegram, x, youtube


@dataclass
class Wired:
    platform: str
    fake: Any
    settings: dict
    auth: dict
    account_id: str
    content_kind: str | None  # None: text posts
    post_type: str

    def delivered(self) -> list[str]:
        """The texts the platform holds, one per published post."""
        fake = self.fake
        if self.platform == "telegram":
            return [
                unquote_plus(c["body"].decode("latin-1"))
                for c in fake.calls
                if c["method"] in ("sendMessage", "sendPhoto")
            ]
        if self.platform == "twitter":
            return [t["text"] for t in fake.tweets.values()]
        if self.platform == "facebook":
            return [o["caption"] for o in fake.published("fb_post")]
        if self.platform == "instagram":
            return [o["caption"] for o in fake.published("ig_media")]
        return [v["snippet"]["title"] for v in fake.videos.values()]


PLATFORMS = ("telegram", "twitter", "facebook", "instagram", "youtube")


@contextlib.contextmanager
def wired(platform: str, *, media_root):
    """The fake of `platform`, running, and the settings that reach it."""
    if platform == "telegram":
        fake = telegram.FakeTelegram()
        with fake:
            yield Wired(
                platform,
                fake,
                {"TELEGRAM_API_BASE": fake.url},
                {"bot_token": "1:bot-token", "chat_id": "-1001"},
                "-1001",
                None,
                "post",
            )
    elif platform == "twitter":
        fake = x.FakeX()
        with fake:
            yield Wired(
                platform,
                fake,
                {"X_API_BASE": fake.url},
                {"access_token": x.TOKEN},
                x.USER_ID,
                None,
                "tweet",
            )
    elif platform in ("facebook", "instagram"):
        fake = graph.FakeGraph()
        fake.container_states = ["FINISHED"]
        fake.quota_total = 100_000  # past Instagram's 100 a day: a load test
        with fake:
            yield Wired(
                platform,
                fake,
                {
                    "GRAPH_API_BASE": fake.url,
                    "INSTAGRAM_API_BASE": fake.url,
                    "MEDIA_PUBLIC_BASE_URL": h.PUBLIC_BASE,
                    "MEDIA_ROOT": str(media_root),
                    "INSTAGRAM_POLL_INTERVAL": 0.01,
                },
                {"access_token": graph.TOKEN},
                "17841400000000009" if platform == "instagram" else "page-9",
                "image" if platform == "instagram" else None,
                "post",
            )
    else:
        fake = youtube.FakeYouTube()
        with fake:
            yield Wired(
                platform,
                fake,
                {"YOUTUBE_API_ROOT": fake.url + "/", "MEDIA_ROOT": str(media_root)},
                {"access_token": youtube.TOKEN},
                youtube.CHANNEL,
                "video",
                "video",
            )


ADAPTERS = {
    "telegram": "platforms.adapters.telegram.TelegramAdapter",
    "twitter": "platforms.adapters.x.XAdapter",
    "facebook": "platforms.adapters.facebook.FacebookAdapter",
    "instagram": "platforms.adapters.instagram.InstagramAdapter",
    "youtube": "platforms.adapters.youtube.YouTubeAdapter",
}


def account_and_content(w: Wired, media_root):
    """An account on the fake and (for media platforms) approved content."""
    account = f.PlatformAccountFactory(
        platform=w.platform, account_id=w.account_id, auth_data=w.auth
    )
    content = None
    if w.content_kind:
        content = h.media(
            account.character,
            media_root,
            f"m.{'png' if w.content_kind == 'image' else 'mp4'}",
            kind=w.content_kind,
        )
    return account, content
