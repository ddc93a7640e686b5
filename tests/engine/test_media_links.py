"""Signed, expiring media links: only signed paths under MEDIA_ROOT, ranges."""

import os

import pytest
from django.core import signing

from platforms import media_links
from tests.engine import platform_helpers as h


@pytest.fixture
def media_root(settings, tmp_path):
    root = tmp_path / "media"
    (root / "content").mkdir(parents=True)
    (root / "content" / "clip.mp4").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "secret.txt").write_text("not for the platforms")
    settings.MEDIA_ROOT = root
    settings.MEDIA_PUBLIC_BASE_URL = h.PUBLIC_BASE + "/"
    return root


def _path(url):
    return url.removeprefix(h.PUBLIC_BASE)


def test_a_signed_link_serves_the_file_and_byte_ranges(client, media_root):
    url = media_links.signed_url("content/clip.mp4")
    assert url.startswith(h.PUBLIC_BASE + "/media-links/") and url.endswith("/clip.mp4")
    whole = client.get(_path(url))
    assert whole.status_code == 200 and whole["Accept-Ranges"] == "bytes"
    assert b"".join(whole.streaming_content) == bytes(range(256)) * 4
    part = client.get(_path(url), headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == bytes(range(10, 20))
    assert part["Content-Range"] == "bytes 10-19/1024"
    tail = client.get(_path(url), headers={"Range": "bytes=-4"})
    assert tail.content == bytes(range(252, 256))
    beyond = client.get(_path(url), headers={"Range": "bytes=5000-"})
    assert beyond.status_code == 416 and beyond["Content-Range"] == "bytes */1024"


def test_forged_expired_and_unsigned_paths_are_404(client, media_root, settings):
    url = media_links.signed_url("content/clip.mp4")
    token = _path(url).split("/")[2]
    forged = signing.dumps(
        {"p": "content/clip.mp4", "f": None}, salt="other", compress=True
    )
    assert client.get(f"/media-links/{forged}/clip.mp4").status_code == 404
    assert client.get(f"/media-links/{token[:-2]}xx/clip.mp4").status_code == 404
    settings.MEDIA_LINK_MAX_AGE = -1  # every link has expired
    assert client.get(_path(url)).status_code == 404
    assert client.get("/media-links/").status_code == 404  # no listing


def test_no_path_outside_media_root_can_be_signed_or_served(client, media_root):
    with pytest.raises(media_links.MediaLinkError):
        media_links.signed_url("../secret.txt")
    with pytest.raises(media_links.MediaLinkError):
        media_links.signed_url(str(media_root.parent / "secret.txt"))
    # a link inside the root that points out of it (symlink) is refused too
    os.symlink(media_root.parent / "secret.txt", media_root / "content" / "link.txt")
    with pytest.raises(media_links.MediaLinkError):
        media_links.signed_url("content/link.txt")
    # and a token someone signed for such a path (stolen key) serves nothing
    token = signing.dumps(
        {"p": "../secret.txt", "f": None}, salt=media_links.SALT, compress=True
    )
    assert client.get(f"/media-links/{token}/secret.txt").status_code == 404


def test_without_a_public_base_url_the_error_says_so(settings, media_root):
    settings.MEDIA_PUBLIC_BASE_URL = ""
    # the server's setting, not the post: a retry, not a failed post
    with pytest.raises(media_links.MediaLinkUnavailable, match="MEDIA_PUBLIC_BASE_URL"):
        media_links.signed_url("content/clip.mp4")
    # a path that can never be served still fails as such
    with pytest.raises(media_links.MediaLinkError):
        media_links.signed_url("../secret.txt")
