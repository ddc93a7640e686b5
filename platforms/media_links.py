"""Signed, expiring public links to a scheduled post's media.

Instagram and Facebook fetch media by URL. `signed_url(path)` makes a link
under settings.MEDIA_PUBLIC_BASE_URL whose token names one file under
MEDIA_ROOT and expires after MEDIA_LINK_MAX_AGE seconds; `serve` (mounted at
/media-links/) answers only such tokens: no listing, no path outside
MEDIA_ROOT (the real path, symlinks resolved, must be inside it), range
requests for video. `fmt="jpeg"` serves a JPEG copy of another image format
(Instagram publishes JPEG only).
"""

from __future__ import annotations

import io
import mimetypes
import os
import re
from pathlib import Path

from django.conf import settings
from django.core import signing
from django.http import FileResponse, Http404, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_safe

SALT = "platforms.media_links"
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class MediaLinkError(ValueError):
    """The media cannot be offered through a link; `message` says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _root() -> Path:
    return Path(settings.MEDIA_ROOT).resolve()


def resolve_media(path: str | os.PathLike) -> Path:
    """The real path of a media file, proven to be inside MEDIA_ROOT.

    `path` is relative to MEDIA_ROOT or absolute. The one containment check of
    the publishing side (adapters reading files and the link view both call
    it); raises MediaLinkError.
    """
    value = os.fspath(path)
    if not value or "\x00" in value:
        raise MediaLinkError("The media path is empty or invalid.")
    root = _root()
    real = Path(os.path.realpath(root / value))
    if real == root or not real.is_relative_to(root):
        raise MediaLinkError("The media path leads outside MEDIA_ROOT.")
    return real


def signed_url(path: str | os.PathLike, *, fmt: str | None = None) -> str:
    """A public link to this media file that expires (MEDIA_LINK_MAX_AGE)."""
    base = settings.MEDIA_PUBLIC_BASE_URL.rstrip("/")
    if not base:
        raise MediaLinkError(
            "MEDIA_PUBLIC_BASE_URL is not set: this platform fetches media by "
            "URL, so the site must serve it at a public address."
        )
    real = resolve_media(path)
    relative = real.relative_to(_root()).as_posix()
    token = signing.dumps({"p": relative, "f": fmt}, salt=SALT, compress=True)
    name = real.stem + (".jpg" if fmt == "jpeg" else real.suffix)
    return base + reverse("media-link", kwargs={"token": token, "name": name})


@require_safe
def serve(request, token: str, name: str):
    """Serve the file a valid, unexpired token names; 404 for anything else."""
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.MEDIA_LINK_MAX_AGE)
        real = resolve_media(data["p"])
    except (signing.BadSignature, MediaLinkError, KeyError, TypeError):
        # expired, forged or unsafe: the same answer, nothing to learn from it
        raise Http404("No such media.") from None
    if not real.is_file():
        raise Http404("No such media.")
    content_type = mimetypes.guess_type(real.name)[0] or "application/octet-stream"
    if data.get("f") == "jpeg" and content_type != "image/jpeg":
        body = _jpeg_copy(real)
        return _ranged(request, io.BytesIO(body), len(body), "image/jpeg")
    return _ranged(request, real.open("rb"), real.stat().st_size, content_type)


def _jpeg_copy(path: Path) -> bytes:
    from PIL import Image

    with Image.open(path) as image:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def _ranged(request, handle, size: int, content_type: str):
    """A 200 with the whole file, or a 206 for one `Range: bytes=a-b` (416 when
    it cannot be satisfied). Several ranges get the whole file (RFC 9110 allows it).
    """
    header = request.headers.get("Range", "")
    match = RANGE.match(header.strip()) if header else None
    if match is None or (not match[1] and not match[2]):
        response = FileResponse(handle, content_type=content_type)
        response["Content-Length"] = str(size)
        response["Accept-Ranges"] = "bytes"
        return response
    if match[1]:
        start = int(match[1])
        end = min(int(match[2]), size - 1) if match[2] else size - 1
    else:  # suffix range: the last N bytes
        start, end = max(0, size - int(match[2])), size - 1
    if start >= size or start > end:
        handle.close()
        refused = HttpResponse(status=416)
        refused["Content-Range"] = f"bytes */{size}"
        return refused
    handle.seek(start)
    body = handle.read(end - start + 1)
    handle.close()
    partial = HttpResponse(body, status=206, content_type=content_type)
    partial["Content-Range"] = f"bytes {start}-{end}/{size}"
    partial["Accept-Ranges"] = "bytes"
    return partial
