"""Files in a character's media library: what a file is, and its thumbnail.

What a file *is* is read from its bytes, never from its name or the browser's
word: Pillow opens images, `ffprobe` (Debian's ffmpeg, installed by `make
setup`) reads videos and audio, and plain text must decode as UTF-8. Only the
types in ALLOWED are taken, up to MEDIA_UPLOAD_MAX_BYTES. Every path is
relative to MEDIA_ROOT and is read or written only after its real path
(symbolic links resolved) is proven to be inside MEDIA_ROOT.

Thumbnails are JPEG files made once (images with Pillow, videos from a frame
by ffmpeg) and kept under thumbs/<character>/; their path is stored on the
content row, so later requests only read the file.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import unicodedata
import uuid
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

THUMBNAIL_SIZE = (320, 320)
FFPROBE_TIMEOUT = 20
FFMPEG_TIMEOUT = 30


@dataclass(frozen=True)
class Kind:
    content_type: str  # image, video, audio, text
    extension: str


# mime type -> (content type, file extension): the allowlist
ALLOWED: dict[str, Kind] = {
    "image/jpeg": Kind("image", "jpg"),
    "image/png": Kind("image", "png"),
    "image/webp": Kind("image", "webp"),
    "image/gif": Kind("image", "gif"),
    "video/mp4": Kind("video", "mp4"),
    "video/quicktime": Kind("video", "mov"),
    "video/webm": Kind("video", "webm"),
    "audio/mpeg": Kind("audio", "mp3"),
    "audio/mp4": Kind("audio", "m4a"),
    "audio/wav": Kind("audio", "wav"),
    "audio/ogg": Kind("audio", "ogg"),
    "text/plain": Kind("text", "txt"),
}
ALLOWED_EXTENSIONS = frozenset(
    {k.extension for k in ALLOWED.values()} | {"jpeg", "m4v", "oga", "opus"}
)
PILLOW_FORMATS = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
}


class MediaRejected(ValueError):
    """The file is not one the library takes; `message` says why."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class MediaFacts:
    """What a file is, read from its bytes."""

    content_type: str
    mime_type: str
    extension: str
    file_size: int
    width: int | None = None
    height: int | None = None
    duration: int | None = None  # whole seconds


def allowed_summary() -> str:
    names = sorted({k.extension.upper() for k in ALLOWED.values()})
    return ", ".join(names)


def max_upload_bytes() -> int:
    return int(settings.MEDIA_UPLOAD_MAX_BYTES)


def media_root() -> Path:
    return Path(settings.MEDIA_ROOT).resolve()


def inside_media_root(relative: str | os.PathLike[str]) -> Path:
    """The real path of a path relative to MEDIA_ROOT, proven to be inside it
    (content.media_paths, the one containment check; raises MediaRejected
    otherwise). The file need not exist."""
    from content.media_paths import UnsafeMediaPath, resolve_media_path

    try:
        return resolve_media_path(os.fspath(relative))
    except UnsafeMediaPath as exc:
        raise MediaRejected(exc.message) from None


def safe_stem(name: str, *, limit: int = 60) -> str:
    """A file name's stem as lowercase ASCII words joined by dashes."""
    stem = Path(name or "").stem
    ascii_only = (
        unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode("ascii")
    )
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_only.lower()).strip("-")
    return slug[:limit].strip("-") or "file"


def extension_of(name: str) -> str:
    return Path(name or "").suffix.lower().lstrip(".")


# --- reading what a file is ----------------------------------------------------


def inspect(path: Path) -> MediaFacts:
    """What the file at `path` is (raises MediaRejected)."""
    size = path.stat().st_size
    if size == 0:
        raise MediaRejected("The file is empty.")
    if size > max_upload_bytes():
        raise MediaRejected(
            f"The file is {_mb(size)}; the library takes files up to "
            f"{_mb(max_upload_bytes())}."
        )
    facts = _as_image(path, size)
    if facts is None:
        facts = _as_audio_or_video(path, size)
    if facts is None:
        facts = _as_text(path, size)
    if facts is None:
        raise MediaRejected(
            "This is not an image, video, audio or text file the library "
            f"takes (allowed: {allowed_summary()})."
        )
    return facts


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _as_image(path: Path, size: int) -> MediaFacts | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            fmt = image.format
            width, height = image.size
            image.verify()  # a truncated or corrupt file fails here
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None
    except Image.DecompressionBombError as exc:
        raise MediaRejected(
            "The image has too many pixels to be opened safely."
        ) from exc
    mime = PILLOW_FORMATS.get(fmt or "")
    if mime is None:
        raise MediaRejected(
            f"{fmt} images are not taken (allowed: {allowed_summary()})."
        )
    return MediaFacts("image", mime, ALLOWED[mime].extension, size, width, height)


def ffprobe(path: Path) -> dict | None:
    """ffprobe's JSON about a file, or None when it is not a media file."""
    binary = shutil.which("ffprobe")
    if binary is None:
        raise MediaRejected(
            "Videos and audio cannot be read on this server: ffprobe (ffmpeg) "
            "is not installed (make setup installs it)."
        )
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv, no shell
            [
                binary,
                "-v",
                "error",
                "-print_format",
                "json",
                "-show_format",
                "-show_streams",
                str(path),
            ],
            capture_output=True,
            timeout=FFPROBE_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise MediaRejected("Reading the file took too long.") from exc
    if done.returncode != 0:
        return None
    try:
        return json.loads(done.stdout or b"{}")
    except ValueError:
        return None


def _container_mime(format_name: str, has_video: bool) -> str | None:
    names = set(format_name.split(","))
    if has_video:
        if "webm" in names or "matroska" in names:
            return "video/webm"
        if "mp4" in names or "m4a" in names:
            return "video/mp4"
        if "mov" in names:
            return "video/quicktime"
        return None
    if "mp3" in names:
        return "audio/mpeg"
    if "wav" in names:
        return "audio/wav"
    if "ogg" in names:
        return "audio/ogg"
    if "mp4" in names or "m4a" in names or "mov" in names:
        return "audio/mp4"
    return None


def _as_audio_or_video(path: Path, size: int) -> MediaFacts | None:
    info = ffprobe(path)
    if not info or not info.get("streams"):
        return None
    streams = info["streams"]
    video = [
        s
        for s in streams
        if s.get("codec_type") == "video"
        and not (s.get("disposition") or {}).get("attached_pic")
    ]
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    if not video and not audio:
        return None
    fmt = info.get("format") or {}
    format_name = str(fmt.get("format_name", ""))
    if format_name == "image2" or format_name.endswith("_pipe"):
        return None  # a still image ffmpeg could read, but Pillow could not
    mime = _container_mime(format_name, bool(video))
    if mime is None:
        what = "video" if video else "audio"
        raise MediaRejected(
            f"This {what} format ({fmt.get('format_long_name') or fmt.get('format_name')}) "
            f"is not taken (allowed: {allowed_summary()})."
        )
    try:
        seconds = float(fmt.get("duration") or video[0].get("duration") or 0)
    except (TypeError, ValueError, IndexError):
        seconds = 0.0
    width = height = None
    if video:
        width, height = video[0].get("width"), video[0].get("height")
        if not width or not height:
            raise MediaRejected("The video has no readable picture size.")
    kind = ALLOWED[mime]
    return MediaFacts(
        kind.content_type,
        mime,
        kind.extension,
        size,
        width,
        height,
        max(0, round(seconds)),
    )


def _as_text(path: Path, size: int) -> MediaFacts | None:
    data = path.read_bytes()
    if b"\x00" in data:
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return MediaFacts("text", "text/plain", "txt", size)


# --- storing and thumbnails ---------------------------------------------------------


def library_folder(character_id: object) -> str:
    return f"library/{character_id}"


def stored_name(character_id: object, original: str, facts: MediaFacts) -> str:
    """Where an upload lives, relative to MEDIA_ROOT (never the sender's path)."""
    return (
        f"{library_folder(character_id)}/"
        f"{uuid.uuid4().hex[:12]}-{safe_stem(original)}.{facts.extension}"
    )


def thumbnail_name(character_id: object, content_id: object) -> str:
    return f"thumbs/{character_id}/{content_id}.jpg"


def make_thumbnail(source: Path, target: Path, content_type: str) -> bool:
    """Write a JPEG thumbnail of `source` to `target`; False when the kind of
    file has no picture (audio, text) or no frame could be taken."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if content_type == "image":
        from PIL import Image, ImageOps

        with Image.open(source) as image:
            image.seek(0)
            picture = ImageOps.exif_transpose(image).convert("RGB")
            picture.thumbnail(THUMBNAIL_SIZE)
            picture.save(target, format="JPEG", quality=82)
        return True
    if content_type == "video":
        binary = shutil.which("ffmpeg")
        if binary is None:
            return False
        for offset in ("1", "0"):  # a frame after a second, or the first one
            try:
                subprocess.run(  # noqa: S603 - fixed argv, no shell
                    [
                        binary,
                        "-v",
                        "error",
                        "-y",
                        "-ss",
                        offset,
                        "-i",
                        str(source),
                        "-frames:v",
                        "1",
                        "-vf",
                        f"scale={THUMBNAIL_SIZE[0]}:-2",
                        "-f",
                        "image2",
                        str(target),
                    ],
                    capture_output=True,
                    timeout=FFMPEG_TIMEOUT,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                return False
            if target.exists() and target.stat().st_size > 0:
                return True
        return False
    return False
