"""Generation backends: one small interface, one class per image generator.

`get_backend()` picks the class from settings.GENERATION_BACKEND (a dotted
path). Development uses `LocalImageBackend`, which draws real PNG files with
Pillow; production points at a Stable Diffusion web UI (AUTOMATIC1111 / Forge)
with `StableDiffusionWebUIBackend` and SD_WEBUI_URL.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import random
from dataclasses import dataclass, field

import requests
from django.conf import settings
from django.utils.module_loading import import_string


class GenerationError(Exception):
    """A generation failed. `retryable` says whether trying later may help."""

    retryable = True

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Unsupported(GenerationError):
    """The backend cannot make this kind of job at all: do not retry."""

    retryable = False


@dataclass(frozen=True)
class GenerationRequest:
    """What to draw: the character's appearance is already folded into the prompt."""

    prompt: str
    negative_prompt: str = ""
    width: int = 512
    height: int = 768
    steps: int = 30
    cfg_scale: float = 7.0
    seed: int = -1  # -1: let the backend choose
    sampler: str | None = None
    base_model: str | None = None
    batch_size: int = 1
    extra: dict = field(default_factory=dict)

    def settings_record(self) -> dict:
        """What is stored as the content's generation_settings."""
        record = {
            "width": self.width,
            "height": self.height,
            "steps": self.steps,
            "cfg_scale": self.cfg_scale,
            "sampler": self.sampler,
            "base_model": self.base_model,
        }
        return {k: v for k, v in record.items() if v is not None}


@dataclass(frozen=True)
class GeneratedImage:
    data: bytes
    width: int
    height: int
    seed: int | None
    mime_type: str = "image/png"
    extension: str = "png"


class GenerationBackend:
    """The interface every generator implements."""

    name = "base"

    # The longest one job may take: a drain starts a job only when it fits.
    call_timeout: float = 60.0

    def generate_images(self, request: GenerationRequest) -> list[GeneratedImage]:
        raise Unsupported(f"{self.name} cannot generate images.")


def _png_size(data: bytes) -> tuple[int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except (UnidentifiedImageError, OSError) as exc:
        raise GenerationError(
            f"The backend returned an unreadable image ({exc})."
        ) from exc


class LocalImageBackend(GenerationBackend):
    """Development: deterministic abstract images drawn from the prompt and seed."""

    name = "local"

    call_timeout = 30.0  # draws on this machine in well under a second

    def generate_images(self, request: GenerationRequest) -> list[GeneratedImage]:
        from PIL import Image, ImageDraw

        base_seed = (
            request.seed
            if request.seed >= 0
            else random.SystemRandom().randint(1, 2**31 - 1)
        )
        images = []
        for n in range(request.batch_size):
            seed = base_seed + n
            digest = hashlib.sha256(f"{request.prompt}|{seed}".encode()).digest()
            rng = random.Random(digest)
            img = Image.new("RGB", (request.width, request.height), tuple(digest[:3]))
            draw = ImageDraw.Draw(img)
            for _ in range(12):
                x0, y0 = rng.randrange(request.width), rng.randrange(request.height)
                x1 = x0 + rng.randrange(20, max(21, request.width // 2))
                y1 = y0 + rng.randrange(20, max(21, request.height // 2))
                colour = tuple(rng.randrange(256) for _ in range(3))
                draw.ellipse((x0, y0, x1, y1), fill=colour)
            draw.text((10, 10), request.prompt[:60], fill=(255, 255, 255))
            buffer = io.BytesIO()
            img.save(buffer, format="PNG")
            images.append(
                GeneratedImage(
                    data=buffer.getvalue(),
                    width=request.width,
                    height=request.height,
                    seed=seed,
                )
            )
        return images


class StableDiffusionWebUIBackend(GenerationBackend):
    """The Stable Diffusion web UI API: POST {SD_WEBUI_URL}/sdapi/v1/txt2img."""

    name = "Stable Diffusion web UI"

    def __init__(self, base_url: str | None = None, timeout: float | None = None):
        self.base_url = (base_url or settings.SD_WEBUI_URL or "").rstrip("/")
        self.timeout = timeout or settings.SD_WEBUI_TIMEOUT
        self.call_timeout = self.timeout + 5
        if not self.base_url:
            raise Unsupported(
                "SD_WEBUI_URL is not set: configure the Stable Diffusion web UI address."
            )

    def generate_images(self, request: GenerationRequest) -> list[GeneratedImage]:
        payload = {
            "prompt": request.prompt,
            "negative_prompt": request.negative_prompt,
            "seed": request.seed,
            "steps": request.steps,
            "cfg_scale": request.cfg_scale,
            "width": request.width,
            "height": request.height,
            "batch_size": request.batch_size,
            "n_iter": 1,
            "send_images": True,
            "save_images": False,
        }
        if request.sampler:
            payload["sampler_name"] = request.sampler
        if request.base_model:
            payload["override_settings"] = {"sd_model_checkpoint": request.base_model}
            payload["override_settings_restore_afterwards"] = True
        try:
            response = requests.post(
                f"{self.base_url}/sdapi/v1/txt2img", json=payload, timeout=self.timeout
            )
        except requests.Timeout as exc:
            raise GenerationError(
                f"The Stable Diffusion web UI did not answer within {self.timeout:g} s."
            ) from exc
        except requests.ConnectionError as exc:
            raise GenerationError("Cannot reach the Stable Diffusion web UI.") from exc
        if response.status_code >= 500:
            raise GenerationError(
                f"The Stable Diffusion web UI failed (HTTP {response.status_code})."
            )
        if response.status_code >= 400:
            detail = _error_detail(response)
            raise Unsupported(
                f"The Stable Diffusion web UI refused the job "
                f"(HTTP {response.status_code}){': ' + detail if detail else ''}."
            )
        try:
            body = response.json()
            encoded = body["images"]
        except (ValueError, KeyError, TypeError) as exc:
            raise GenerationError(
                "The Stable Diffusion web UI sent an unexpected answer."
            ) from exc
        seeds = _seeds(body.get("info"), len(encoded))
        images = []
        for data, seed in zip(encoded, seeds, strict=True):
            try:
                raw = base64.b64decode(data.split(",", 1)[-1], validate=True)
            except (binascii.Error, AttributeError) as exc:
                raise GenerationError(
                    "The Stable Diffusion web UI sent a broken image."
                ) from exc
            width, height = _png_size(raw)
            images.append(GeneratedImage(raw, width, height, seed))
        return images


def _error_detail(response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("error") or "")[:300]
    return ""


def _seeds(info, count: int) -> list[int | None]:
    """The web UI reports the seeds it used in `info`, a JSON string."""
    try:
        parsed = json.loads(info) if isinstance(info, str) else (info or {})
        seeds = parsed.get("all_seeds") or [parsed.get("seed")]
    except (ValueError, AttributeError):
        seeds = []
    seeds = [int(s) if isinstance(s, int) else None for s in seeds]
    return (seeds + [None] * count)[:count]


def get_backend() -> GenerationBackend:
    return import_string(settings.GENERATION_BACKEND)()
