"""Real media files for tests: a PNG drawn by Pillow, a video and audio made
by Debian's ffmpeg (installed by `make setup`), so what the library reads
(dimensions, duration, type) comes from real bytes."""

import io
import subprocess
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile


def png_bytes(width: int = 64, height: int = 48, colour=(200, 80, 40)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(width: int = 80, height: int = 60) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buffer, format="JPEG")
    return buffer.getvalue()


def _ffmpeg(tmp_path: Path, name: str, *args: str) -> bytes:
    target = tmp_path / name
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", *args, str(target)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return target.read_bytes()


def mp4_bytes(tmp_path: Path, *, seconds: int = 2, size: str = "320x240") -> bytes:
    return _ffmpeg(
        tmp_path,
        "clip.mp4",
        "-f",
        "lavfi",
        "-i",
        f"testsrc=size={size}:rate=10",
        "-t",
        str(seconds),
        "-pix_fmt",
        "yuv420p",
    )


def mp3_bytes(tmp_path: Path, *, seconds: int = 3) -> bytes:
    return _ffmpeg(
        tmp_path,
        "tone.mp3",
        "-f",
        "lavfi",
        "-i",
        f"sine=frequency=440:duration={seconds}",
    )


def upload(name: str, data: bytes, content_type: str = "application/octet-stream"):
    return SimpleUploadedFile(name, data, content_type=content_type)
