"""ComfyUI as a generation backend (images and video).

A workflow template per job type (COMFYUI_WORKFLOWS/<job type>.json; `batch`
uses `image.json`) holds a graph in ComfyUI's API format whose string values
"%prompt%", "%negative_prompt%", "%seed%", "%width%", "%height%", "%steps%",
"%cfg%", "%sampler%", "%scheduler%", "%checkpoint%", "%batch_size%",
"%lora_name%", "%lora_weight%", "%face_image%", "%face_weight%", "%frames%",
"%fps%" and "%filename_prefix%" are filled in (as values of their type, never
by pasting text into JSON). Optional node groups ("lora", "ip-adapter",
"faceid", "instantid") are dropped unless the request uses them, their
outputs rewired to the inputs named in "passthrough".

A job: the server's node list (/object_info) must have every node of the
graph and the checkpoint, LoRA and sampler it names; the face reference is
uploaded (/upload/image); the graph goes to /prompt (a validation error is a
clear permanent failure); /history/{id} is polled, with the queue position
from /queue, until the job is done, failed in a node (the node and its error
are reported), or lost (the server restarted: it knows the job no more); the
files come through /view.
"""

from __future__ import annotations

import copy
import json
import logging
import mimetypes
import random
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from django.conf import settings

from content.backends import (
    GeneratedImage,
    GenerationBackend,
    GenerationError,
    GenerationRequest,
    Unsupported,
    image_size,
)

logger = logging.getLogger(__name__)
LOOKUP_TIMEOUT = 10.0
FACE_GROUPS = ("ip-adapter", "faceid", "instantid")
FACE_LABELS = {"ip-adapter": "IP-Adapter", "instantid": "InstantID", "faceid": "FaceID"}
VIDEO_EXTENSIONS = {".mp4", ".webm", ".mov", ".gif", ".webp", ".mkv"}
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp"}
# A1111-style sampler names -> ComfyUI's (sampler, scheduler)
SAMPLERS = {
    "euler": ("euler", "normal"),
    "euler a": ("euler_ancestral", "normal"),
    "dpm++ 2m": ("dpmpp_2m", "normal"),
    "dpm++ 2m karras": ("dpmpp_2m", "karras"),
    "dpm++ sde": ("dpmpp_sde", "normal"),
    "dpm++ sde karras": ("dpmpp_sde", "karras"),
    "dpm++ 2m sde": ("dpmpp_2m_sde", "normal"),
    "dpm++ 2m sde karras": ("dpmpp_2m_sde", "karras"),
    "ddim": ("ddim", "ddim_uniform"),
    "uni_pc": ("uni_pc", "normal"),
}


@dataclass(frozen=True)
class Workflow:
    """A template: the graph, its optional groups and how to bypass them."""

    name: str
    graph: dict[str, Any]
    optional: dict[str, list[str]]
    passthrough: dict[str, list[str | None]]

    @classmethod
    def load(cls, job_type: str, folder: str | Path) -> Workflow:
        name = "image" if job_type == "batch" else job_type
        path = Path(folder) / f"{name}.json"
        try:
            raw = json.loads(path.read_text())
        except FileNotFoundError as exc:
            raise Unsupported(
                f"No ComfyUI workflow for {job_type} jobs: add {path}."
            ) from exc
        except (OSError, ValueError) as exc:
            raise Unsupported(
                f"The ComfyUI workflow {path} is unreadable ({exc})."
            ) from exc
        graph = raw.get("workflow") if isinstance(raw, dict) else None
        if not isinstance(graph, dict) or not graph:
            raise Unsupported(f"The ComfyUI workflow {path} has no 'workflow' graph.")
        return cls(
            name=name,
            graph=graph,
            optional={k: list(v) for k, v in (raw.get("optional") or {}).items()},
            passthrough={k: list(v) for k, v in (raw.get("passthrough") or {}).items()},
        )

    def without(self, groups: set[str]) -> dict[str, Any]:
        """The graph with these optional groups taken out and rewired."""
        graph = copy.deepcopy(self.graph)
        dropped = {n for g in groups for n in self.optional.get(g, [])}

        def resolve(ref: list) -> list:
            seen = 0
            while str(ref[0]) in dropped:
                node, index = str(ref[0]), int(ref[1])
                names = self.passthrough.get(node) or []
                name = names[index] if index < len(names) else None
                source = graph[node]["inputs"].get(name) if name else None
                if not isinstance(source, list) or seen > len(graph):
                    raise Unsupported(
                        f"The ComfyUI workflow '{self.name}' uses output {index} of "
                        f"node {node}, which has no passthrough: it cannot run "
                        "without that node's group."
                    )
                ref, seen = source, seen + 1
            return ref

        kept = {k: v for k, v in graph.items() if k not in dropped}
        for node in kept.values():
            for key, value in list(node.get("inputs", {}).items()):
                if _is_link(value):
                    node["inputs"][key] = resolve(value)
        return kept


def _is_link(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str | int)
        and isinstance(value[1], int)
    )


class ComfyUIBackend(GenerationBackend):
    """ComfyUI's HTTP API at COMFYUI_URL (images and video)."""

    name = "ComfyUI"
    kinds = ("image", "video")

    def __init__(
        self,
        base_url: str | None = None,
        *,
        timeout: float | None = None,
        poll: float | None = None,
        workflows: str | Path | None = None,
    ):
        self.base_url = (base_url or settings.COMFYUI_URL or "").rstrip("/")
        self.timeout = float(timeout or settings.COMFYUI_TIMEOUT)
        self.poll = float(poll if poll is not None else settings.COMFYUI_POLL_SECONDS)
        self.workflows = workflows or settings.COMFYUI_WORKFLOWS
        self.call_timeout = self.timeout + 3 * LOOKUP_TIMEOUT + 5
        self.client_id = uuid.uuid4().hex
        if not self.base_url:
            raise Unsupported("COMFYUI_URL is not set: configure the ComfyUI address.")

    # --- the interface ----------------------------------------------------------

    def generate_images(self, request: GenerationRequest) -> list[GeneratedImage]:
        return self._run(request)

    def generate_video(self, request: GenerationRequest) -> list[GeneratedImage]:
        return self._run(request)

    def _run(self, request: GenerationRequest) -> list[GeneratedImage]:
        workflow = Workflow.load(request.job_type, self.workflows)
        face = request.face
        if face is not None and face.method not in workflow.optional:
            if request.kind == "image":
                raise Unsupported(
                    f"The ComfyUI workflow '{workflow.name}' has no nodes for the "
                    f"face method {FACE_LABELS[face.method]}: add an "
                    f"'{face.method}' group to it, or choose another face method."
                )
            face = None  # a video workflow without face nodes: recorded below
        used = {g for g in FACE_GROUPS if face is not None and g == face.method}
        if request.lora is not None:
            if "lora" not in workflow.optional:
                raise Unsupported(
                    f"The ComfyUI workflow '{workflow.name}' has no 'lora' group "
                    "for the appearance's LoRA."
                )
            used.add("lora")
        graph = workflow.without(set(workflow.optional) - used)
        info = self._object_info()
        self._check_nodes(graph, info, workflow.name)
        values = self._values(request)
        if face is not None:
            values["%face_image%"] = self._upload(face.read())
            values["%face_weight%"] = face.weight
        graph = _fill(graph, values)
        # the uploaded face is newer than the node list: not among its choices
        self._resolve_choices(graph, info, skip={values.get("%face_image%")})
        prompt_id = self._submit(graph)
        entry = self._wait(prompt_id)
        return self._files(entry, request)

    # --- building the graph -----------------------------------------------------

    @staticmethod
    def _values(request: GenerationRequest) -> dict[str, Any]:
        sampler, scheduler = SAMPLERS.get(
            (request.sampler or "euler").strip().lower(),
            ((request.sampler or "euler").strip(), "normal"),
        )
        seed = (
            request.seed
            if request.seed >= 0
            else random.SystemRandom().randint(1, 2**31 - 1)
        )
        return {
            "%prompt%": request.prompt,
            "%negative_prompt%": request.negative_prompt,
            "%seed%": seed,
            "%width%": request.width,
            "%height%": request.height,
            "%steps%": request.steps,
            "%cfg%": request.cfg_scale,
            "%sampler%": sampler,
            "%scheduler%": scheduler,
            "%checkpoint%": request.base_model or "",
            "%batch_size%": request.batch_size,
            "%lora_name%": request.lora.name if request.lora else "",
            "%lora_weight%": request.lora.weight if request.lora else 0.0,
            "%frames%": request.frames,
            "%fps%": request.fps,
            "%filename_prefix%": f"ainfluencer/{request.job_type}",
        }

    def _object_info(self) -> dict[str, Any]:
        info = self._get_json("/object_info", "its node list")
        if not isinstance(info, dict):
            raise GenerationError("ComfyUI sent an unreadable node list.")
        return info

    @staticmethod
    def _check_nodes(graph: dict[str, Any], info: dict[str, Any], name: str) -> None:
        missing = sorted({str(n.get("class_type")) for n in graph.values()} - set(info))
        if missing:
            raise Unsupported(
                f"ComfyUI has no node {', '.join(missing)} (the '{name}' workflow "
                "needs it): install the custom nodes that provide it, or change "
                "the workflow or the appearance's face method."
            )

    @staticmethod
    def _resolve_choices(
        graph: dict[str, Any], info: dict[str, Any], *, skip: set[Any]
    ) -> None:
        """Model and sampler names must be among the server's own choices; a
        close name (without extension or folder, any case) is taken."""
        for node_id, node in graph.items():
            spec = info.get(node.get("class_type"), {}).get("input", {})
            declared = {**spec.get("required", {}), **spec.get("optional", {})}
            for key, value in node.get("inputs", {}).items():
                options = declared.get(key, [None])[0]
                if not isinstance(options, list) or not isinstance(value, str):
                    continue
                if value in options or value in skip:
                    continue
                match = _closest(value, [str(o) for o in options])
                if match is None:
                    raise Unsupported(
                        f"ComfyUI has no {key} {value!r} for node {node_id} "
                        f"({node.get('class_type')}); it has: "
                        f"{', '.join(map(str, options[:8])) or 'none'}."
                    )
                node["inputs"][key] = match

    def _upload(self, data: bytes) -> str:
        name = f"ainfluencer-face-{uuid.uuid4().hex[:12]}.png"
        try:
            response = requests.post(
                f"{self.base_url}/upload/image",
                files={"image": (name, data, "image/png")},
                data={"overwrite": "true", "type": "input"},
                timeout=LOOKUP_TIMEOUT,
            )
        except requests.RequestException as exc:
            raise GenerationError(
                "Cannot upload the face reference to ComfyUI."
            ) from exc
        if response.status_code != 200:
            raise GenerationError(
                f"ComfyUI refused the face reference upload (HTTP {response.status_code})."
            )
        body = _json(response) or {}
        uploaded = str(body.get("name") or name)
        subfolder = str(body.get("subfolder") or "")
        return f"{subfolder}/{uploaded}" if subfolder else uploaded

    # --- running it -------------------------------------------------------------

    def _submit(self, graph: dict[str, Any]) -> str:
        try:
            response = requests.post(
                f"{self.base_url}/prompt",
                json={"prompt": graph, "client_id": self.client_id},
                timeout=LOOKUP_TIMEOUT,
            )
        except requests.Timeout as exc:
            raise GenerationError("ComfyUI did not take the job in time.") from exc
        except requests.ConnectionError as exc:
            raise GenerationError("Cannot reach ComfyUI.") from exc
        body = _json(response) or {}
        if response.status_code >= 500:
            raise GenerationError(f"ComfyUI failed (HTTP {response.status_code}).")
        if response.status_code >= 400 or body.get("node_errors"):
            raise Unsupported(f"ComfyUI refused the workflow: {_validation(body)}")
        prompt_id = body.get("prompt_id")
        if not prompt_id:
            raise GenerationError("ComfyUI took the job without giving its id.")
        return str(prompt_id)

    def _wait(self, prompt_id: str) -> dict[str, Any]:
        """Poll until the job is in the history, failed, lost or too slow."""
        deadline = time.monotonic() + self.timeout
        position: int | None = None
        unreachable_since: float | None = None
        while True:
            try:
                entry = self._history(prompt_id)
                if entry is None:
                    position = self._position(prompt_id)
                    if position is None:
                        # gone from the queue: finished just now, or lost
                        entry = self._history(prompt_id)
                        if entry is None:
                            raise GenerationError(_lost(unreachable_since))
                reachable = True
            except requests.RequestException:
                reachable = False
            if not reachable:
                unreachable_since = unreachable_since or time.monotonic()
            elif entry is not None:
                return _finished(entry, prompt_id)
            if time.monotonic() + self.poll > deadline:
                self._abandon(prompt_id, running=position == 0)
                where = (
                    "it was unreachable"
                    if not reachable
                    else "still running"
                    if position == 0
                    else f"still queued at position {position}"
                )
                raise GenerationError(
                    f"ComfyUI did not finish the job within {self.timeout:g} s "
                    f"({where})."
                )
            time.sleep(self.poll)

    def _history(self, prompt_id: str) -> dict[str, Any] | None:
        response = requests.get(
            f"{self.base_url}/history/{prompt_id}", timeout=LOOKUP_TIMEOUT
        )
        if response.status_code >= 500:
            raise requests.ConnectionError(f"HTTP {response.status_code}")
        body = _json(response) or {}
        entry = body.get(prompt_id) if isinstance(body, dict) else None
        return entry if isinstance(entry, dict) else None

    def _position(self, prompt_id: str) -> int | None:
        """0 running, n-th waiting, None when the server does not have it."""
        response = requests.get(f"{self.base_url}/queue", timeout=LOOKUP_TIMEOUT)
        if response.status_code >= 500:
            raise requests.ConnectionError(f"HTTP {response.status_code}")
        body = _json(response) or {}
        if any(_queued_id(i) == prompt_id for i in body.get("queue_running") or []):
            return 0
        pending = sorted(body.get("queue_pending") or [], key=lambda i: i[0])
        for n, item in enumerate(pending, start=1):
            if _queued_id(item) == prompt_id:
                logger.info("ComfyUI job %s waits at queue position %d", prompt_id, n)
                return n
        return None

    def _abandon(self, prompt_id: str, *, running: bool) -> None:
        """Given up on: take it out of ComfyUI's queue (or stop it)."""
        try:
            requests.post(
                f"{self.base_url}/queue",
                json={"delete": [prompt_id]},
                timeout=LOOKUP_TIMEOUT,
            )
            if running:
                requests.post(f"{self.base_url}/interrupt", timeout=LOOKUP_TIMEOUT)
        except requests.RequestException:
            logger.info("could not take ComfyUI job %s off the queue", prompt_id)

    def _files(
        self, entry: dict[str, Any], request: GenerationRequest
    ) -> list[GeneratedImage]:
        found = []
        for output in (entry.get("outputs") or {}).values():
            for key in ("images", "gifs", "videos"):
                for item in output.get(key) or []:
                    if (
                        isinstance(item, dict)
                        and item.get("type", "output") == "output"
                    ):
                        found.append(item)
        wanted = VIDEO_EXTENSIONS if request.kind == "video" else IMAGE_EXTENSIONS
        chosen = [
            f for f in found if Path(str(f.get("filename"))).suffix.lower() in wanted
        ]
        if not chosen:
            raise GenerationError(
                f"ComfyUI finished without a {request.kind} file "
                f"({len(found)} other file(s))."
            )
        media = []
        for item in chosen:
            data = self._view(item)
            suffix = Path(str(item["filename"])).suffix.lower()
            mime = mimetypes.guess_type(f"x{suffix}")[0] or "application/octet-stream"
            if request.kind == "video":
                media.append(
                    GeneratedImage(
                        data,
                        request.width,
                        request.height,
                        request.seed if request.seed >= 0 else None,
                        mime_type=mime,
                        extension=suffix.lstrip("."),
                        content_type="video",
                        duration=max(1, round(request.frames / max(1, request.fps))),
                    )
                )
            else:
                width, height = image_size(data)
                media.append(
                    GeneratedImage(
                        data,
                        width,
                        height,
                        request.seed if request.seed >= 0 else None,
                        mime_type=mime,
                        extension=suffix.lstrip("."),
                    )
                )
        return media

    def _view(self, item: dict[str, Any]) -> bytes:
        try:
            response = requests.get(
                f"{self.base_url}/view",
                params={
                    "filename": item.get("filename"),
                    "subfolder": item.get("subfolder") or "",
                    "type": item.get("type") or "output",
                },
                timeout=max(LOOKUP_TIMEOUT, 60.0),
            )
        except requests.RequestException as exc:
            raise GenerationError("Cannot fetch a result file from ComfyUI.") from exc
        if response.status_code != 200 or not response.content:
            raise GenerationError(
                f"ComfyUI could not give the result file {item.get('filename')!r} "
                f"(HTTP {response.status_code})."
            )
        return response.content

    def _get_json(self, path: str, what: str) -> Any:
        try:
            response = requests.get(f"{self.base_url}{path}", timeout=LOOKUP_TIMEOUT)
        except requests.Timeout as exc:
            raise GenerationError(f"ComfyUI did not send {what} in time.") from exc
        except requests.ConnectionError as exc:
            raise GenerationError("Cannot reach ComfyUI.") from exc
        if response.status_code != 200:
            raise GenerationError(
                f"ComfyUI could not send {what} (HTTP {response.status_code})."
            )
        return _json(response)


# --- helpers ------------------------------------------------------------------------


def _fill(value: Any, values: dict[str, Any]) -> Any:
    """Replace placeholder strings by their values, keeping their types."""
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    if isinstance(value, list) and not _is_link(value):
        return [_fill(v, values) for v in value]
    if isinstance(value, str) and value in values:
        return values[value]
    return value


def _closest(value: str, options: list[str]) -> str | None:
    wanted = value.strip().lower()
    if not wanted:
        return None
    for option in options:
        name = option.replace("\\", "/").rsplit("/", 1)[-1].lower()
        if wanted in (option.lower(), name, name.rsplit(".", 1)[0]):
            return option
    return None


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _queued_id(item: Any) -> str | None:
    return str(item[1]) if isinstance(item, list | tuple) and len(item) > 1 else None


def _validation(body: dict[str, Any]) -> str:
    parts = []
    error = body.get("error")
    if isinstance(error, dict) and error.get("message"):
        parts.append(str(error["message"]))
    for node_id, node in (body.get("node_errors") or {}).items():
        for err in (node or {}).get("errors") or []:
            parts.append(
                f"node {node_id} ({node.get('class_type')}): "
                f"{err.get('message')}{': ' + err['details'] if err.get('details') else ''}"
            )
    return "; ".join(parts)[:1500] or "no reason given"


def _finished(entry: dict[str, Any], prompt_id: str) -> dict[str, Any]:
    status = entry.get("status") or {}
    if status.get("status_str") == "error":
        for kind, data in status.get("messages") or []:
            if kind == "execution_error":
                raise GenerationError(
                    f"ComfyUI failed in node {data.get('node_id')} "
                    f"({data.get('node_type')}): "
                    f"{data.get('exception_type', 'error')}: "
                    f"{data.get('exception_message', '').strip()}"[:1500]
                )
            if kind == "execution_interrupted":
                raise GenerationError(
                    f"ComfyUI's job {prompt_id} was interrupted "
                    f"in node {data.get('node_id')}."
                )
        raise GenerationError(f"ComfyUI's job {prompt_id} failed.")
    return entry


def _lost(unreachable_since: float | None) -> str:
    if unreachable_since is not None:
        return (
            "ComfyUI restarted while drawing: it was unreachable for "
            f"{time.monotonic() - unreachable_since:.0f} s and no longer knows the "
            "job; it is drawn again later."
        )
    return (
        "ComfyUI no longer knows the job (its queue was cleared or it restarted); "
        "it is drawn again later."
    )
