"""A loopback fake of the Telegram Bot API (sendMessage, sendPhoto, sendVideo,
deleteMessage, getChat, getChatMemberCount).

As the Bot API documents: every answer is {"ok": true, "result": ...} or
{"ok": false, "error_code", "description"}; deleteMessage returns True for a
message the chat holds, and 400 "Bad Request: message to delete not found"
for one it does not (never sent, or deleted already).

In a test: `with FakeTelegram() as server:`. In a process of its own, with
injected faults and a journal of every call (the chaos suite):
`python -m tests.fakes.telegram --journal calls.jsonl --hang 0.01 --error500 0.05`.
"""

from email.parser import BytesParser
from email.policy import HTTP
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
        # the chat getChat describes (and every sent message names)
        self.chat = {"id": -1001, "username": "luna_channel", "type": "channel"}
        # the messages the chats hold: (chat_id, message_id) -> method, text
        self.messages: dict[tuple[str, int], dict] = {}

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
        if call["method"] == "getChat":
            return 200, {"ok": True, "result": dict(self.chat)}
        fields = form_fields(call)
        if call["method"] == "deleteMessage":
            return self._delete(fields)
        self._next_id += 1  # under the server's lock
        message_id = self._next_id
        if call["method"].startswith("send"):
            self.messages[(str(fields.get("chat_id")), message_id)] = {
                "method": call["method"],
                "text": fields.get("text") or fields.get("caption") or "",
            }
        return 200, {
            "ok": True,
            "result": {
                "message_id": message_id,
                "chat": dict(self.chat),
            },
        }

    def _delete(self, fields):
        try:
            key = (str(fields.get("chat_id")), int(fields.get("message_id")))
        except (TypeError, ValueError):
            return 400, {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: message identifier is not specified",
            }
        if self.messages.pop(key, None) is None:
            return 400, {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: message to delete not found",
            }
        return 200, {"ok": True, "result": True}

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


def form_fields(call) -> dict:
    """The plain fields of a call (url-encoded, or the non-file multipart parts)."""
    content_type, body = call["content_type"], call["body"]
    if "x-www-form-urlencoded" in content_type:
        return {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()}
    if "multipart/form-data" in content_type:
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        return {
            part.get_param(
                "name", header="content-disposition"
            ): part.get_content().strip()
            for part in message.iter_parts()
            if part.get_filename() is None
        }
    return {}


if __name__ == "__main__":
    serve_main(FakeTelegram)
