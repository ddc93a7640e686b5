"""Signed, expiring public links to a scheduled post's media.

Instagram and Facebook fetch media by URL. `signed_url(path)` makes a link
under settings.MEDIA_PUBLIC_BASE_URL whose token names one file under
MEDIA_ROOT and expires after MEDIA_LINK_MAX_AGE seconds; `serve` (mounted at
/media-links/) answers only such tokens: no listing, no path outside
MEDIA_ROOT (the real path, symlinks resolved, must be inside it), range
requests for video. `fmt="jpeg"` serves a JPEG copy of another image format
(Instagram publishes JPEG only).

With object storage configured (MEDIA_LINK_BUCKET in the environment: the "media_links"
entry of STORAGES, django-storages' S3 backend), the file, once proven inside
MEDIA_ROOT, is copied into the private bucket under a key that names this
version of it, and the link is the bucket's presigned GET with the same
lifetime; the site need not be reachable from the internet then.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import mimetypes
import os
import re
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import signing
from django.http import FileResponse, Http404, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe

from content.media_paths import UnsafeMediaPath, media_root, resolve_media_path

SALT = "platforms.media_links"
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
# the STORAGES entry that holds the media links when object storage is used
OBJECT_STORAGE = "media_links"
# a SigV4 presigned link lives at most 7 days
PRESIGN_MAX_AGE = 7 * 24 * 3600
# a copy in the bucket is linked to for this long after it was put there, then
# put again: the bucket's expiry rule must be longer than this plus
# MEDIA_LINK_MAX_AGE (docs/operations.md)
REUSE_FOR = dt.timedelta(days=1)


class MediaLinkError(ValueError):
    """The media cannot be offered through a link; `message` says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class MediaLinkUnavailable(Exception):
    """No link can be made now, through no fault of the post: no public address
    is configured, or object storage did not take the file or answer. Trying
    later may help (once an operator sets the address, the posts go out).
    `message` names the storage's error code, never a key or a link."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _root() -> Path:
    return media_root()


def resolve_media(path: str | os.PathLike) -> Path:
    """The real path of a media file, proven to be inside MEDIA_ROOT.

    `path` is relative to MEDIA_ROOT or absolute (what the publisher resolved
    for an adapter). The check itself is content.media_paths' (the one used by
    models, admin, API, engine and publisher); raises MediaLinkError.
    """
    value = os.fspath(path)
    if not value or "\x00" in value:
        raise MediaLinkError("The media path is empty or invalid.")
    root = _root()
    if os.path.isabs(value):
        real = Path(os.path.realpath(value))
        if real == root or not real.is_relative_to(root):
            raise MediaLinkError("The media path leads outside MEDIA_ROOT.")
        value = real.relative_to(root).as_posix()
    try:
        return resolve_media_path(value, root=root)
    except UnsafeMediaPath as exc:
        raise MediaLinkError(exc.message) from None


def signed_url(path: str | os.PathLike, *, fmt: str | None = None) -> str:
    """A public link to this media file that expires (MEDIA_LINK_MAX_AGE).

    Raises MediaLinkError (the file cannot be offered: do not retry) or
    MediaLinkUnavailable (no address configured, or the bucket failed: retry)."""
    if OBJECT_STORAGE in settings.STORAGES:
        return _object_url(resolve_media(path), fmt)
    real = resolve_media(path)  # a path that can never be served fails first
    base = settings.MEDIA_PUBLIC_BASE_URL.rstrip("/")
    if not base:
        raise MediaLinkUnavailable(
            "MEDIA_PUBLIC_BASE_URL is not set (nor MEDIA_LINK_BUCKET): this "
            "platform fetches media by URL, so the site must serve it at a "
            "public address; the post waits until it does."
        )
    relative = real.relative_to(_root()).as_posix()
    token = signing.dumps({"p": relative, "f": fmt}, salt=SALT, compress=True)
    name = _link_name(real, fmt)
    return base + reverse("media-link", kwargs={"token": token, "name": name})


def _link_name(real: Path, fmt: str | None) -> str:
    return real.stem + (".jpg" if fmt == "jpeg" else real.suffix)


def storage_error_code(exc: Exception) -> str:
    """The S3 error code of a botocore ClientError ("NoSuchBucket",
    "AccessDenied", "404"...): what a message may name, never a key."""
    return getattr(exc, "response", {}).get("Error", {}).get("Code") or "an error"


def _fresh_in(storage: Any, key: str) -> bool:
    """Whether the bucket holds `key`, put there less than REUSE_FOR ago (an
    older copy is put again, so the bucket's expiry rule never removes an
    object while a link to it may still be fetched)."""
    from botocore.exceptions import ClientError

    try:
        stored = storage.get_modified_time(key)
    except ClientError as exc:
        if storage_error_code(exc) in ("404", "NoSuchKey"):
            return False
        raise
    return timezone.now() - stored < REUSE_FOR


def _object_url(real: Path, fmt: str | None) -> str:
    """Copy `real` (already proven inside MEDIA_ROOT) into the media-link
    bucket unless this version of it is there already; its presigned GET."""
    from botocore.exceptions import BotoCoreError, ClientError
    from django.core.files.base import ContentFile, File
    from django.core.files.storage import storages

    try:
        stat = real.stat()
    except FileNotFoundError:
        raise MediaLinkError(f"The media file {real.name} does not exist.") from None
    relative = real.relative_to(_root()).as_posix()
    # The key names one version of the file, not its path (nothing of the
    # library's layout reaches the bucket): a file replaced in place gets a
    # new key, so a platform never fetches the old picture under a new link.
    version = hashlib.sha256(
        f"{relative}\0{stat.st_size}\0{stat.st_mtime_ns}\0{fmt or ''}".encode()
    ).hexdigest()[:40]
    key = f"{version}/{_link_name(real, fmt)}"
    storage: Any = storages[OBJECT_STORAGE]  # S3Storage: url() takes `expire`
    try:
        if not _fresh_in(storage, key):
            converted = (
                fmt == "jpeg" and mimetypes.guess_type(real.name)[0] != "image/jpeg"
            )
            if converted:
                storage.save(key, ContentFile(_jpeg_copy(real)))
            else:
                with real.open("rb") as handle:
                    storage.save(key, File(handle))
        age = min(settings.MEDIA_LINK_MAX_AGE, PRESIGN_MAX_AGE)
        return storage.url(key, expire=age)
    except ClientError as exc:
        raise MediaLinkUnavailable(
            f"Object storage refused {real.name} ({storage_error_code(exc)}); "
            "the post is tried again."
        ) from None
    except BotoCoreError as exc:
        raise MediaLinkUnavailable(
            f"Object storage did not answer for {real.name} "
            f"({exc.__class__.__name__}); the post is tried again."
        ) from None


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
