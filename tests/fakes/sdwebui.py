"""A loopback fake of the Stable Diffusion web UI API (POST /sdapi/v1/txt2img)."""

import base64
import io
import json

from PIL import Image

from tests.fakes.loopback import LoopbackJSONServer


def png(width: int, height: int, colour=(200, 80, 120)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return buffer.getvalue()


class FakeWebUI(LoopbackJSONServer):
    """Records payloads; `mode` decides the answer: ok, 500, 422, garbage, slow."""

    def record(self, path, headers, body):
        return {"path": path, "payload": json.loads(body or b"{}")}

    def answer(self, call):
        path, payload = call["path"], call["payload"]
        if path != "/sdapi/v1/txt2img":
            return 404, {"detail": "Not Found"}
        if self.mode == "500":
            return 500, {"error": "OutOfMemoryError", "detail": "CUDA out of memory"}
        if self.mode == "422":
            return 422, {"detail": "sampler_name: unknown sampler"}
        if self.mode == "garbage":
            return 200, {"images": ["not base64 at all!!"], "info": "{}"}
        seed = payload.get("seed", -1)
        seed = 1234 if seed in (-1, None) else seed
        count = payload.get("batch_size", 1)
        images = [
            base64.b64encode(png(payload["width"], payload["height"])).decode()
            for _ in range(count)
        ]
        info = {"seed": seed, "all_seeds": [seed + n for n in range(count)]}
        return 200, {"images": images, "parameters": payload, "info": json.dumps(info)}
