"""A loopback fake of Meta's Graph API: Instagram content publishing and
Facebook Pages, as their references describe them.

Instagram: content_publishing_limit ({"data": [{"quota_usage", "config":
{"quota_total", "quota_duration"}}]}), POST /{ig}/media (containers: image,
REELS, STORIES, CAROUSEL of children), GET /{container}?fields=status_code
(IN_PROGRESS -> FINISHED, or ERROR / EXPIRED), POST /{ig}/media_publish
(refused with code 9007 while the container is not FINISHED, code 9 subcode
2207042 at the 24-hour cap), GET /{ig}/media, GET /?ids=...&fields=...,
comments and replies, DELETE. A CAROUSEL container is refused while one of
its children is not FINISHED (a video child takes polls to get there).
Facebook: POST /{page}/feed | photos | videos, GET /{page}/published_posts,
GET /{video}?fields=status (the Video Status reference: video_status and the
uploading, processing and publishing phases; a video walks `fb_video_states`,
processing -> ready, or error with the processing phase's errors, and a video
in error is not among the Page's posts),
likes and comments, DELETE; the Page's fields (followers_count, fan_count)
and its insights, through the edge (GET /{page}/insights?metric=..&period=..,
or /{page}/insights/{metric}) or field expansion
(fields=insights.metric(..).period(..)), answered as the Insights reference
shows: {"data": [{"name", "period", "values": [{"value", "end_time"}],
"title", "description", "id"}]}, the last two days for period=day. Page
Insights data exists only for Pages with 100 or more likes (`page_likes`):
fewer, and the data is empty. A retired or unknown metric (page_impressions
and post_impressions since November 15, 2025) is the documented invalid
metric error (code 100), which fails the whole request.
Errors use the documented error object; throttling answers code 4 (or
`throttle_code`: 17, 32, 613, ...) with an X-Business-Use-Case-Usage header
naming estimated_time_to_regain_access (or an X-App-Usage header, which names
no time), with HTTP status `throttle_status`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.loopback import LoopbackJSONServer

TOKEN = "EAAG-graph-test-token-not-a-secret"


def error(
    status, code, message, subcode=None, transient=False, user_title=None, user_msg=None
):
    body = {
        "message": message,
        "type": "OAuthException",
        "code": code,
        "is_transient": transient,
        "fbtrace_id": "AbCdEfG",
    }
    if subcode is not None:
        body["error_subcode"] = subcode
    if user_msg is not None:  # what Meta says a person should be told
        body["error_user_title"] = user_title or ""
        body["error_user_msg"] = user_msg
    return status, {"error": body}


def stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+0000")


class Refused(Exception):
    """An error answer from deep inside a handler (a field expansion)."""

    def __init__(self, answer):
        super().__init__(answer[1]["error"]["message"])
        self.answer = answer


THROTTLE_MESSAGES = {
    4: "(#4) Application request limit reached",
    17: "(#17) User request limit reached",
    32: "(#32) Page request limit reached",
    613: "(#613) Calls to this api have exceeded the rate limit.",
    80001: "(#80001) There have been too many calls to this Page account.",
}
# Page metrics this fake knows (name: periods, title); see the Page Insights
# reference. Retired ones answer the invalid metric error.
PAGE_METRICS = {
    "page_media_view": (("day", "week", "days_28"), "Page views"),
    "page_post_engagements": (("day", "week", "days_28"), "Post engagements"),
    "page_follows": (("day",), "Page follows"),
}
RETIRED_METRICS = {"page_impressions", "page_fans", "post_impressions"}


def invalid_metric():
    return error(400, 100, "(#100) The value must be a valid insights metric")


def top_level(fields: str) -> list[str]:
    """`fields` split at the commas outside parentheses."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(fields):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(fields[start:i])
            start = i + 1
    parts.append(fields[start:])
    return [p.strip() for p in parts if p.strip()]


def expansion(fields: str, edge: str) -> dict | None:
    """The modifiers of `edge` in a field expansion ("insights.metric(a,b)
    .period(day)" -> {"metric": "a,b", "period": "day"}); None if not asked."""
    for part in top_level(fields):
        name, _, rest = part.partition(".")
        if name != edge:
            continue
        modifiers = {}
        while rest:
            key, _, rest = rest.partition("(")
            value, _, rest = rest.partition(")")
            modifiers[key.strip(".")] = value
        return modifiers
    return None


class FakeGraph(LoopbackJSONServer):
    """`mode`: ok, throttle, 500, expired (190/463), revoked (190/460),
    invalid (100), slow; `container_states` is the status_code sequence a new
    container walks through; `quota_usage`/`quota_total` the publishing window.
    The invalid mode answers `invalid_answer` to the calls `invalid_when(call)`
    picks (every call when it is None)."""

    keep_alive = True

    def __init__(self, *, version="v24.0"):
        super().__init__()
        self.version = version
        self.tokens = {TOKEN}
        self.expired_tokens: set[str] = set()
        self.container_states = ["IN_PROGRESS", "FINISHED"]
        self.invalid_when = None
        self.invalid_answer = error(400, 100, "Invalid parameter", 2207026)
        self.quota_usage = 0
        self.quota_total = 100
        self.regain_minutes = 7
        self.throttle_code = 4
        self.throttle_status = 400
        self.throttle_header = "X-Business-Use-Case-Usage"
        # the status sequence of a new VIDEO (carousel item) container; None:
        # container_states, as every other container
        self.video_states: list[str] | None = None
        # the video_status sequence a new Facebook Page video walks through
        self.fb_video_states = ["processing", "ready"]
        # Page likes (fan_count): Page Insights exist from 100 on
        self.page_likes = 999
        # the Page's daily values, oldest first; the last is the latest day
        self.page_daily = {
            "page_media_view": [1180, 1502],
            "page_post_engagements": [31, 44],
            "page_follows": [1230, 1234],
        }
        self.ids = itertools.count(17_900_000_000_000_000)
        self.objects: dict[str, dict] = {}
        self.followers = {
            "followers_count": 1234,
            "follows_count": 56,
            "media_count": 0,
        }

    # --- plumbing -----------------------------------------------------------------

    def record_request(self, method, path, headers, body):
        parts = urlsplit(path)
        params = dict(parse_qsl(parts.query))
        if body and "x-www-form-urlencoded" in headers.get("Content-Type", ""):
            params |= dict(parse_qsl(body.decode()))
        auth = headers.get("Authorization", "")
        return {
            "method": method,
            "path": parts.path,
            "params": params,
            "token": auth.removeprefix("Bearer ")
            if auth.startswith("Bearer ")
            else None,
        }

    def next_id(self) -> str:
        return str(next(self.ids))

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def answer(self, call):
        if self.mode == "throttle":
            return self._throttled()
        if self.mode == "500":
            return error(500, 2, "Service temporarily unavailable", transient=True)
        token = call["token"]
        if self.mode == "revoked" or token not in self.tokens | self.expired_tokens:
            return error(
                400,
                190,
                "Error validating access token: The session has been invalidated "
                "because the user changed their password.",
                460,
            )
        if self.mode == "expired" or token in self.expired_tokens:
            return error(
                400,
                190,
                "Error validating access token: Session has expired.",
                463,
            )
        if self.mode == "invalid" and (
            self.invalid_when is None or self.invalid_when(call)
        ):
            return self.invalid_answer
        prefix = f"/{self.version}"
        if not call["path"].startswith(prefix):
            return error(400, 2635, "Unknown API version")
        segments = [s for s in call["path"][len(prefix) :].split("/") if s]
        handler = getattr(self, f"_{call['method'].lower()}", None)
        try:
            return handler(segments, call["params"])
        except Refused as refused:
            return refused.answer

    def _throttled(self):
        code = self.throttle_code
        if self.throttle_header == "X-App-Usage":
            # the app's usage in percent: no time to regain access
            usage: dict = {"call_count": 100, "total_cputime": 20, "total_time": 30}
        else:
            kind = "pages" if code in (32, 80001) else "instagram"
            usage = {
                "17841400000000000": [
                    {
                        "type": kind,
                        "call_count": 100,
                        "total_cputime": 30,
                        "total_time": 40,
                        "estimated_time_to_regain_access": self.regain_minutes,
                    }
                ]
            }
        message = THROTTLE_MESSAGES.get(code, "Application request limit reached")
        subcode = 2207051 if code == 4 else None
        status, body = error(self.throttle_status, code, message, subcode)
        return status, body, {self.throttle_header: json.dumps(usage)}

    # --- GET ----------------------------------------------------------------------------

    def _get(self, segments, params):
        fields = params.get("fields", "")
        if not segments:  # /?ids=a,b&fields=...
            ids = [i for i in params.get("ids", "").split(",") if i]
            if len(ids) > 50:
                return error(400, 100, "Too many ids: at most 50 per request.")
            return 200, {
                i: self._fields(self.objects[i], fields)
                for i in ids
                if i in self.objects
            }
        if len(segments) >= 2 and segments[1] == "insights":
            metrics = segments[2] if len(segments) > 2 else params.get("metric", "")
            return 200, self._page_insights(segments[0], metrics, params.get("period"))
        if len(segments) == 2:
            owner, edge = segments
            if edge == "content_publishing_limit":
                return 200, {
                    "data": [
                        {
                            "quota_usage": self.quota_usage,
                            "config": {
                                "quota_total": self.quota_total,
                                "quota_duration": 86400,
                            },
                        }
                    ]
                }
            if edge in ("media", "stories", "published_posts"):
                # an account's media leave its stories out; /stories has them
                kind = "fb_post" if edge == "published_posts" else "ig_media"
                rows = [
                    o
                    for o in self.objects.values()
                    if o["kind"] == kind
                    and o["owner"] == owner
                    and (
                        kind == "fb_post"
                        or (o.get("media_type") == "STORIES") == (edge == "stories")
                    )
                ]
                rows.sort(key=lambda o: o["created"], reverse=True)
                limit = int(params.get("limit", 25))
                return 200, {"data": [self._listed(o) for o in rows[:limit]]}
            if edge in ("comments", "replies"):
                rows = [
                    o
                    for o in self.objects.values()
                    if o["kind"] == "comment" and o["parent"] == owner
                ]
                return 200, {"data": [self._listed(o) for o in rows]}
        (object_id,) = segments[:1]
        if object_id in self.objects:
            return 200, self._fields(self.objects[object_id], fields)
        if object_id.startswith("page"):
            return 200, self._page(object_id, fields)
        if object_id.startswith("1784"):
            return 200, {"id": object_id, **self.followers, "fan_count": 999}
        return error(
            400,
            100,
            f"Unsupported get request. Object with ID '{object_id}' does not exist",
        )

    def _page(self, page: str, fields: str) -> dict:
        out: dict = {"id": page}
        wanted = set(top_level(fields)) if fields else {"name"}
        if "followers_count" in wanted:
            out["followers_count"] = self.followers["followers_count"]
        if "fan_count" in wanted:
            out["fan_count"] = self.page_likes
        if "name" in wanted:
            out["name"] = "Luna AI"
        asked = expansion(fields, "insights")
        if asked is not None:
            insights = self._page_insights(
                page, asked.get("metric", ""), asked.get("period")
            )
            if insights["data"]:  # an empty edge is left out of the answer
                out["insights"] = insights
        return out

    def _page_insights(self, page: str, metrics: str, period: str | None) -> dict:
        names = [m for m in metrics.split(",") if m]
        if not names:
            raise Refused(
                error(
                    400,
                    3001,
                    "No metric was specified to be fetched. Please specify one or "
                    "more metrics to be fetched and try again.",
                    1504028,
                )
            )
        if any(n not in PAGE_METRICS for n in names):
            raise Refused(invalid_metric())
        if self.page_likes < 100:
            return {"data": []}  # Page Insights need 100 or more likes
        today = self.now().replace(hour=8, minute=0, second=0, microsecond=0)
        rows = []
        for name in names:
            periods, title = PAGE_METRICS[name]
            for each in periods if period is None else [period]:
                if each not in periods:
                    continue
                daily = self.page_daily.get(name, [0, 0])
                days = len(daily)
                values = [
                    {
                        "value": value,
                        "end_time": stamp(today - dt.timedelta(days=days - 1 - i)),
                    }
                    for i, value in enumerate(daily)
                ]
                if each != "day":  # the sums of a week or 28 days
                    values = [{**v, "value": v["value"] * 7} for v in values]
                rows.append(
                    {
                        "name": name,
                        "period": each,
                        "values": values,
                        "title": f"{title} ({each})",
                        "description": f"{each.capitalize()}: {title.lower()}.",
                        "id": f"{page}/insights/{name}/{each}",
                    }
                )
        return {"data": rows}

    def _listed(self, o):
        row = {"id": o["id"], "timestamp": stamp(o["created"])}
        if o["kind"] == "fb_post":
            page, _, post = o["id"].partition("_")
            row = {
                "id": o["id"],
                "created_time": stamp(o["created"]),
                "permalink_url": f"https://www.facebook.com/{page}/posts/{post}",
            }
            if o.get("caption"):
                row["message"] = o["caption"]
        elif o["kind"] == "comment":
            row |= {"text": o["caption"], "username": o.get("username")}
        else:
            row |= {"caption": o.get("caption"), "permalink": o.get("permalink")}
        return row

    def _fields(self, o, fields: str) -> dict:
        if o["kind"] == "container":
            state = o["states"][min(o["polls"], len(o["states"]) - 1)]
            o["polls"] += 1
            o["status_code"] = state
            body = {"id": o["id"], "status_code": state}
            if state == "ERROR":
                body["status"] = "Error: 2207026: unsupported video format"
            return body
        out = {"id": o["id"]}
        if o.get("edge") == "videos" and "status" in top_level(fields):
            out["status"] = self._video_status(o)
        if "permalink" in fields:
            out["permalink"] = o.get("permalink")
        if "like_count" in fields:
            out["like_count"] = o["likes"]
            out["comments_count"] = o["comments"]
        if "insights" in fields:
            values = {
                "views": o["views"],
                "shares": o["shares"],
                "post_media_view": o["views"],
            }
            asked = (expansion(fields, "insights") or {}).get("metric", "").split(",")
            if any(n not in values for n in asked):
                raise Refused(invalid_metric())
            out["insights"] = {
                "data": [
                    {"name": n, "period": "lifetime", "values": [{"value": values[n]}]}
                    for n in asked
                ]
            }
        if "reactions" in fields:
            out["reactions"] = {"data": [], "summary": {"total_count": o["likes"]}}
            out["comments"] = {"data": [], "summary": {"total_count": o["comments"]}}
            out["shares"] = {"count": o["shares"]}
        return out

    def _video_status(self, o) -> dict:
        states = o["video_states"]
        state = states[min(o["polls"], len(states) - 1)]
        o["polls"] += 1
        done = {"status": "complete"}
        status = {
            "video_status": state,
            "uploading_phase": {"status": "complete", "bytes_transferred": 1048576},
            "processing_phase": {"status": "in_progress"},
            "publishing_phase": {"status": "not_started"},
        }
        if state == "ready":
            status["processing_phase"] = done
            status["publishing_phase"] = {
                "status": "complete",
                "publish_status": "published",
                "publish_time": int(o["created"].timestamp()),
            }
        elif state == "error":
            status["processing_phase"] = {
                "status": "error",
                "errors": [
                    {
                        "code": 1363008,
                        "message": "The video file you selected is in a format "
                        "that we don't support.",
                    }
                ],
            }
            o["kind"] = "fb_video_error"  # never on the Page
        return status

    # --- POST ---------------------------------------------------------------------------

    def _post(self, segments, params):
        owner, edge = segments[0], segments[1] if len(segments) > 1 else ""
        if edge == "media":
            return self._create_container(owner, params)
        if edge == "media_publish":
            return self._publish(owner, params)
        if edge in ("feed", "photos", "videos"):
            return self._page_post(owner, edge, params)
        if edge in ("comments", "replies"):
            if not params.get("message"):
                return error(400, 100, "(#100) The parameter message is required")
            cid = self.next_id()
            self.objects[cid] = {
                "id": cid,
                "kind": "comment",
                "parent": owner,
                "caption": params["message"],
                "username": "luna_ai",
                "created": self.now(),
            }
            return 200, {"id": cid}
        if edge == "likes":
            target = self.objects.get(owner)
            if target is None:
                return error(400, 100, "Object does not exist")
            target["likes"] += 1
            return 200, {"success": True}
        return error(400, 100, "Unsupported post request.")

    def _create_container(self, owner, params):
        media_type = params.get("media_type", "IMAGE")
        if media_type == "CAROUSEL":
            children = [c for c in params.get("children", "").split(",") if c]
            if not 2 <= len(children) <= 10 or any(
                c not in self.objects for c in children
            ):
                return error(400, 100, "Invalid children", 2207023)
            if any(self.objects[c]["status_code"] != "FINISHED" for c in children):
                return error(400, 9007, "Media ID is not available", 2207027)
        elif media_type in ("REELS", "VIDEO") or (
            media_type == "STORIES" and "video_url" in params
        ):
            if not params.get("video_url"):
                return error(400, 100, "The parameter video_url is required", 2207026)
        elif not params.get("image_url"):
            return error(400, 100, "The parameter image_url is required")
        states = list(self.container_states)
        if media_type == "VIDEO" and self.video_states is not None:
            states = list(self.video_states)
        cid = self.next_id()
        self.objects[cid] = {
            "id": cid,
            "kind": "container",
            "owner": owner,
            "params": params,
            "states": states,
            "polls": 0,
            "status_code": states[0],
        }
        return 200, {"id": cid}

    def _publish(self, owner, params):
        container = self.objects.get(params.get("creation_id", ""))
        if container is None or container["kind"] != "container":
            return error(400, 100, "Invalid creation_id")
        if self.quota_usage >= self.quota_total:
            return error(
                400,
                9,
                "Application request limit reached",
                2207042,
            )
        if container["status_code"] != "FINISHED":
            return error(400, 9007, "Media ID is not available", 2207027)
        container["status_code"] = "PUBLISHED"
        media_id = self.next_id()
        self.quota_usage += 1
        self.followers["media_count"] += 1
        self.objects[media_id] = {
            "id": media_id,
            "kind": "ig_media",
            "owner": owner,
            "caption": container["params"].get("caption"),
            "media_type": container["params"].get("media_type", "IMAGE"),
            "permalink": (
                f"https://www.instagram.com/stories/luna.ai/{media_id}/"
                if container["params"].get("media_type") == "STORIES"
                else f"https://www.instagram.com/p/{media_id[-8:]}/"
            ),
            "created": self.now(),
            "likes": 0,
            "comments": 0,
            "shares": 0,
            "views": 0,
        }
        return 200, {"id": media_id}

    def _page_post(self, page, edge, params):
        if edge == "feed" and not params.get("message") and not params.get("link"):
            return error(400, 100, "(#100) The parameter message or link is required")
        if edge == "photos" and not params.get("url"):
            return error(400, 324, "(#324) Requires upload file")
        if edge == "videos" and not params.get("file_url"):
            return error(400, 100, "(#100) file_url is required")
        object_id = self.next_id()
        post_id = f"{page}_{object_id}"
        text = (
            params.get("message") or params.get("caption") or params.get("description")
        )
        self.objects[post_id] = {
            "id": post_id,
            "kind": "fb_post",
            "owner": page,
            "caption": text,
            "edge": edge,
            "params": params,
            "created": self.now(),
            "likes": 0,
            "comments": 0,
            "shares": 0,
            "views": 0,
        }
        if edge == "photos":
            return 200, {"id": object_id, "post_id": post_id}
        if edge == "videos":
            video = self.objects[post_id]
            video |= {"video_states": list(self.fb_video_states), "polls": 0}
            self.objects[object_id] = video
            return 200, {"id": object_id}
        return 200, {"id": post_id}

    # --- DELETE -----------------------------------------------------------------------

    def _delete(self, segments, params):
        object_id = segments[0]
        if self.objects.pop(object_id, None) is None:
            return error(400, 100, f"Object with ID '{object_id}' does not exist")
        return 200, {"success": True}

    # --- for tests ----------------------------------------------------------------------

    def published(self, kind="ig_media") -> list[dict]:
        # a Page video is one object under two ids (the video's and its post's)
        unique = {id(o): o for o in self.objects.values()}
        return [o for o in unique.values() if o["kind"] == kind]

    @staticmethod
    def added_metrics(ids: list[str]) -> dict[str, dict]:
        """The numbers `add_posts` gave these posts, as fetch_post_metrics
        answers them."""
        return {
            pid: {"likes": n, "comments": n % 7, "shares": n % 3, "views": 10 * n}
            for n, pid in enumerate(ids)
        }

    def lookup_sizes(self) -> list[int]:
        """How many ids each multi-id lookup (GET /?ids=...) asked for."""
        return [
            len(c["params"]["ids"].split(","))
            for c in self.calls
            if c["path"] == f"/{self.version}/"
        ]

    def add_posts(self, kind: str, owner: str, count: int) -> list[str]:
        """`count` published posts (ig_media or fb_post) with numbers, made
        here, not through a publish; their ids in order."""
        ids = []
        for n in range(count):
            object_id = self.next_id()
            if kind == "fb_post":
                object_id = f"{owner}_{object_id}"
            self.objects[object_id] = {
                "id": object_id,
                "kind": kind,
                "owner": owner,
                "caption": f"post {n}",
                "permalink": f"https://www.instagram.com/p/{object_id[-8:]}/",
                "created": self.now(),
                "likes": n,
                "comments": n % 7,
                "shares": n % 3,
                "views": 10 * n,
            }
            ids.append(object_id)
        return ids
