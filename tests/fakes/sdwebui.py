"""A loopback fake of the Stable Diffusion web UI API (AUTOMATIC1111 / Forge)
with the ControlNet extension's API.

- GET /sdapi/v1/sd-models, /sdapi/v1/loras: what the server has;
- GET /controlnet/model_list, /controlnet/module_list: the extension's models
  and preprocessors (404 when the extension is not installed);
- POST /sdapi/v1/txt2img: the drawings, then one detected map per ControlNet
  unit (as the extension appends them); a unit naming a model the server does
  not have fails as the extension does (HTTP 500).

`mode` decides the answer of txt2img: ok, 500, 422, garbage, slow, restart
(the server goes down mid-request: the connection drops, no answer).
"""

import base64
import io
import json

from PIL import Image

from tests.fakes.loopback import LoopbackJSONServer

CHECKPOINTS = [
    {
        "title": "juggernautXL_v9.safetensors [a1b2c3d4e5]",
        "model_name": "juggernautXL_v9",
        "hash": "a1b2c3d4e5",
        "filename": "/models/Stable-diffusion/juggernautXL_v9.safetensors",
    },
    {
        "title": "realistic-vision-v6.safetensors [f6e5d4c3b2]",
        "model_name": "realistic-vision-v6",
        "hash": "f6e5d4c3b2",
        "filename": "/models/Stable-diffusion/realistic-vision-v6.safetensors",
    },
]
LORAS = [
    {
        "name": "luna_face_v2",
        "alias": "luna_face_v2",
        "path": "/models/Lora/luna_face_v2.safetensors",
    }
]
CONTROLNET_MODELS = [
    "ip-adapter-plus-face_sdxl_vit-h [1f2a3b4c]",
    "ip-adapter-faceid-plusv2_sdxl [5d6e7f80]",
    "ip-adapter_instant_id_sdxl [eb2d3ec0]",
    "control_instant_id_sdxl [c5c25a50]",
    "control_v11p_sd15_canny [d14c016b]",
]
CONTROLNET_MODULES = [
    "none",
    "canny",
    "ip-adapter_clip_sd15",
    "ip-adapter_clip_sdxl",
    "ip-adapter_clip_sdxl_plus_vith",
    "ip-adapter_face_id",
    "ip-adapter_face_id_plus",
    "instant_id_face_embedding",
    "instant_id_face_keypoints",
]


def png(width: int, height: int, colour=(200, 80, 120)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


class FakeWebUI(LoopbackJSONServer):
    """Records requests; `mode` decides txt2img's answer (see the module)."""

    def __init__(self, *, controlnet: bool = True):
        super().__init__()
        self.controlnet = controlnet
        self.checkpoints = list(CHECKPOINTS)
        self.loras = list(LORAS)
        self.controlnet_models = list(CONTROLNET_MODELS)
        self.controlnet_modules = list(CONTROLNET_MODULES)

    def record_request(self, method, path, headers, body):
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            payload = {}
        return {"method": method, "path": path, "payload": payload}

    @property
    def drawings(self) -> list[dict]:
        """The txt2img payloads received."""
        return [c["payload"] for c in self.calls if c["path"] == "/sdapi/v1/txt2img"]

    def answer(self, call):
        path, payload = call["path"], call["payload"]
        if path == "/sdapi/v1/sd-models":
            return 200, self.checkpoints
        if path == "/sdapi/v1/loras":
            return 200, self.loras
        if path.startswith("/controlnet/"):
            if not self.controlnet:
                return 404, {"detail": "Not Found"}
            if path == "/controlnet/model_list":
                return 200, {"model_list": self.controlnet_models}
            if path == "/controlnet/module_list":
                return 200, {
                    "module_list": self.controlnet_modules,
                    "module_detail": {},
                }
        if path != "/sdapi/v1/txt2img":
            return 404, {"detail": "Not Found"}
        if self.mode == "restart":
            return None, None
        if self.mode == "500":
            return 500, {"error": "OutOfMemoryError", "detail": "CUDA out of memory"}
        if self.mode == "422":
            return 422, {"detail": "sampler_name: unknown sampler"}
        if self.mode == "garbage":
            return 200, {"images": ["not base64 at all!!"], "info": "{}"}
        units = (payload.get("alwayson_scripts") or {}).get("controlnet", {})
        units = units.get("args", []) if isinstance(units, dict) else []
        for unit in units:
            if unit.get("model") not in self.controlnet_models:
                return 500, {
                    "error": "RuntimeError",
                    "detail": f"ControlNet model {unit.get('model')} not found",
                }
        seed = payload.get("seed", -1)
        seed = 1234 if seed in (-1, None) else seed
        count = payload.get("batch_size", 1)
        images = [
            base64.b64encode(png(payload["width"], payload["height"])).decode()
            for _ in range(count)
        ]
        # the extension appends the maps its preprocessors detected
        images += [base64.b64encode(png(64, 64, (0, 0, 0))).decode() for _ in units]
        info = {"seed": seed, "all_seeds": [seed + n for n in range(count)]}
        return 200, {"images": images, "parameters": payload, "info": json.dumps(info)}
