"""Shared set-up for the platform adapter tests: media files and due posts."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

from PIL import Image

from tests import factories as f

PUBLIC_BASE = "https://media.example.test"


def png_bytes(width=1080, height=1350) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def media(character, media_root, name, *, kind="image", size=None, data=None, **facts):
    """An approved content row with a real file under MEDIA_ROOT."""
    path = media_root / "content" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if data is None:
        data = png_bytes() if kind == "image" else b"\x00\x00\x00\x18ftypmp42" * 4000
    path.write_bytes(data)
    defaults = {
        "image": {"mime_type": "image/png", "width": 1080, "height": 1350},
        "video": {
            "mime_type": "video/mp4",
            "width": 1080,
            "height": 1920,
            "duration": 20,
        },
    }[kind]
    return f.ContentFactory(
        character=character,
        content_type=kind,
        file_path=f"content/{name}",
        file_size=size or len(data),
        approved=True,
        **(defaults | facts),
    )


def fetch_link(client, url: str, **headers):
    """GET a signed media link through Django (the platform's fetch)."""
    assert url.startswith(PUBLIC_BASE), url
    return client.get(urlsplit(url).path, headers=headers)


def refresher_to(token: str):
    """A token refresher (settings.PLATFORM_TOKEN_REFRESHER) that hands out `token`."""

    def refresh(account) -> bool:
        account.auth_data = {**(account.auth_data or {}), "access_token": token}
        return True

    return refresh


# dotted-path targets for settings.PLATFORM_TOKEN_REFRESHER in tests
REFRESHED: list[str] = []


def refresh_to_valid_graph_token(account) -> bool:
    from tests.fakes.graph import TOKEN

    REFRESHED.append(str(account.pk))
    return refresher_to(TOKEN)(account)


def media_info(content, **changes):
    from platforms.adapters import MediaInfo

    return MediaInfo(**{**MediaInfo.of(content).__dict__, **changes})


def publish(**kwargs) -> int:
    """publish_due_posts with the task's budget (QUEUE_TASK_BUDGET): the HTTP
    adapters' call timeouts (several requests and a processing wait) are
    longer than the function's 50 s default, and a drain starts no call it
    cannot finish."""
    from django.conf import settings

    from platforms.publishing import publish_due_posts

    return publish_due_posts(time_budget=settings.QUEUE_TASK_BUDGET, **kwargs)
