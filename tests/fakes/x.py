"""A loopback fake of the X API v2: posts, media upload, metrics, engagement.

As the X docs describe: POST /2/tweets answers 201 {"data": {"id", "text"}}
and 403 for a duplicate text; POST /2/media/upload takes a whole image in one
multipart request, or a video through command=INIT / APPEND (2xx, no body) /
FINALIZE (processing_info pending -> in_progress -> succeeded | failed, read
with GET ...?command=STATUS); errors are problem documents
({"title", "detail", "type", "status"}), an invalid request's with its
"errors" ({"message", "parameters"} each) under a general detail; 429 carries
x-rate-limit-reset; a token X does not take (expired, revoked, never issued)
gets 401 Unauthorized.
"""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import json
import time
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.loopback import LoopbackJSONServer, serve_main

TOKEN = "x-oauth2-user-token-not-a-secret"
# the access token a refresh hands out after TOKEN expired (tests' refresher)
REFRESHED_TOKEN = "x-oauth2-refreshed-user-token-not-a-secret"
USER_ID = "1500000000000000001"


def problem(status: int, title: str, detail: str):
    return status, {
        "title": title,
        "detail": detail,
        "type": "about:blank",
        "status": status,
    }


def invalid_request(message: str, **parameters):
    """X's 400 for a request it refuses: the general detail, and what was
    wrong in `errors` (as the v2 problem of type invalid-request)."""
    return 400, {
        "errors": [{"parameters": parameters, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }


def multipart(headers, body: bytes) -> tuple[dict, dict]:
    """(fields, files) of a multipart/form-data body."""
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {headers.get('Content-Type')}\r\n\r\n".encode() + body
    )
    fields, files = {}, {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if part.get_filename() is not None:
            files[name] = part.get_payload(decode=True)
        else:
            fields[name] = part.get_content().strip()
    return fields, files


class FakeX(LoopbackJSONServer):
    """`mode`: ok, 429, 500, 401 (every token refused: revoked), slow;
    `expired_tokens`: tokens whose 2 hours are over (401 until the client uses
    a refreshed one); `processing` the states a video walks; `refuse_posts`:
    the (status, body) every new post (POST /2/tweets) is answered with, as X
    refuses a post for a reason of its own (invalid_request, a 403 problem).
    An injected fault (`call["fault"]`: 429, 500, hang) overrides the mode for
    its call, as in the Telegram fake (the chaos suite:
    `python -m tests.fakes.x --journal calls.jsonl --hang 0.01`)."""

    keep_alive = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.tokens = {TOKEN, REFRESHED_TOKEN}
        self.expired_tokens: set[str] = set()
        self.ids = itertools.count(1_800_000_000_000_000_000)
        self.tweets: dict[str, dict] = {}
        # texts of the standing tweets that are not replies, for X's
        # duplicate-content refusal (a lookup, as a platform does it: a scan
        # of every tweet made the fake's cost grow with each post)
        self.texts: collections.Counter[str] = collections.Counter()
        self.media: dict[str, dict] = {}
        self.likes: set[str] = set()
        self.following: set[str] = set()
        self.processing = ["pending", "in_progress", "succeeded"]
        self.refuse_posts: tuple[int, dict] | None = None
        self.reset_in = self.faults.retry_after if self.faults else 42

    def record_request(self, method, path, headers, body):
        parts = urlsplit(path)
        call = {
            "method": method,
            "path": parts.path,
            "params": dict(parse_qsl(parts.query)),
            "token": headers.get("Authorization", "").removeprefix("Bearer "),
            "json": None,
            "fields": {},
            "files": {},
        }
        content_type = headers.get("Content-Type", "")
        if "json" in content_type and body:
            call["json"] = json.loads(body)
        elif "multipart/form-data" in content_type:
            call["fields"], call["files"] = multipart(headers, body)
        elif "x-www-form-urlencoded" in content_type:
            call["fields"] = dict(parse_qsl(body.decode()))
        return call

    def answer(self, call):
        mode = call.get("fault") if call.get("fault") in ("429", "500") else self.mode
        if mode == "429":
            status, body = problem(429, "Too Many Requests", "Too Many Requests")
            return (
                status,
                body,
                {
                    "x-rate-limit-limit": "100",
                    "x-rate-limit-remaining": "0",
                    "x-rate-limit-reset": str(int(time.time()) + self.reset_in),
                },
            )
        if mode == "500":
            return problem(503, "Service Unavailable", "Service Unavailable")
        token = call["token"]
        if (
            self.mode == "401"
            or token in self.expired_tokens
            or token not in self.tokens
        ):
            # X's answer to an expired, revoked or unknown OAuth 2.0 token
            return problem(401, "Unauthorized", "Unauthorized")
        method, path = call["method"], call["path"]
        if path == "/2/tweets" and method == "POST":
            return self._create(call["json"] or {})
        if path == "/2/tweets" and method == "GET":
            return self._lookup(call["params"])
        if path.startswith("/2/tweets/") and method == "DELETE":
            gone = self.tweets.pop(path.rsplit("/", 1)[1], None)
            if gone and not gone["reply_to"]:
                self.texts[gone["text"]] -= 1
            return 200, {"data": {"deleted": True}}
        if path == "/2/media/upload":
            return self._upload(call)
        if path == "/2/users/me":
            return 200, {
                "data": {
                    "id": USER_ID,
                    "username": "luna_ai",
                    "public_metrics": {
                        "followers_count": 4321,
                        "following_count": len(self.following) + 10,
                        "tweet_count": len(self.tweets),
                        "listed_count": 3,
                    },
                }
            }
        if path == f"/2/users/{USER_ID}/tweets":
            start = dt.datetime.fromisoformat(
                call["params"]["start_time"].replace("Z", "+00:00")
            )
            rows = [t for t in self.tweets.values() if t["created"] >= start]
            rows.sort(key=lambda t: t["created"], reverse=True)
            return 200, {
                "data": [
                    {
                        "id": t["id"],
                        "text": t["text"],
                        "created_at": t["created"].isoformat(),
                    }
                    for t in rows
                ],
                "meta": {"result_count": len(rows)},
            }
        if path == f"/2/users/{USER_ID}/likes":
            self.likes.add(call["json"]["tweet_id"])
            return 200, {"data": {"liked": True}}
        if path == f"/2/users/{USER_ID}/retweets":
            return 200, {"data": {"retweeted": True}}
        if path == f"/2/users/{USER_ID}/following" and method == "POST":
            self.following.add(call["json"]["target_user_id"])
            return 200, {"data": {"following": True, "pending_follow": False}}
        if path.startswith(f"/2/users/{USER_ID}/following/") and method == "DELETE":
            self.following.discard(path.rsplit("/", 1)[1])
            return 200, {"data": {"following": False}}
        if path.startswith("/2/dm_conversations/with/"):
            return 201, {"data": {"dm_conversation_id": "1-2", "dm_event_id": "777"}}
        return problem(404, "Not Found Error", f"Could not find {path}")

    def _create(self, payload):
        if self.refuse_posts is not None:
            return self.refuse_posts
        text = payload.get("text", "")
        if not text and not payload.get("media"):
            return problem(400, "Invalid Request", "text or media is required")
        for media_id in (payload.get("media") or {}).get("media_ids", []):
            item = self.media.get(media_id)
            if item is None or item["state"] != "succeeded":
                return problem(
                    400, "Invalid Request", f"Media id {media_id} is not ready"
                )
        replying = (payload.get("reply") or {}).get("in_reply_to_tweet_id")
        if not replying and self.texts[text] > 0:
            return problem(
                403,
                "Forbidden",
                "You are not allowed to create a Tweet with duplicate content.",
            )
        tweet_id = str(next(self.ids))
        if not replying:
            self.texts[text] += 1
        self.tweets[tweet_id] = {
            "id": tweet_id,
            "text": text,
            "media_ids": (payload.get("media") or {}).get("media_ids", []),
            "reply_to": replying,
            "created": dt.datetime.now(dt.UTC),
            "metrics": {
                "retweet_count": 0,
                "reply_count": 0,
                "like_count": 0,
                "quote_count": 0,
                "bookmark_count": 0,
                "impression_count": 0,
            },
        }
        return 201, {"data": {"id": tweet_id, "text": text}}

    def _lookup(self, params):
        ids = [i for i in params.get("ids", "").split(",") if i]
        if len(ids) > 100:
            return problem(400, "Invalid Request", "ids: at most 100")
        found = [
            {
                "id": i,
                "text": self.tweets[i]["text"],
                "public_metrics": self.tweets[i]["metrics"],
                **(
                    {"author_id": self.tweets[i].get("author_id", USER_ID)}
                    if "author_id" in params.get("tweet.fields", "")
                    else {}
                ),
            }
            for i in ids
            if i in self.tweets
        ]
        missing = [
            {
                "value": i,
                "detail": f"Could not find tweet with ids: [{i}].",
                "title": "Not Found Error",
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            }
            for i in ids
            if i not in self.tweets
        ]
        body = {"data": found} if found else {}
        if missing:
            body["errors"] = missing
        return 200, body

    def _upload(self, call):
        if call["method"] == "GET":
            item = self.media[call["params"]["media_id"]]
            item["polls"] += 1
            item["state"] = self.processing[
                min(item["polls"], len(self.processing) - 1)
            ]
            return 200, {"data": self._media_body(item)}
        fields = call["fields"]
        command = fields.get("command")
        if command is None:  # simple upload: the whole image in one request
            if "media" not in call["files"]:
                return problem(400, "Invalid Request", "media is required")
            media_id = str(next(self.ids))
            self.media[media_id] = {
                "id": media_id,
                "kind": "image",
                "state": "succeeded",
                "bytes": call["files"]["media"],
                "category": fields.get("media_category"),
                "polls": 0,
            }
            return 200, {
                "data": {
                    "id": media_id,
                    "media_key": f"3_{media_id}",
                    "size": len(call["files"]["media"]),
                    "expires_after_secs": 86400,
                    "image": {
                        "image_type": fields.get("media_type"),
                        "w": 1080,
                        "h": 1350,
                    },
                }
            }
        if command == "INIT":
            media_id = str(next(self.ids))
            self.media[media_id] = {
                "id": media_id,
                "kind": "video",
                "state": "uploading",
                "total": int(fields["total_bytes"]),
                "chunks": {},
                "category": fields.get("media_category"),
                "polls": 0,
            }
            return 200, {
                "data": {
                    "id": media_id,
                    "media_key": f"13_{media_id}",
                    "expires_after_secs": 1295999,
                }
            }
        item = self.media.get(fields.get("media_id", ""))
        if item is None:
            return problem(400, "Invalid Request", "media_id is invalid")
        if command == "APPEND":
            item["chunks"][int(fields["segment_index"])] = call["files"]["media"]
            return 204, None
        if command == "FINALIZE":
            size = sum(len(c) for c in item["chunks"].values())
            if size != item["total"]:
                return problem(400, "Invalid Request", "File size mismatch")
            item["state"] = self.processing[0]
            return 200, {"data": self._media_body(item)}
        return problem(400, "Invalid Request", f"Unknown command {command}")

    def _media_body(self, item):
        body = {
            "id": item["id"],
            "media_key": f"13_{item['id']}",
            "expires_after_secs": 3600,
        }
        if item["state"] != "succeeded" or item["polls"] == 0:
            info = {"state": item["state"]}
            if item["state"] in ("pending", "in_progress"):
                info["check_after_secs"] = 0
            if item["state"] == "failed":
                info["error"] = {
                    "code": 1,
                    "name": "InvalidMedia",
                    "message": "Unsupported video format",
                }
            body["processing_info"] = info
        return body

    def journal_entry(self, call, status, payload):
        data = (payload or {}).get("data") if isinstance(payload, dict) else None
        return {
            "method": f"{call['method']} {call['path']}",
            "text": (call["json"] or {}).get("text", "") if call["json"] else "",
            "tweet_id": data.get("id") if isinstance(data, dict) else None,
        }


if __name__ == "__main__":
    serve_main(FakeX)
