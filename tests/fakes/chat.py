"""A loopback fake of an OpenAI-compatible server: POST /v1/chat/completions
and POST /v1/moderations, with the API's answer and error shapes.

`mode`: ok; 429 (with Retry-After and the API's rate-limit error body); 500;
400 (an invalid_request_error naming the parameter); 401 (the API's key error,
which quotes part of the key); slow (answers after `slow_seconds`); empty (a
choice with no content). `reply(request) -> str` writes the answer (default:
a caption naming the persona and a Hashtags line); `flag_words` are what the
moderation endpoint flags (as harassment).
"""

import json
import time

from tests.fakes.loopback import LoopbackJSONServer

KEY_ERROR = (
    "Incorrect API key provided: sk-live-***********WXYZ. You can find your API "
    "key at https://platform.openai.com/account/api-keys."
)
CATEGORIES = (
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "self-harm",
    "sexual",
    "sexual/minors",
    "violence",
)


def default_reply(request: dict) -> str:
    system = request["messages"][0]["content"]
    name = system.split(",", 1)[0].removeprefix("You are ").rstrip(".")
    return f"Golden light and good coffee, says {name}.\nHashtags: #sunset #coffee"


class FakeChatServer(LoopbackJSONServer):
    def __init__(self):
        super().__init__()
        self.reply = default_reply
        self.flag_words: list[str] = []
        self.retry_after = "7"

    def record_request(self, method, path, headers, body):
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            payload = {}
        return {
            "path": path,
            "payload": payload,
            "authorization": headers.get("Authorization"),
        }

    @property
    def completions(self) -> list[dict]:
        return [c["payload"] for c in self.calls if c["path"].endswith("/completions")]

    def answer(self, call):
        path, payload = call["path"], call["payload"]
        if path == "/v1/moderations":
            return self._moderation(payload)
        if path != "/v1/chat/completions":
            return 404, {
                "error": {"message": "Not found", "type": "invalid_request_error"}
            }
        if self.mode == "429":
            return (
                429,
                {
                    "error": {
                        "message": "Rate limit reached for requests per min (RPM).",
                        "type": "requests",
                        "param": None,
                        "code": "rate_limit_exceeded",
                    }
                },
                {"Retry-After": self.retry_after},
            )
        if self.mode == "500":
            return 500, {
                "error": {"message": "The server had an error.", "type": "server_error"}
            }
        if self.mode == "400":
            return 400, {
                "error": {
                    "message": "This model's maximum context length is 8192 tokens.",
                    "type": "invalid_request_error",
                    "param": "messages",
                    "code": "context_length_exceeded",
                }
            }
        if self.mode == "401":
            return 401, {
                "error": {
                    "message": KEY_ERROR,
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            }
        if self.mode == "slow":
            time.sleep(self.slow_seconds)
        content = "" if self.mode == "empty" else self.reply(payload)
        prompt_tokens = sum(len(m["content"].split()) for m in payload["messages"])
        completion_tokens = len(content.split())
        return 200, {
            "id": f"chatcmpl-{len(self.calls)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": f"{payload['model']}-2026-01-01",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    def _moderation(self, payload):
        if self.mode == "500":
            return 500, {"error": {"message": "The server had an error."}}
        text = str(payload.get("input", "")).lower()
        hit = any(word in text for word in self.flag_words)
        categories = {c: (c == "harassment" and hit) for c in CATEGORIES}
        return 200, {
            "id": f"modr-{len(self.calls)}",
            "model": payload.get("model", "omni-moderation-latest"),
            "results": [
                {
                    "flagged": hit,
                    "categories": categories,
                    "category_scores": {
                        c: (0.91 if v else 0.01) for c, v in categories.items()
                    },
                }
            ],
        }
