"""A loopback fake of the Telegram Bot API (sendMessage, sendPhoto, sendVideo)."""

from tests.fakes.loopback import LoopbackJSONServer


class FakeTelegram(LoopbackJSONServer):
    """Records calls; `mode` decides the answer: ok, 429, 500, 401, 400, slow."""

    def __init__(self):
        super().__init__()
        self.retry_after = 7
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
        if self.mode == "429":
            return 429, {
                "ok": False,
                "error_code": 429,
                "description": f"Too Many Requests: retry after {self.retry_after}",
                "parameters": {"retry_after": self.retry_after},
            }
        if self.mode == "500":
            return 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}
        if self.mode == "401":
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        if self.mode == "400":
            return 400, {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: chat not found",
            }
        if call["method"] == "getChatMemberCount":
            return 200, {"ok": True, "result": self.member_count}
        self._next_id += 1
        return 200, {
            "ok": True,
            "result": {
                "message_id": self._next_id,
                "chat": {"id": -1001, "username": "luna_channel", "type": "channel"},
            },
        }
