"""A loopback fake of ComfyUI's HTTP API, behaving as its server does.

- GET /object_info: the node classes with their inputs; combo inputs list the
  server's choices (checkpoints, LoRAs, samplers, uploaded input images);
- POST /upload/image (multipart): stores the file under input/;
- POST /prompt: validates the graph as ComfyUI does (unknown node: 400
  invalid_prompt; a value not among a combo's choices: 400 with node_errors),
  queues it and answers {"prompt_id", "number", "node_errors": {}};
- GET /queue: {"queue_running": [...], "queue_pending": [...]}, each item
  [number, prompt_id, prompt, extra_data, outputs_to_execute];
- GET /history/{prompt_id}: {} until the job ends, then its entry: outputs per
  node ({"images": [{"filename", "subfolder", "type"}]}) and the status
  ({"status_str": "success"|"error", "completed", "messages"}) with an
  execution_error message naming the failed node;
- GET /view?filename&subfolder&type: the file's bytes;
- POST /queue {"delete": [...]}, POST /interrupt.

Time moves one step per poll of /history: jobs `ahead` of ours finish one by
one (our queue position falls), then ours runs for `run_polls` polls. Modes:
ok; fail_node (the sampler node fails: CUDA out of memory); restart (once our
job runs, the server goes down for `down_polls` requests, dropping every
connection, and comes back with an empty queue and history, as a restarted
ComfyUI does); stuck (our job never ends).
"""

import io
import json
import re
import uuid
from urllib.parse import parse_qs, urlsplit

from PIL import Image

from tests.fakes.loopback import LoopbackJSONServer

CHECKPOINTS = ["juggernautXL_v9.safetensors", "ltx-video-2b-v0.9.5.safetensors"]
LORAS = ["luna_face_v2.safetensors"]
SAMPLERS = ["euler", "euler_ancestral", "dpmpp_2m", "dpmpp_sde", "ddim", "uni_pc"]
SCHEDULERS = ["normal", "karras", "exponential", "simple", "ddim_uniform"]
CORE_NODES = {
    "CheckpointLoaderSimple": {"ckpt_name": "checkpoints"},
    "LoraLoader": {"lora_name": "loras", "model": None, "clip": None},
    "LoraLoaderModelOnly": {"lora_name": "loras", "model": None},
    "CLIPTextEncode": {"text": None, "clip": None},
    "CLIPLoader": {"clip_name": ["t5xxl_fp16.safetensors"], "type": ["ltxv", "sd3"]},
    "EmptyLatentImage": {"width": None, "height": None, "batch_size": None},
    "KSampler": {"sampler_name": "samplers", "scheduler": "schedulers"},
    "VAEDecode": {},
    "SaveImage": {},
    "LoadImage": {"image": "inputs"},
    "ControlNetLoader": {
        "control_net_name": ["instantid/diffusion_pytorch_model.safetensors"]
    },
    "LTXVConditioning": {},
    "EmptyLTXVLatentVideo": {},
    "SaveWEBM": {},
}
FACE_NODES = {
    "IPAdapterUnifiedLoader": {},
    "IPAdapter": {},
    "IPAdapterUnifiedLoaderFaceID": {},
    "IPAdapterFaceID": {},
    "InstantIDModelLoader": {},
    "InstantIDFaceAnalysis": {},
    "ApplyInstantID": {},
}
OUTPUT_NODES = ("SaveImage", "SaveWEBM")


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


class FakeComfyUI(LoopbackJSONServer):
    def __init__(self, *, face_nodes: bool = True, ahead: int = 0, run_polls: int = 1):
        super().__init__()
        self.face_nodes = face_nodes
        self.ahead = ahead  # other people's jobs in front of ours
        self.run_polls = run_polls
        self.down_polls = 2
        self.inputs: dict[str, bytes] = {}
        self.files: dict[str, bytes] = {}
        self.jobs: dict[str, dict] = {}  # prompt_id -> state
        self.history: dict[str, dict] = {}
        self.number = 0
        self.positions: list[int | None] = []  # what /queue said about ours
        self.down = 0
        self.deleted: list[str] = []
        self.interrupted = 0

    # --- recording --------------------------------------------------------------

    def record_request(self, method, path, headers, body):
        parts = urlsplit(path)
        call = {"method": method, "path": parts.path, "query": parse_qs(parts.query)}
        if "multipart/form-data" in (headers.get("Content-Type") or ""):
            found = re.search(
                rb'filename="([^"]+)"\r\nContent-Type: [^\r]+\r\n\r\n', body
            )
            if found:
                start = found.end()
                end = body.index(b"\r\n--", start)
                call["upload"] = (found.group(1).decode(), body[start:end])
        else:
            try:
                call["payload"] = json.loads(body or b"{}")
            except ValueError:
                call["payload"] = {}
        return call

    @property
    def prompts(self) -> list[dict]:
        """The graphs submitted to /prompt."""
        return [c["payload"]["prompt"] for c in self.calls if c["path"] == "/prompt"]

    # --- the API ----------------------------------------------------------------

    def answer(self, call):
        if self.down:
            self.down -= 1
            return None, None  # restarting: the connection drops
        path, method = call["path"], call["method"]
        if path == "/object_info":
            return 200, self._object_info()
        if path == "/upload/image" and method == "POST":
            name, data = call["upload"]
            self.inputs[name] = data
            return 200, {"name": name, "subfolder": "", "type": "input"}
        if path == "/prompt" and method == "POST":
            return self._prompt(call["payload"])
        if path == "/queue" and method == "GET":
            return 200, self._queue()
        if path == "/queue" and method == "POST":
            for pid in call["payload"].get("delete", []):
                self.deleted.append(pid)
                self.jobs.pop(pid, None)
            return 200, None
        if path == "/interrupt":
            self.interrupted += 1
            return 200, None
        if path.startswith("/history/"):
            pid = path.rsplit("/", 1)[1]
            self._tick(pid)
            if self.down:
                self.down -= 1
                return None, None
            return 200, ({pid: self.history[pid]} if pid in self.history else {})
        if path == "/view":
            name = (call["query"].get("filename") or [""])[0]
            if name not in self.files:
                return 404, None
            return 200, self.files[name]
        return 404, {"error": "not found"}

    def _object_info(self) -> dict:
        choices = {
            "checkpoints": CHECKPOINTS,
            "loras": LORAS,
            "samplers": SAMPLERS,
            "schedulers": SCHEDULERS,
            "inputs": sorted(self.inputs),
        }
        nodes = dict(CORE_NODES)
        if self.face_nodes:
            nodes.update(FACE_NODES)
        info = {}
        for name, inputs in nodes.items():
            required = {}
            for key, spec in inputs.items():
                if isinstance(spec, str):
                    required[key] = [choices[spec]]
                elif isinstance(spec, list):
                    required[key] = [spec]
                else:
                    required[key] = ["STRING", {}]
            info[name] = {
                "input": {"required": required},
                "output_node": name in OUTPUT_NODES,
            }
        return info

    def _prompt(self, body: dict):
        graph = body.get("prompt") or {}
        info = self._object_info()
        for node_id, node in graph.items():
            if node.get("class_type") not in info:
                return 400, {
                    "error": {
                        "type": "invalid_prompt",
                        "message": f"Cannot execute because node {node.get('class_type')} "
                        "does not exist.",
                        "details": f"Node ID '#{node_id}'",
                        "extra_info": {},
                    },
                    "node_errors": {},
                }
        errors = {}
        for node_id, node in graph.items():
            required = info[node["class_type"]]["input"]["required"]
            for key, value in node.get("inputs", {}).items():
                if (
                    isinstance(value, list)
                    and len(value) == 2
                    and isinstance(value[1], int)
                ):
                    if str(value[0]) not in graph:
                        errors[node_id] = self._node_error(
                            node, "bad_linked_input", f"{key}: node {value[0]} missing"
                        )
                    continue
                options = required.get(key, [None])[0]
                if isinstance(options, list) and value not in options:
                    errors[node_id] = self._node_error(
                        node, "value_not_in_list", f"{key}: '{value}' not in {options}"
                    )
        if errors:
            return 400, {
                "error": {
                    "type": "prompt_outputs_failed_validation",
                    "message": "Prompt outputs failed validation",
                    "details": "",
                    "extra_info": {},
                },
                "node_errors": errors,
            }
        pid = str(uuid.uuid4())
        self.number += 1
        self.jobs[pid] = {
            "number": self.number,
            "graph": graph,
            "state": "pending",
            "polls": self.run_polls,
        }
        return 200, {"prompt_id": pid, "number": self.number, "node_errors": {}}

    @staticmethod
    def _node_error(node, kind, details):
        return {
            "errors": [
                {
                    "type": kind,
                    "message": "Value not in list"
                    if kind == "value_not_in_list"
                    else "Bad linked input",
                    "details": details,
                    "extra_info": {},
                }
            ],
            "dependent_outputs": [],
            "class_type": node["class_type"],
        }

    def _queue(self) -> dict:
        running, pending = [], []
        others = [[n, f"other-{n}", {}, {}, []] for n in range(self.ahead)]
        ours = [
            [job["number"] + 1000, pid, {}, {}, []]
            for pid, job in self.jobs.items()
            if job["state"] in ("pending", "running")
        ]
        line = others + ours
        if line:
            running, pending = line[:1], line[1:]
        for pid in self.jobs:
            position = next((n for n, item in enumerate(line) if item[1] == pid), None)
            self.positions.append(position)
        return {"queue_running": running, "queue_pending": pending}

    def _tick(self, pid: str) -> None:
        """One step of time, seen from a poll of our job's history."""
        if self.ahead:
            self.ahead -= 1
            return
        job = self.jobs.get(pid)
        if job is None or job["state"] not in ("pending", "running"):
            return
        if job["state"] == "pending":
            job["state"] = "running"
            if self.mode == "restart":
                # the server dies with the job in hand and comes back empty
                self.mode = "ok"
                self.down = self.down_polls
                self.jobs.clear()
                self.history.clear()
            return
        if self.mode == "stuck":
            return
        job["polls"] -= 1
        if job["polls"] > 0:
            return
        if self.mode == "fail_node":
            job["state"] = "error"
            node_id = next(
                (
                    n
                    for n, node in job["graph"].items()
                    if node["class_type"] == "KSampler"
                ),
                "3",
            )
            self.history[pid] = {
                "prompt": [job["number"], pid, job["graph"], {}, []],
                "outputs": {},
                "status": {
                    "status_str": "error",
                    "completed": False,
                    "messages": [
                        ["execution_start", {"prompt_id": pid}],
                        [
                            "execution_error",
                            {
                                "prompt_id": pid,
                                "node_id": node_id,
                                "node_type": "KSampler",
                                "executed": [],
                                "exception_message": "CUDA out of memory. Tried to "
                                "allocate 2.00 GiB",
                                "exception_type": "torch.OutOfMemoryError",
                                "traceback": [],
                            },
                        ],
                    ],
                },
            }
            return
        job["state"] = "done"
        self.history[pid] = {
            "prompt": [job["number"], pid, job["graph"], {}, []],
            "outputs": self._outputs(job["graph"]),
            "status": {
                "status_str": "success",
                "completed": True,
                "messages": [
                    ["execution_start", {"prompt_id": pid}],
                    ["execution_success", {"prompt_id": pid}],
                ],
            },
        }

    def _outputs(self, graph: dict) -> dict:
        size = next(
            (
                (
                    n["inputs"]["width"],
                    n["inputs"]["height"],
                    n["inputs"].get("batch_size", 1),
                )
                for n in graph.values()
                if n["class_type"] in ("EmptyLatentImage", "EmptyLTXVLatentVideo")
            ),
            (512, 512, 1),
        )
        outputs = {}
        for node_id, node in graph.items():
            if node["class_type"] == "SaveImage":
                images = []
                for n in range(size[2]):
                    name = f"{node['inputs']['filename_prefix'].rsplit('/', 1)[-1]}_{n:05}_.png"
                    self.files[name] = png(size[0], size[1])
                    images.append({"filename": name, "subfolder": "", "type": "output"})
                outputs[node_id] = {"images": images}
            elif node["class_type"] == "SaveWEBM":
                name = "ltxv_00001_.webm"
                self.files[name] = b"\x1aE\xdf\xa3" + b"webm video" * 100
                outputs[node_id] = {
                    "images": [{"filename": name, "subfolder": "", "type": "output"}],
                    "animated": [True],
                }
        # a preview the UI shows: never a result
        self.files["preview.png"] = png(8, 8)
        outputs["preview"] = {
            "images": [{"filename": "preview.png", "subfolder": "", "type": "temp"}]
        }
        return outputs
