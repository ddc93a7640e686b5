"""A loopback fake of the YouTube Data API v3 and its resumable upload.

As the resumable upload guide describes: POST /upload/youtube/v3/videos
?uploadType=resumable with the metadata answers 200 and a Location (the
session URI); each PUT of `Content-Range: bytes a-b/N` answers 308 with
`Range: bytes=0-b` until the last, which answers 200 with the video
resource; `Content-Range: bytes */N` asks where the session stands (308 or
the finished video). Errors use the Google error object ({"error": {"code",
"message", "errors": [{"reason", "domain"}]}}): 401 authError ("Invalid
Credentials", with a WWW-Authenticate header) for a token that expired or
was revoked, 403 quotaExceeded, 5xx backendError, and the videos.insert 400s
for metadata YouTube refuses (invalidTitle: empty, over 100 characters, < or
>; invalidDescription: over 5000 UTF-8 bytes, < or >; invalidTags: over 500
characters, commas between tags and quotes around a tag with a space
counted).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.loopback import LoopbackJSONServer

TOKEN = "ya29.youtube-test-token-not-a-secret"
EXPIRED = "ya29.youtube-expired-token-not-a-secret"
CHANNEL = "UCfake0000000000000000001"
RANGE = re.compile(r"bytes (\*|(\d+)-(\d+))/(\d+|\*)")


def google_error(status, reason, message, domain="youtube.video", **where):
    return status, {
        "error": {
            "code": status,
            "message": message,
            "errors": [
                {"message": message, "domain": domain, "reason": reason, **where}
            ],
        }
    }


def invalid_credentials():
    """Google's answer to an access token that expired or was revoked."""
    status, body = google_error(
        401,
        "authError",
        "Invalid Credentials",
        domain="global",
        locationType="header",
        location="Authorization",
    )
    challenge = 'Bearer realm="https://accounts.google.com/", error="invalid_token"'
    return status, body, {"WWW-Authenticate": challenge}


def tags_length(tags) -> int:
    """snippet.tags as YouTube counts its 500 characters."""
    quoted = [len(t) + 2 if " " in t else len(t) for t in tags]
    return sum(quoted) + max(len(quoted) - 1, 0)


# dotted-path target for settings.PLATFORM_TOKEN_REFRESHER: Google's token
# endpoint answering a refresh with TOKEN (the refresher stores it)
REFRESHED: list[str] = []


def refresh_to_valid_token(account) -> bool:
    REFRESHED.append(str(account.pk))
    account.auth_data = {**(account.auth_data or {}), "access_token": TOKEN}
    return True


class FakeYouTube(LoopbackJSONServer):
    """`mode`: ok, quota, 401 (every token refused), 500, slow (see
    slow_when); a token in `expired_tokens` (or in no set) is refused;
    `refuse_metadata`: (reason, message) of a 400 for every new upload, as
    YouTube answers metadata it refuses for a reason of its own (for example
    invalidVideoMetadata), whatever the adapter checked first."""

    def __init__(self):
        super().__init__()
        self.tokens = {TOKEN}
        self.expired_tokens: set[str] = set()
        self.sessions: dict[str, dict] = {}
        self.videos: dict[str, dict] = {}
        self.comments: dict[str, dict] = {}
        self.subscriptions: dict[str, str] = {}
        self.ratings: dict[str, str] = {}
        self.counter = itertools.count(1)
        self.refuse_metadata: tuple[str, str] | None = None

    def record_request(self, method, path, headers, body):
        parts = urlsplit(path)
        return {
            "method": method,
            "path": parts.path,
            "params": dict(parse_qsl(parts.query)),
            "token": headers.get("Authorization", "").removeprefix("Bearer "),
            "content_range": headers.get("Content-Range"),
            "body": body,
            "json": json.loads(body)
            if body and "json" in headers.get("Content-Type", "")
            else None,
        }

    def answer(self, call):
        if self.mode == "500":
            return google_error(503, "backendError", "Backend Error", domain="global")
        if (
            self.mode == "401"
            or call["token"] in self.expired_tokens
            or call["token"] not in self.tokens
        ):
            return invalid_credentials()
        if self.mode == "quota":
            return google_error(
                403,
                "quotaExceeded",
                "The request cannot be completed because you have exceeded your quota.",
                domain="youtube.quota",
            )
        path, method, params = call["path"], call["method"], call["params"]
        if path == "/upload/youtube/v3/videos":
            if method == "POST" and params.get("uploadType") == "resumable":
                return self._open(call)
            if method == "PUT":
                return self._chunk(call)
        if path == "/youtube/v3/videos" and method == "GET":
            ids = params.get("id", "").split(",")
            if len(ids) > 50:
                return google_error(400, "invalidParameter", "id: at most 50")
            return 200, {
                "kind": "youtube#videoListResponse",
                "items": [
                    self._resource(self.videos[i]) for i in ids if i in self.videos
                ],
            }
        if path == "/youtube/v3/videos" and method == "DELETE":
            if self.videos.pop(params["id"], None) is None:
                return google_error(404, "videoNotFound", "Video not found")
            return 204, None
        if path == "/youtube/v3/videos/rate":
            self.ratings[params["id"]] = params["rating"]
            return 204, None
        if path == "/youtube/v3/channels":
            return 200, {
                "items": [
                    {
                        "id": CHANNEL,
                        "statistics": {
                            "viewCount": "1000",
                            "subscriberCount": "321",
                            "hiddenSubscriberCount": False,
                            "videoCount": str(len(self.videos)),
                        },
                    }
                ]
            }
        if path == "/youtube/v3/search":
            rows = sorted(
                self.videos.values(), key=lambda v: v["created"], reverse=True
            )
            return 200, {
                "items": [
                    {
                        "id": {"kind": "youtube#video", "videoId": v["id"]},
                        "snippet": {
                            "title": v["snippet"]["title"],
                            "publishedAt": v["created"]
                            .isoformat()
                            .replace("+00:00", "Z"),
                        },
                    }
                    for v in rows[: int(params.get("maxResults", 5))]
                ]
            }
        if path in ("/youtube/v3/commentThreads", "/youtube/v3/comments"):
            comment_id = f"Ug{next(self.counter)}"
            self.comments[comment_id] = call["json"]["snippet"]
            return 200, {"kind": "youtube#comment", "id": comment_id}
        if path == "/youtube/v3/subscriptions":
            if method == "POST":
                sid = f"sub{next(self.counter)}"
                self.subscriptions[sid] = call["json"]["snippet"]["resourceId"][
                    "channelId"
                ]
                return 200, {"id": sid}
            if method == "GET":
                return 200, {
                    "items": [
                        {"id": sid}
                        for sid, channel in self.subscriptions.items()
                        if channel == params.get("forChannelId")
                    ]
                }
            if method == "DELETE":
                self.subscriptions.pop(params["id"], None)
                return 204, None
        return google_error(
            404, "notFound", f"{method} {path} not found", domain="global"
        )

    def _open(self, call):
        metadata = call["json"] or {}
        if self.refuse_metadata is not None:
            return google_error(400, *self.refuse_metadata)
        refused = self._refused_metadata(metadata.get("snippet") or {})
        if refused is not None:
            return refused
        upload_id = f"up{next(self.counter)}"
        self.sessions[upload_id] = {"metadata": metadata, "data": b"", "video": None}
        return (
            200,
            {},
            {
                "Location": f"{self.url}/upload/youtube/v3/videos?uploadType=resumable&upload_id={upload_id}"
            },
        )

    @staticmethod
    def _refused_metadata(snippet):
        title = snippet.get("title") or ""
        if not title or len(title) > 100 or "<" in title or ">" in title:
            return google_error(
                400,
                "invalidTitle",
                "The request metadata specifies an invalid or empty video title.",
            )
        description = snippet.get("description") or ""
        if (
            len(description.encode("utf-8")) > 5000
            or "<" in description
            or ">" in description
        ):
            return google_error(
                400,
                "invalidDescription",
                "The request metadata specifies an invalid video description.",
            )
        if tags_length(snippet.get("tags") or []) > 500:
            return google_error(
                400,
                "invalidTags",
                "The request metadata specifies invalid video keywords.",
            )
        return None

    def add_video(self, statistics):
        """A video already on the channel (no upload), with its statistics."""
        return self._create_video(
            {"metadata": {"snippet": {"title": "old"}}, "data": b""},
            statistics=statistics,
        )

    def _chunk(self, call):
        session = self.sessions.get(call["params"].get("upload_id", ""))
        if session is None:
            return google_error(404, "notFound", "Upload session not found")
        match = RANGE.match(call["content_range"] or "")
        if match is None:
            return google_error(400, "badContent", "Content-Range required")
        total = match[4]
        if match[1] != "*":
            start = int(match[2])
            if start != len(session["data"]):
                return google_error(400, "badContent", "Unexpected offset")
            session["data"] += call["body"]
        if (
            session["video"] is None
            and total != "*"
            and len(session["data"]) == int(total)
        ):
            session["video"] = self._create_video(session)
        if session["video"] is not None:
            return 200, self._resource(session["video"])
        if not session["data"]:
            return 308, None
        return 308, None, {"Range": f"bytes=0-{len(session['data']) - 1}"}

    def _create_video(self, session, statistics=None):
        video_id = f"vid{next(self.counter):08d}"
        video = {
            "id": video_id,
            "snippet": session["metadata"]["snippet"],
            "status": session["metadata"].get("status", {}),
            "bytes": len(session["data"]),
            "created": dt.datetime.now(dt.UTC),
            "statistics": statistics
            or {"viewCount": "0", "likeCount": "0", "commentCount": "0"},
        }
        self.videos[video_id] = video
        return video

    def _resource(self, video):
        return {
            "kind": "youtube#video",
            "id": video["id"],
            "snippet": {"channelId": video.get("channel", CHANNEL), **video["snippet"]},
            "status": {**video["status"], "uploadStatus": "uploaded"},
            "statistics": video["statistics"],
        }
