"""The persona's face in a generation request: the reference image, the face
consistency method and weight, and the LoRA.

A reference path is relative to MEDIA_ROOT and read only after its resolved
path (symlinks included) is proven inside MEDIA_ROOT. A reference URL is
passed to the Stable Diffusion web UI as is (it fetches it itself, with its
own local-address guard); a backend that needs the file (ComfyUI) downloads it
here: http(s) only, a public address unless FACE_REFERENCE_ALLOW_PRIVATE, at
most FACE_REFERENCE_MAX_BYTES, and it must decode as an image.
"""

from __future__ import annotations

import io
import ipaddress
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings

FACE_METHODS = ("ip-adapter", "instantid", "faceid")
LORA_NAME = re.compile(r"^[\w.\- ]{1,200}$")
LORA_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".bin")


class FaceError(Exception):
    """The appearance's face settings cannot be used as they are (permanent,
    unless `retryable`: the reference URL could not be reached this time)."""

    def __init__(self, message: str, *, retryable: bool = False):
        super().__init__(message)
        self.message = message
        self.retryable = retryable


@dataclass(frozen=True)
class FaceReference:
    method: str  # ip-adapter, instantid, faceid
    weight: float
    path: Path | None = None  # resolved, inside MEDIA_ROOT
    url: str | None = None

    def read(self) -> bytes:
        """The image's bytes (a URL is downloaded with the guards above)."""
        if self.path is not None:
            try:
                return self.path.read_bytes()
            except OSError as exc:
                raise FaceError(f"The face reference cannot be read ({exc}).") from exc
        return download_image(self.url or "")

    def record(self) -> dict[str, Any]:
        return {"face_method": self.method, "face_weight": round(self.weight, 2)}


@dataclass(frozen=True)
class LoraTerm:
    name: str
    weight: float

    @property
    def prompt_term(self) -> str:
        return f"<lora:{self.name}:{self.weight:g}>"


def media_file(value: str) -> Path:
    """A stored path's real file, proven inside MEDIA_ROOT (FaceError)."""
    if not value or "\x00" in value or value.startswith(("/", "~")) or "\\" in value:
        raise FaceError(
            "The face reference path must be relative to MEDIA_ROOT "
            f"(got {value[:80]!r})."
        )
    if ".." in PurePosixPath(value).parts:
        raise FaceError("The face reference path cannot contain '..'.")
    root = Path(settings.MEDIA_ROOT).resolve()
    real = Path(os.path.realpath(root / value))
    if real == root or not real.is_relative_to(root):
        raise FaceError("The face reference path leads outside MEDIA_ROOT.")
    if not real.is_file():
        raise FaceError(f"The face reference file {value!r} is missing.")
    return real


def face_reference(appearance: Any) -> FaceReference | None:
    """The appearance's face reference with its method, or None when its
    method keeps no face by image (none, lora) or it has no reference."""
    if appearance is None or appearance.face_consistency_method not in FACE_METHODS:
        return None
    weight = float(appearance.face_consistency_weight)
    if appearance.face_reference_image_path:
        return FaceReference(
            appearance.face_consistency_method,
            weight,
            path=media_file(appearance.face_reference_image_path),
        )
    if appearance.face_reference_image_url:
        url = appearance.face_reference_image_url
        if urlsplit(url).scheme not in ("http", "https"):
            raise FaceError("The face reference URL must be http or https.")
        return FaceReference(appearance.face_consistency_method, weight, url=url)
    return None


def lora_term(appearance: Any, weight: Any = None) -> LoraTerm | None:
    """The appearance's LoRA as a prompt term: its file name without folder or
    extension; the weight given, else the face weight when the method is
    'lora', else 1."""
    path = (getattr(appearance, "lora_model_path", None) or "").strip()
    if not path:
        return None
    name = PurePosixPath(path.replace("\\", "/")).name
    for suffix in LORA_SUFFIXES:
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    if not LORA_NAME.match(name):
        raise FaceError(
            f"The LoRA name {name[:60]!r} has characters a prompt term cannot hold."
        )
    if weight is None:
        weight = (
            appearance.face_consistency_weight
            if appearance.face_consistency_method == "lora"
            else 1
        )
    try:
        value = min(2.0, max(0.0, float(weight)))
    except (TypeError, ValueError):
        value = 1.0
    return LoraTerm(name, round(value, 2))


def _public(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            return False
    return True


def download_image(url: str) -> bytes:
    """Fetch a face reference URL (see the module docstring for the guards)."""
    from PIL import Image, UnidentifiedImageError

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FaceError("The face reference URL must be http or https.")
    if not settings.FACE_REFERENCE_ALLOW_PRIVATE and not _public(parts.hostname):
        raise FaceError(
            "The face reference URL points to a private or unknown address; "
            "store the image under MEDIA_ROOT instead."
        )
    limit = settings.FACE_REFERENCE_MAX_BYTES
    try:
        with requests.get(url, stream=True, timeout=10, allow_redirects=False) as r:
            if r.status_code != 200:
                raise FaceError(
                    f"The face reference URL answered HTTP {r.status_code}."
                )
            data = b""
            for chunk in r.iter_content(65536):
                data += chunk
                if len(data) > limit:
                    raise FaceError(f"The face reference is larger than {limit} bytes.")
    except requests.RequestException as exc:
        raise FaceError(
            f"The face reference URL cannot be fetched ({type(exc).__name__}).",
            retryable=True,
        ) from exc
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.verify()
    except (UnidentifiedImageError, OSError) as exc:
        raise FaceError("The face reference URL did not give an image.") from exc
    return data
