"""A loopback fake of the Telegram Bot API (sendMessage, sendPhoto, sendVideo).

In a test: `with FakeTelegram() as server:`. In a process of its own, with
injected faults and a journal of every call (the chaos suite):
`python -m tests.fakes.telegram --journal calls.jsonl --hang 0.01 --error500 0.05`.
"""

from urllib.parse import parse_qs

from tests.fakes.loopback import LoopbackJSONServer, serve_main


class FakeTelegram(LoopbackJSONServer):
    """Records calls; `mode` decides the answer: ok, 429, 500, 401, 400, slow.
    An injected fault (`call["fault"]`) overrides the mode for its call."""

    keep_alive = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.retry_after = self.faults.retry_after if self.faults else 7
        self.member_count = 2048
        self._next_id = 100

    def record(self, path, headers, body):
        _, bot, method = path.split("/", 2)
        return {
            "token": bot.removeprefix("bot"),
            "method": method,
            "body": body,
            "content_type": headers.get("Content-Type", ""),
        }

    def answer(self, call):
        mode = self.mode
        if call.get("fault") in ("429", "500"):
            mode = call["fault"]
        if mode == "429":
            return 429, {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {self.retry_after}",
                "parameters": {"retry_after": self.retry_after},
            }
        if mode == "500":
            return 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}
        if mode == "401":
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        if mode == "400":
            return 400, {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: chat not found",
            }
        if call["method"] == "getChatMemberCount":
            return 200, {"ok": True, "result": self.member_count}
        self._next_id += 1  # under the server's lock
        message_id = self._next_id
        return 200, {
            "ok": True,
            "result": {
                "message_id": message_id,
                "chat": {"id": -1001, "username": "luna_channel", "type": "channel"},
            },
        }

    def journal_entry(self, call, status, payload):
        body = call["body"]
        if "x-www-form-urlencoded" in call["content_type"]:
            fields = {
                k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()
            }
            text = fields.get("text") or fields.get("caption") or ""
            chat_id = fields.get("chat_id")
        else:
            # multipart (sendPhoto/sendVideo): the caption is in there somewhere
            text, chat_id = body[:4000].decode(errors="replace"), None
        result = payload.get("result") or {}
        return {
            "method": call["method"],
            "chat_id": chat_id,
            "text": text,
            "message_id": result.get("message_id"),
        }


if __name__ == "__main__":
    serve_main(FakeTelegram)
