"""YouTube Data API v3 through google-api-python-client.

auth_data: {"access_token": "...", "channel_id": "..."} (the channel falls
back to the account's account_id). The client is built from its bundled
discovery document with `rootUrl` set to settings.YOUTUBE_API_ROOT, so tests
(and staging) point it at a loopback fake; the token goes in the
Authorization header of every request, the resumable upload's PUTs included.

Publishing is a resumable upload (videos.insert, uploadType=resumable) in
chunks of YOUTUBE_UPLOAD_CHUNK_BYTES. When a chunk's PUT gets no answer, the
client asks the upload session where it stands (`Content-Range: bytes */N`):
a finished upload answers with the video, so a lost answer to the last chunk
is recovered inside the call; only when that question gets no answer either
is the outcome unknown, and post_exists looks the video up among the
channel's recent uploads by title. Only video is published; post_type
"short" adds #Shorts and must be vertical or square, at most 3 minutes.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import time
import zoneinfo
from collections.abc import Callable, Iterable
from functools import cache, lru_cache
from typing import Any
from urllib.parse import parse_qs

import httplib2
from django.conf import settings
from googleapiclient.discovery import build_from_document
from googleapiclient.discovery_cache import get_static_doc
from googleapiclient.errors import HttpError, ResumableUploadError
from googleapiclient.http import MediaFileUpload

from platforms.adapters import (
    Account,
    Action,
    AdapterError,
    CredentialsRejected,
    OutcomeUnknown,
    PermanentError,
    PublishRequest,
    PublishResult,
    RateLimited,
    Support,
    link_parts,
    post_link,
)
from platforms.adapters.http import HttpAdapter
from platforms.adapters.rules import MediaLimits, PlatformRules, PostDraft, PostTypeRule

GB = 1024**3
VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{11}")
VIDEO = MediaLimits(max_bytes=256 * GB, max_seconds=12 * 3600)
SHORT = MediaLimits(
    max_bytes=256 * GB,
    max_seconds=180,
    max_ratio=1.0,
    ratio_label="vertical or square (at most 1:1)",
)


def as_sent(text: str) -> str:
    """A title's or description's text as sent: YouTube refuses < and >."""
    return text.replace("<", "").replace(">", "")


def description_bytes(text: str) -> int:
    """The description's length as YouTube counts it: UTF-8 bytes (at most
    5000), of the text as sent."""
    return len(as_sent(text).encode("utf-8"))


# snippet.tags: at most 500 characters, counting the commas between tags and
# the quotation marks around a tag with a space (videos resource reference);
# the adapter sends the first TAGS_SENT hashtags as tags.
TAGS_MAX_LENGTH = 500
TAGS_SENT = 30


def tags_of(hashtags: Iterable[str]) -> list[str]:
    """The tags a post's hashtags become (snippet.tags)."""
    return [t.lstrip("#") for t in hashtags if t][:TAGS_SENT]


def tags_length(tags: list[str]) -> int:
    return sum(len(t) + (2 if " " in t else 0) for t in tags) + max(len(tags) - 1, 0)


def _tag_problems(draft: PostDraft) -> dict[str, list[str]]:
    length = tags_length(tags_of(draft.hashtags))
    if length <= TAGS_MAX_LENGTH:
        return {}
    return {
        "hashtags": [
            f"YouTube takes at most {TAGS_MAX_LENGTH} characters of tags (the "
            f"first {TAGS_SENT} hashtags, with a comma between each); these make "
            f"{length}: use fewer or shorter hashtags."
        ]
    }


RULES = PlatformRules(
    label="YouTube",
    default_post_type="video",
    aliases={"post": "video", "reel": "short"},
    caption_max=5000,
    caption_length=description_bytes,
    caption_unit="UTF-8 bytes",
    check=_tag_problems,
    # more than 60 hashtags and YouTube ignores all of them
    hashtags_max=60,
    post_types={
        "video": PostTypeRule(
            media={"video": VIDEO}, note="YouTube publishes video only."
        ),
        "short": PostTypeRule(
            media={"video": SHORT}, note="YouTube publishes video only."
        ),
    },
)
TRANSPORT_ERRORS = (
    TimeoutError,
    socket.timeout,
    ConnectionError,
    httplib2.HttpLib2Error,
    OSError,
)
QUOTA_REASONS = {"quotaExceeded", "dailyLimitExceeded", "uploadLimitExceeded"}
RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}


@cache
def _discovery_document() -> dict:
    return json.loads(get_static_doc("youtube", "v3"))


@lru_cache(maxsize=8)
def _service(root_url: str) -> Any:
    """The YouTube service at `root_url`, built once per process. Built per
    adapter (a post), its classes and methods made from the discovery
    document cost 2-3 ms of CPU each time and the worker's memory grew with
    them: 219 MB after 5,000 posts against 107-118 for the other adapters.
    Its own Http is never used: every request is given the adapter's."""
    document = dict(_discovery_document())
    document["rootUrl"] = document["mtlsRootUrl"] = root_url
    return build_from_document(document, http=httplib2.Http())


def _seconds_to_pacific_midnight() -> int:
    """YouTube's daily quota resets at midnight Pacific time."""
    pacific = zoneinfo.ZoneInfo("America/Los_Angeles")
    now = dt.datetime.now(pacific)
    midnight = (now + dt.timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return max(60, int((midnight - now).total_seconds()))


class _BearerHttp(httplib2.Http):
    """httplib2 with the account's token on every request and no 308 redirects
    (308 is the resumable protocol's "resume incomplete")."""

    def __init__(self, token: Callable[[], str], *, timeout: float):
        super().__init__(timeout=timeout)
        self.redirect_codes: set[int] = set(self.redirect_codes) - {308}
        self._token = token

    def request(  # httplib2 is untyped (Any): so is what it answers
        self,
        uri: str,
        method: str = "GET",
        body: Any = None,
        headers: dict[str, str] | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        headers = dict(headers or {})
        headers["authorization"] = f"Bearer {self._token()}"
        return super().request(uri, method, body, headers, *args, **kwargs)


class YouTubeAdapter(HttpAdapter):
    """HttpAdapter for the credentials, the refresh and the media checks; the
    requests themselves go through google-api-python-client."""

    platform = "youtube"
    service = "YouTube"
    rules = RULES
    support = Support(
        post_types=("video", "short"),
        delete=True,
        stats=True,
        post_metrics=True,
        engagement={
            "like": True,
            "comment": True,
            "reply": True,
            "follow": True,  # a subscription
            "unfollow": True,
            "share": "YouTube's API has no share endpoint",
            "message": "YouTube has no direct messages",
        },
    )
    metrics_batch_size = 50  # videos.list takes up to 50 ids

    def __init__(self, account: Account):
        super().__init__(account)
        self._http: _BearerHttp | None = None

    @property
    def call_timeout(self) -> float:
        return settings.YOUTUBE_UPLOAD_TIMEOUT + self.request_timeout

    def service_client(self) -> Any:
        """The google-api-python-client service, shared by the process; the
        requests it makes go out through this adapter's `http_client()`."""
        return _service(settings.YOUTUBE_API_ROOT)

    def http_client(self) -> _BearerHttp:
        """This adapter's connection, with its account's token: passed to each
        request's execute() and next_chunk(), the library's way of sharing one
        service between threads (an httplib2.Http is not thread-safe)."""
        if self._http is None:
            self._http = _BearerHttp(self.access_token, timeout=self.request_timeout)
        return self._http

    def channel(self) -> str | None:
        return self.auth.get("channel_id") or self.account.account_id

    # --- calls and errors -------------------------------------------------------

    def _execute(
        self, make_request: Callable[..., Any], *, what: str, sends: bool = False
    ) -> Any:
        """Run one API request; a 401 refreshes the token once and runs it again."""
        while True:
            try:
                return make_request(self.service_client()).execute(
                    http=self.http_client(), num_retries=0
                )
            except HttpError as exc:
                if exc.resp.status == 401 and self.refresh_credentials():
                    continue
                raise self._error(exc, what) from None
            except TRANSPORT_ERRORS as exc:
                if sends and isinstance(exc, TimeoutError | socket.timeout):
                    raise OutcomeUnknown(
                        f"YouTube {what}: no answer in {self.request_timeout:g} s"
                    ) from None
                raise AdapterError(f"YouTube {what}: {type(exc).__name__}") from None

    def _error(self, exc: HttpError, what: str) -> AdapterError:
        status = exc.resp.status
        try:
            error = json.loads(exc.content or b"{}").get("error") or {}
        except ValueError:
            error = {}
        reasons = {
            e.get("reason") for e in error.get("errors") or [] if isinstance(e, dict)
        }
        message = str(error.get("message") or exc.resp.reason or "")[:300]
        if status == 401:
            return CredentialsRejected(f"YouTube refused the token: {message}")
        if reasons & QUOTA_REASONS:
            wait = _seconds_to_pacific_midnight()
            return RateLimited(
                f"YouTube quota exhausted ({what}): {message}; it resets at "
                "midnight Pacific time.",
                wait,
            )
        if status == 429 or reasons & RATE_REASONS:
            wait = int(exc.resp.get("retry-after") or 60)
            return RateLimited(f"YouTube rate limit ({what}): {message}", wait)
        if (
            "insufficientPermissions" in reasons
            or "forbidden" in reasons
            and ("scope" in message.lower())
        ):
            return CredentialsRejected(
                f"YouTube permission missing ({what}): {message}"
            )
        if status >= 500:
            return AdapterError(f"YouTube server error {status} ({what}): {message}")
        return PermanentError(f"YouTube refused {what}: {message}")

    # --- publishing ------------------------------------------------------------

    @classmethod
    def title_of(cls, request: PublishRequest) -> str:
        first = (request.caption or "").strip().splitlines() or [""]
        # YouTube refuses < and > in titles and descriptions
        title = as_sent(first[0]).strip() or "Untitled"
        short = cls.rules.post_type_of(request.post_type) == "short"
        suffix = " #Shorts" if short and "#shorts" not in title.lower() else ""
        return title[: 100 - len(suffix)].rstrip() + suffix

    def publish(self, request: PublishRequest) -> PublishResult:
        problems = self.validate(request.draft)
        if problems:
            raise PermanentError(" ".join(m for ms in problems.values() for m in ms))
        if request.media_type != "video" or not request.media_path:
            raise PermanentError("YouTube publishes video only.")
        real = self.media_file(request.media_path)
        description = as_sent(request.text)
        body = {
            "snippet": {
                "title": self.title_of(request),
                "description": description,
                "tags": tags_of(request.hashtags),
                "categoryId": "22",
            },
            "status": {
                "privacyStatus": settings.YOUTUBE_PRIVACY_STATUS,
                "selfDeclaredMadeForKids": False,
            },
        }
        media = MediaFileUpload(
            str(real),
            mimetype=(request.media_info and request.media_info.mime_type)
            or "video/mp4",
            chunksize=settings.YOUTUBE_UPLOAD_CHUNK_BYTES,
            resumable=True,
        )
        video = self._upload(body, media)
        video_id = str(video["id"])
        return PublishResult(video_id, f"https://www.youtube.com/watch?v={video_id}")

    def _upload(self, body: dict, media: MediaFileUpload) -> dict:
        deadline = time.monotonic() + settings.YOUTUBE_UPLOAD_TIMEOUT
        while True:  # a 401 at the start refreshes once and starts again
            upload = (
                self.service_client()
                .videos()
                .insert(part="snippet,status", body=body, media_body=media)
            )
            try:
                return self._drive(upload, media, deadline)
            except HttpError as exc:
                if (
                    exc.resp.status == 401
                    and upload.resumable_uri is None
                    and self.refresh_credentials()
                ):
                    continue
                raise self._error(exc, "upload") from None
            except ResumableUploadError as exc:
                raise self._error(exc, "upload") from None

    def _drive(self, upload: Any, media: MediaFileUpload, deadline: float) -> dict:
        size = media.size()
        failures = 0
        while True:
            last_chunk = upload.resumable_progress + media.chunksize() >= size
            try:
                _, video = upload.next_chunk(http=self.http_client(), num_retries=0)
            except TRANSPORT_ERRORS as exc:
                if upload.resumable_uri is None:
                    # the session was not even opened: nothing was uploaded
                    raise AdapterError(
                        f"YouTube upload: {type(exc).__name__} opening the session"
                    ) from None
                failures += 1
                if failures <= 2 and time.monotonic() < deadline:
                    continue  # next_chunk first asks the session where it stands
                if last_chunk:
                    raise OutcomeUnknown(
                        "YouTube upload: the last part was sent and no answer came "
                        "back; the session could not be asked either."
                    ) from None
                raise AdapterError(
                    f"YouTube upload interrupted ({type(exc).__name__}); the video "
                    "was not complete, it is uploaded again on the retry."
                ) from None
            if video is not None:
                return video
            failures = 0
            if time.monotonic() >= deadline:
                raise AdapterError(
                    f"YouTube upload took longer than {settings.YOUTUBE_UPLOAD_TIMEOUT:g}"
                    " s; it is uploaded again on the retry."
                )

    def post_exists(
        self, request: PublishRequest, *, since: dt.datetime
    ) -> PublishResult | bool | None:
        body = self._execute(
            lambda yt: yt.search().list(
                part="snippet", forMine=True, type="video", order="date", maxResults=50
            ),
            what="recent uploads",
        )
        start = since - dt.timedelta(minutes=1)
        title = self.title_of(request)
        for item in body.get("items") or []:
            snippet = item.get("snippet") or {}
            published = snippet.get("publishedAt")
            when = (
                dt.datetime.fromisoformat(published.replace("Z", "+00:00"))
                if published
                else None
            )
            if snippet.get("title") == title and (when is None or when >= start):
                video_id = str((item.get("id") or {}).get("videoId"))
                return PublishResult(
                    video_id, f"https://www.youtube.com/watch?v={video_id}"
                )
        return False

    def result_from_url(self, url: str) -> PublishResult:
        """youtube.com/watch?v=<id>, /shorts/<id>, /live/<id> or youtu.be/<id>,
        checked with YouTube: the video must exist on the account's channel."""
        link = post_link(url, hosts=("youtube.com", "youtu.be"), label="YouTube")
        parts = link_parts(link)
        if link.hostname and link.hostname.endswith("youtu.be"):
            video_id = parts[0] if len(parts) == 1 else ""
        elif parts == ["watch"]:
            video_id = parse_qs(link.query).get("v", [""])[0]
        elif len(parts) == 2 and parts[0] in ("shorts", "live"):
            video_id = parts[1]
        else:
            video_id = ""
        if not VIDEO_ID.fullmatch(video_id):
            raise PermanentError(
                "Not a link to a YouTube video: expected "
                "https://www.youtube.com/watch?v=<id> or https://youtu.be/<id>."
            )
        body = self._execute(
            lambda yt: yt.videos().list(part="snippet", id=video_id),
            what="video lookup",
        )
        item = next(iter(body.get("items") or []), None)
        if item is None:
            raise PermanentError(
                "YouTube does not know this video (deleted, or a typo?)."
            )
        channel = (item.get("snippet") or {}).get("channelId")
        if channel != self.channel():
            raise PermanentError("This YouTube video is another channel's.")
        return PublishResult(video_id, f"https://www.youtube.com/watch?v={video_id}")

    def delete(self, platform_post_id: str) -> None:
        self._execute(
            lambda yt: yt.videos().delete(id=platform_post_id),
            what="delete",
            sends=True,
        )

    # --- numbers ---------------------------------------------------------------

    def fetch_stats(self) -> dict:
        body = self._execute(
            lambda yt: yt.channels().list(part="statistics", mine=True),
            what="channel statistics",
        )
        items = body.get("items") or [{}]
        stats = items[0].get("statistics") or {}
        result = {"post_count": int(stats.get("videoCount") or 0)}
        if not stats.get("hiddenSubscriberCount"):
            result["follower_count"] = int(stats.get("subscriberCount") or 0)
        return result

    def fetch_post_metrics(self, platform_post_ids: list[str]) -> dict[str, dict]:
        metrics: dict[str, dict] = {}
        for start in range(0, len(platform_post_ids), self.metrics_batch_size):
            ids = ",".join(platform_post_ids[start : start + self.metrics_batch_size])
            body = self._execute(
                lambda yt, ids=ids: yt.videos().list(part="statistics", id=ids),
                what="video statistics",
            )
            for item in body.get("items") or []:
                stats = item.get("statistics") or {}
                metrics[str(item["id"])] = {
                    "likes": int(stats.get("likeCount") or 0),
                    "comments": int(stats.get("commentCount") or 0),
                    "shares": 0,  # the Data API does not count shares
                    "views": int(stats.get("viewCount") or 0),
                }
        return metrics

    # --- engagement ------------------------------------------------------------

    def perform_engagement(self, action: Action) -> str | None:
        kind, target = action.action_type, action.target_id
        refusal = self.support.refusal(kind)
        if refusal:
            raise PermanentError(f"YouTube cannot {kind}: {refusal}.")
        if not target:
            raise PermanentError(f"A YouTube {kind} needs a target id.")
        text = action.comment_text or action.message_text or ""
        if kind == "like":
            self._execute(
                lambda yt: yt.videos().rate(id=target, rating="like"),
                what="like",
                sends=True,
            )
            return target
        if kind == "follow":
            body = self._execute(
                lambda yt: yt.subscriptions().insert(
                    part="snippet",
                    body={
                        "snippet": {
                            "resourceId": {
                                "kind": "youtube#channel",
                                "channelId": target,
                            }
                        }
                    },
                ),
                what="subscribe",
                sends=True,
            )
            return str(body.get("id") or target)
        if kind == "unfollow":
            found = self._execute(
                lambda yt: yt.subscriptions().list(
                    part="id", mine=True, forChannelId=target
                ),
                what="find subscription",
            )
            for item in found.get("items") or []:
                self._execute(
                    lambda yt, sid=item["id"]: yt.subscriptions().delete(id=sid),
                    what="unsubscribe",
                    sends=True,
                )
            return target
        if not text:
            raise PermanentError(f"A YouTube {kind} needs a text.")
        if kind == "reply":
            body = self._execute(
                lambda yt: yt.comments().insert(
                    part="snippet",
                    body={"snippet": {"parentId": target, "textOriginal": text}},
                ),
                what="reply",
                sends=True,
            )
        else:
            body = self._execute(
                lambda yt: yt.commentThreads().insert(
                    part="snippet",
                    body={
                        "snippet": {
                            "videoId": target,
                            "topLevelComment": {"snippet": {"textOriginal": text}},
                        }
                    },
                ),
                what="comment",
                sends=True,
            )
        return str(body.get("id") or "")

    def engagement_exists(
        self, action: Action, *, since: dt.datetime
    ) -> str | bool | None:
        if action.action_type in ("like", "follow", "unfollow"):
            return False  # doing it again is harmless: one rating, one subscription
        return None
