"""Generation backends: one small interface, one class per generator.

`get_backend()` picks the class from settings.GENERATION_BACKEND (a dotted
path); `backend_for(job_type)` picks the backend of a job type (video jobs:
GENERATION_VIDEO_BACKEND, or the main one when it makes video). Development
uses `LocalImageBackend`, which draws real PNG files with Pillow; production
points at a Stable Diffusion web UI (AUTOMATIC1111 / Forge) with
`StableDiffusionWebUIBackend` and SD_WEBUI_URL, or at ComfyUI with
`content.comfyui.ComfyUIBackend` and COMFYUI_URL (images and video).

The appearance's face reaches the web UI as its ControlNet extension's units
(`alwayson_scripts`: IP-Adapter, InstantID or FaceID, with the reference image
and weight), the LoRA as a `<lora:name:weight>` prompt term and the base model
as the checkpoint override. What the server does not offer (the extension, a
model for the method, the LoRA, the checkpoint) is a clear job failure before
anything is drawn, never a silent plain image.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from django.conf import settings
from django.utils.module_loading import import_string

from content.faces import FaceReference, LoraTerm


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
    # image (image and batch jobs) or video
    kind: str = "image"
    job_type: str = "image"
    face: FaceReference | None = None
    lora: LoraTerm | None = None
    # video: how many frames at how many frames per second
    frames: int = 49
    fps: int = 16

    def settings_record(self) -> dict:
        """What is stored as the content's generation_settings."""
        record = {
            "width": self.width,
            "height": self.height,
            "steps": self.steps,
            "cfg_scale": self.cfg_scale,
            "sampler": self.sampler,
            "base_model": self.base_model,
            "lora": self.lora.prompt_term if self.lora else None,
            **(self.face.record() if self.face else {}),
            **(
                {"frames": self.frames, "fps": self.fps} if self.kind == "video" else {}
            ),
        }
        return {k: v for k, v in record.items() if v is not None}


@dataclass(frozen=True)
class GeneratedImage:
    """One file a backend made (an image, or a video with its duration)."""

    data: bytes
    width: int
    height: int
    seed: int | None
    mime_type: str = "image/png"
    extension: str = "png"
    content_type: str = "image"
    duration: int | None = None

    def __post_init__(self):
        # the extension becomes part of a file name under MEDIA_ROOT
        # (content.generation): a backend's answer never picks the folder
        if not (
            isinstance(self.extension, str)
            and 1 <= len(self.extension) <= 8
            and self.extension.isascii()
            and self.extension.isalnum()
        ):
            raise Unsupported(
                f"The backend returned an unusable file extension {self.extension!r}."
            )


class GenerationBackend:
    """The interface every generator implements."""

    name = "base"
    # what it makes: image, video
    kinds: tuple[str, ...] = ("image",)

    # The longest one job may take: a drain starts a job only when it fits.
    call_timeout: float = 60.0

    def generate(self, request: GenerationRequest) -> list[GeneratedImage]:
        if request.kind not in self.kinds:
            raise Unsupported(f"{self.name} cannot make {request.kind} content.")
        if request.kind == "image":
            return self.generate_images(request)
        return self.generate_video(request)

    def generate_images(self, request: GenerationRequest) -> list[GeneratedImage]:
        raise Unsupported(f"{self.name} cannot generate images.")

    def generate_video(self, request: GenerationRequest) -> list[GeneratedImage]:
        raise Unsupported(f"{self.name} cannot generate video.")


def image_size(data: bytes) -> tuple[int, int]:
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
    """The Stable Diffusion web UI API: POST {SD_WEBUI_URL}/sdapi/v1/txt2img,
    with the ControlNet extension's API for the face."""

    name = "Stable Diffusion web UI"

    def __init__(self, base_url: str | None = None, timeout: float | None = None):
        self.base_url = (base_url or settings.SD_WEBUI_URL or "").rstrip("/")
        self.timeout = timeout or settings.SD_WEBUI_TIMEOUT
        # the look-ups of what the server offers come first, then the drawing
        self.call_timeout = self.timeout + 4 * LOOKUP_TIMEOUT + 5
        if not self.base_url:
            raise Unsupported(
                "SD_WEBUI_URL is not set: configure the Stable Diffusion web UI address."
            )

    def generate_images(self, request: GenerationRequest) -> list[GeneratedImage]:
        prompt = request.prompt
        if request.lora:
            self._check_lora(request.lora)
            prompt = f"{prompt} {request.lora.prompt_term}"
        payload: dict = {
            "prompt": prompt,
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
            payload["override_settings"] = {
                "sd_model_checkpoint": self._checkpoint(request.base_model)
            }
            payload["override_settings_restore_afterwards"] = True
        if request.face:
            payload["alwayson_scripts"] = {
                "controlnet": {"args": self._face_units(request.face)}
            }
        try:
            response = requests.post(
                f"{self.base_url}/sdapi/v1/txt2img", json=payload, timeout=self.timeout
            )
        except requests.Timeout as exc:
            raise GenerationError(
                f"The Stable Diffusion web UI did not answer within {self.timeout:g} s."
            ) from exc
        except requests.ConnectionError as exc:
            raise GenerationError(
                "Lost the connection to the Stable Diffusion web UI (it is down or "
                "restarted mid-job); tried again later."
            ) from exc
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
        # the ControlNet extension appends its detected maps: keep the drawings
        encoded = encoded[: request.batch_size]
        seeds = _seeds(body.get("info"), len(encoded))
        images = []
        for data, seed in zip(encoded, seeds, strict=True):
            try:
                raw = base64.b64decode(data.split(",", 1)[-1], validate=True)
            except (binascii.Error, AttributeError) as exc:
                raise GenerationError(
                    "The Stable Diffusion web UI sent a broken image."
                ) from exc
            width, height = image_size(raw)
            images.append(GeneratedImage(raw, width, height, seed))
        return images

    # --- what the server offers -------------------------------------------------

    def _get(self, path: str, what: str) -> Any:
        try:
            response = requests.get(f"{self.base_url}{path}", timeout=LOOKUP_TIMEOUT)
        except requests.Timeout as exc:
            raise GenerationError(
                f"The Stable Diffusion web UI did not list its {what} in time."
            ) from exc
        except requests.ConnectionError as exc:
            raise GenerationError("Cannot reach the Stable Diffusion web UI.") from exc
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise GenerationError(
                f"The Stable Diffusion web UI could not list its {what} "
                f"(HTTP {response.status_code})."
            )
        try:
            return response.json()
        except ValueError as exc:
            raise GenerationError(
                f"The Stable Diffusion web UI sent an unreadable list of {what}."
            ) from exc

    def _checkpoint(self, wanted: str) -> str:
        models = self._get("/sdapi/v1/sd-models", "checkpoints") or []
        names = [m.get("title") or m.get("model_name") or "" for m in models]
        for model in models:
            candidates = {
                str(model.get(k) or "") for k in ("title", "model_name", "filename")
            }
            candidates |= {Path(c).stem for c in list(candidates) if c}
            candidates |= {c.split(" [")[0] for c in list(candidates)}
            if wanted in candidates or any(
                c.lower() == wanted.lower() for c in candidates
            ):
                return str(model.get("title") or model.get("model_name"))
        raise Unsupported(
            f"The Stable Diffusion web UI has no checkpoint {wanted!r} "
            f"(it has: {_listed(names)}). Set the appearance's base model to one "
            "of them."
        )

    def _check_lora(self, lora: LoraTerm) -> None:
        loras = self._get("/sdapi/v1/loras", "LoRAs") or []
        names = {str(item.get(k) or "") for item in loras for k in ("name", "alias")}
        if lora.name not in names:
            raise Unsupported(
                f"The Stable Diffusion web UI has no LoRA {lora.name!r} "
                f"(it has: {_listed(sorted(n for n in names if n))})."
            )

    def _face_units(self, face: FaceReference) -> list[dict]:
        listed = self._get("/controlnet/model_list", "ControlNet models")
        if listed is None:
            raise Unsupported(
                f"The face method {face.method} needs the web UI's ControlNet "
                "extension, and this web UI does not have it."
            )
        models = [str(m) for m in (listed.get("model_list") or [])]
        modules_listed = self._get("/controlnet/module_list", "ControlNet modules")
        modules = {str(m) for m in (modules_listed or {}).get("module_list") or []}
        image = face.url if face.url else base64.b64encode(face.read()).decode()
        units = []
        for module_choices, keep in FACE_UNITS[face.method]:
            model = next((m for m in models if keep(m.lower())), None)
            module = next(
                (m for m in _modules_for(module_choices, model) if m in modules), None
            )
            if model is None or module is None:
                raise Unsupported(
                    f"The Stable Diffusion web UI offers no ControlNet "
                    f"{'model' if model is None else 'preprocessor'} for the face "
                    f"method {FACE_LABELS[face.method]} (models: {_listed(models)}). "
                    "Install it, or choose another face method."
                )
            units.append(
                {
                    "enabled": True,
                    "image": image,
                    "module": module,
                    "model": model,
                    "weight": face.weight,
                    "resize_mode": "Crop and Resize",
                    "pixel_perfect": True,
                    "control_mode": "Balanced",
                    "guidance_start": 0.0,
                    "guidance_end": 1.0,
                }
            )
        return units


# Look-ups of what a web UI offers (models, LoRAs, ControlNet) are quick.
LOOKUP_TIMEOUT = 10.0
FACE_LABELS = {"ip-adapter": "IP-Adapter", "instantid": "InstantID", "faceid": "FaceID"}
# method -> its ControlNet units: (preprocessors by preference, which model)
FACE_UNITS: dict[str, list[tuple[tuple[str, ...], Callable[[str], bool]]]] = {
    "ip-adapter": [
        (
            (
                "ip-adapter_clip_sd15",
                "ip-adapter_clip_sdxl_plus_vith",
                "ip-adapter_clip_sdxl",
            ),
            lambda m: "ip-adapter" in m and "faceid" not in m and "instant" not in m,
        )
    ],
    "faceid": [
        (
            ("ip-adapter_face_id_plus", "ip-adapter_face_id"),
            lambda m: "faceid" in m,
        )
    ],
    "instantid": [
        (
            ("instant_id_face_embedding",),
            lambda m: "instant_id" in m and "ip-adapter" in m,
        ),
        (
            ("instant_id_face_keypoints",),
            lambda m: "instant_id" in m and "control" in m,
        ),
    ],
}


def _modules_for(choices: tuple[str, ...], model: str | None) -> list[str]:
    """The preprocessors that suit the model: SDXL ones for an SDXL model,
    'plus' FaceID for a plus model, in order of preference."""
    name = (model or "").lower()
    ranked = list(choices)
    if "xl" in name:
        ranked.sort(key=lambda m: "sdxl" not in m)
    else:
        ranked.sort(key=lambda m: "sdxl" in m)
    if "plus" not in name:
        ranked.sort(key=lambda m: "plus" in m)
    return ranked


def _listed(names: list[str]) -> str:
    names = [n for n in names if n]
    if not names:
        return "none"
    return ", ".join(names[:8]) + (
        f" and {len(names) - 8} more" if len(names) > 8 else ""
    )


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
    backend: GenerationBackend = import_string(settings.GENERATION_BACKEND)()
    return backend


NO_VIDEO_BACKEND = (
    "No video-capable generation backend is configured: set "
    "GENERATION_VIDEO_BACKEND=content.comfyui.ComfyUIBackend (with COMFYUI_URL "
    "and a video workflow), or use ComfyUI as GENERATION_BACKEND."
)


def backend_for(
    job_type: str, default: GenerationBackend | None = None
) -> GenerationBackend:
    """The backend of a job type: video jobs go to GENERATION_VIDEO_BACKEND (or
    to the main backend when it makes video); Unsupported when none does."""
    if job_type == "video":
        if settings.GENERATION_VIDEO_BACKEND:
            video: GenerationBackend = import_string(
                settings.GENERATION_VIDEO_BACKEND
            )()
            return video
        main = default or get_backend()
        if "video" in main.kinds:
            return main
        raise Unsupported(NO_VIDEO_BACKEND)
    if job_type in ("image", "batch"):
        return default or get_backend()
    raise Unsupported(
        f"No generation backend makes {job_type} content; image, batch and video "
        "jobs run (captions and replies are written by the text queue)."
    )
