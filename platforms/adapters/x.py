"""X (Twitter) API v2 with an OAuth 2.0 user access token.

auth_data: {"access_token": "...", "user_id": "..."} (the id falls back to
the account's account_id). Posts go out with POST /2/tweets; media goes
first through the v2 media upload: one request for an image, INIT / APPEND /
FINALIZE (and STATUS while processing_info says pending or in_progress) for
a video. Uploading is not publishing: a timeout there is a plain retry. A
timeout on POST /2/tweets is OutcomeUnknown, reconciled from the user's
recent posts by text and time; X refuses a duplicate text with a 403, which
also resolves to the earlier post.

Errors: 401 refreshes once, then parks the account; 429 waits until
x-rate-limit-reset (or the 24-hour user limit's reset); 5xx retries; other
4xx fail with X's detail.
"""

from __future__ import annotations

import datetime as dt
import functools
import mimetypes
import re
import time
import warnings
from typing import Any, Literal

from django.conf import settings

# twitter-text-parser 3.0.0 reads its emoji table through pkg_resources
# (setuptools, a dependency of ours since Python 3.12's venvs come without
# it), which warns that it is deprecated on every import
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "pkg_resources is deprecated", UserWarning)
    from twitter_text import parse_tweet
    from twitter_text.config import config as twitter_text_config
    from twitter_text.extract_urls import extract_urls_with_indices
    from twitter_text.parse_tweet import convert_line_ending

from platforms.adapters import (
    Action,
    AdapterError,
    CredentialsRejected,
    PermanentError,
    PublishRequest,
    PublishResult,
    RateLimited,
    Support,
    link_parts,
    post_link,
)
from platforms.adapters.http import HttpAdapter, Response
from platforms.adapters.rules import (
    MB,
    MediaLimits,
    PlatformRules,
    PostDraft,
    PostTypeRule,
)

IMAGE = MediaLimits(
    mime_types=("image/jpeg", "image/png", "image/webp", "image/gif"),
    max_bytes=5 * MB,
)
VIDEO = MediaLimits(
    mime_types=("video/mp4", "video/quicktime"),
    max_bytes=512 * MB,
    min_seconds=0.5,
    max_seconds=140,
    min_ratio=1 / 3,
    max_ratio=3,
    ratio_label="1:3 and 3:1",
)
# what twitter-text counts a URL as, whatever its length
URL_WEIGHT = twitter_text_config["defaults"]["transformed_url_length"]


@functools.lru_cache(maxsize=4096)
def weighted_length(text: str) -> int:
    """X's weighted length of `text`: twitter-text's `parse_tweet`, exactly.

    It is counted when a post is scheduled and again when it is published
    (a caption can change in between), and `parse_tweet` costs 0.3 to 1 ms
    of CPU, most of it its emoji expression tried at every character. ASCII
    text is counted without it, to the same number: every ASCII character
    weighs 1 (twitter-text's first range), none is or starts an emoji (each
    needs a non-ASCII code point), none is invalid, and each URL counts 23
    whatever its length, found by twitter-text's own extractor (after the
    same line-ending normalisation; ASCII is its own NFC form). Other text
    goes through `parse_tweet`; a text counted once is not counted again
    (a retry, the scheduling form's checks)."""
    if not text.isascii():
        return parse_tweet(text).weightedLength
    normal = convert_line_ending(text)
    urls = extract_urls_with_indices(normal)
    return len(normal) + sum(URL_WEIGHT - len(u["url"]) for u in urls)


RULES = PlatformRules(
    label="X",
    default_post_type="tweet",
    aliases={"post": "tweet"},
    caption_max=280,
    caption_length=weighted_length,
    caption_unit="weighted characters",
    post_types={
        "tweet": PostTypeRule(
            media={"image": IMAGE, "video": VIDEO}, text_only=True, max_items=4
        )
    },
)
URL = re.compile(r"https?://\S+")


def _same_text(ours: str, theirs: str) -> bool:
    """X rewrites links to t.co: compare the text around them."""

    def norm(text: str) -> str:
        return " ".join(URL.sub("", text or "").split())

    return norm(ours) == norm(theirs)


class XAdapter(HttpAdapter):
    platform = "twitter"
    service = "X"
    rules = RULES
    support = Support(
        post_types=("tweet (text, up to 4 images, or 1 video)",),
        delete=True,
        stats=True,
        post_metrics=True,
        engagement={
            "like": True,
            "reply": True,
            "comment": True,  # a reply to the post
            "follow": True,
            "unfollow": True,
            "share": True,  # a repost
            "message": True,  # a direct message
        },
    )
    metrics_batch_size = 100  # GET /2/tweets takes up to 100 ids

    @property
    def call_timeout(self) -> float:
        # the post and its uploads (each step checks the time left: uploading
        # is not publishing, so running out before the post is a plain retry)
        return 4 * self.request_timeout + settings.X_PROCESSING_WAIT

    def _in_time(self) -> None:
        if time.monotonic() > self._deadline:
            raise AdapterError("X media upload is taking too long; retrying later.")

    @classmethod
    def validate(cls, draft: PostDraft) -> dict[str, list[str]]:
        problems = super().validate(draft)
        kinds = [m.content_type for m in draft.media]
        if "video" in kinds and len(kinds) > 1:
            problems.setdefault("additional_content_ids", []).append(
                "An X post takes one video, or up to 4 images, not both."
            )
        return problems

    def user_id(self) -> str:
        user = self.auth.get("user_id") or self.account.account_id
        if not user:
            raise PermanentError(
                "The X account has no user_id (credentials or account id)."
            )
        return str(user)

    def api(
        self,
        method: str,
        path: str,
        *,
        what: str,
        sends: bool = False,
        ok_statuses: tuple[int, ...] = (),
        **kwargs: Any,
    ) -> dict:
        url = f"{settings.X_API_BASE.rstrip('/')}/{path.lstrip('/')}"
        while True:
            response = self._send(
                method,
                url,
                what=what,
                sends=sends,
                headers={"Authorization": f"Bearer {self.access_token()}"},
                **kwargs,
            )
            if response.status_code < 400:
                return self.json_of(response)
            if response.status_code == 401 and self.refresh_credentials():
                continue
            raise self._error(response, what)

    def _error(self, response: Response, what: str) -> AdapterError:
        body = self.json_of(response)
        # the reasons first: an invalid-request problem's own detail is always
        # the generic "One or more parameters to your request was invalid."
        reasons = [
            str(e["message"])
            for e in body.get("errors") or []
            if isinstance(e, dict) and e.get("message")
        ]
        detail = str(
            "; ".join(reasons)
            or body.get("detail")
            or body.get("title")
            or response.reason
            or ""
        )[:300]
        status = response.status_code
        if status == 401:
            return CredentialsRejected(f"X refused the token: {detail}")
        if status == 429:
            resets = [
                response.headers.get(h)
                for h in ("x-user-limit-24hour-reset", "x-rate-limit-reset")
            ]
            if response.headers.get("x-user-limit-24hour-remaining") != "0":
                resets = resets[1:]
            wait = 900
            for reset in resets:
                if reset and reset.isdigit():
                    wait = max(1, int(reset) - int(time.time()))
                    break
            return RateLimited(f"X rate limit ({what}): retry in {wait} s", wait)
        if status >= 500:
            return AdapterError(f"X server error {status} ({what}): {detail}")
        if status == 403 and "duplicate" in detail.lower():
            return DuplicatePost(f"X refused a duplicate post: {detail}")
        return PermanentError(f"X refused {what}: {detail}")

    # --- publishing ------------------------------------------------------------

    def publish(self, request: PublishRequest) -> PublishResult:
        problems = self.validate(request.draft)
        if problems:
            raise PermanentError(" ".join(m for ms in problems.values() for m in ms))
        payload: dict = {"text": request.text}
        self._deadline = time.monotonic() + self.call_timeout - self.request_timeout
        files = []
        if request.media_path and request.media_type in ("image", "video"):
            files.append((request.media_path, request.media_type))
        files += [(p, info.content_type) for p, info in request.additional_media]
        if files:
            payload["media"] = {"media_ids": [self._upload(p, k) for p, k in files]}
        try:
            body = self.api("POST", "2/tweets", what="post", sends=True, json=payload)
        except DuplicatePost:
            # X keeps one copy of a text: an earlier attempt went out
            found = self.post_exists(
                request, since=dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
            )
            if found:
                return found
            raise
        tweet_id = str(body["data"]["id"])
        return PublishResult(tweet_id, self._url(tweet_id))

    def result_from_url(self, url: str) -> PublishResult:
        """x.com/<handle>/status/<id> (twitter.com too), checked with X: the
        post must exist and be the account's own (its author_id)."""
        link = post_link(
            url, hosts=("x.com", "twitter.com", "mobile.twitter.com"), label="X"
        )
        parts = link_parts(link)
        status = parts.index("status") if "status" in parts else -1
        tweet_id = parts[status + 1] if 0 < status < len(parts) - 1 else ""
        if not (tweet_id.isdigit() and len(tweet_id) <= 20):
            raise PermanentError(
                "Not a link to a post on X: expected https://x.com/<handle>/status/<id>."
            )
        body = self.api(
            "GET",
            "2/tweets",
            what="post lookup",
            params={"ids": tweet_id, "tweet.fields": "author_id"},
        )
        found = next(
            (t for t in body.get("data") or [] if str(t.get("id")) == tweet_id), None
        )
        if found is None:
            raise PermanentError("X does not know this post (deleted, or a typo?).")
        if str(found.get("author_id") or "") != self.user_id():
            raise PermanentError("This post on X is another account's.")
        return PublishResult(tweet_id, self._url(tweet_id))

    def _url(self, tweet_id: str) -> str:
        username = self.account.account_username or "i"
        return f"https://x.com/{username}/status/{tweet_id}"

    def _upload(self, path: str, kind: str) -> str:
        real = self.media_file(path)
        mime = mimetypes.guess_type(real.name)[0] or (
            "video/mp4" if kind == "video" else "image/jpeg"
        )
        self._in_time()
        if kind == "image":
            category = "tweet_gif" if mime == "image/gif" else "tweet_image"
            with real.open("rb") as handle:
                body = self.api(
                    "POST",
                    "2/media/upload",
                    what="media upload",
                    data={"media_category": category, "media_type": mime},
                    files={"media": (real.name, handle, mime)},
                )
            return self._processed(body)
        size = real.stat().st_size
        init = self.api(
            "POST",
            "2/media/upload",
            what="media upload INIT",
            files=_form(
                command="INIT",
                media_type=mime,
                total_bytes=size,
                media_category="tweet_video",
            ),
        )
        media_id = str(init["data"]["id"])
        chunk = settings.X_UPLOAD_CHUNK_BYTES
        with real.open("rb") as handle:
            for index in range((size + chunk - 1) // chunk or 1):
                self._in_time()
                self.api(
                    "POST",
                    "2/media/upload",
                    what=f"media upload APPEND {index}",
                    data={
                        "command": "APPEND",
                        "media_id": media_id,
                        "segment_index": index,
                    },
                    files={"media": ("chunk", handle.read(chunk), mime)},
                )
        final = self.api(
            "POST",
            "2/media/upload",
            what="media upload FINALIZE",
            files=_form(command="FINALIZE", media_id=media_id),
        )
        return self._processed(final)

    def _processed(self, body: dict) -> str:
        """Wait while processing_info says pending or in_progress (STATUS)."""
        data = body.get("data") or {}
        media_id = str(data["id"])
        deadline = min(
            time.monotonic() + settings.X_PROCESSING_WAIT,
            getattr(self, "_deadline", float("inf")),
        )
        while True:
            info = data.get("processing_info") or {}
            state = info.get("state")
            if state in (None, "succeeded"):
                return media_id
            if state == "failed":
                error = info.get("error") or {}
                raise PermanentError(
                    "X could not process the media: "
                    f"{error.get('message') or error.get('name') or 'failed'}."
                )
            if time.monotonic() >= deadline:
                raise AdapterError(
                    f"X is still processing the media after "
                    f"{settings.X_PROCESSING_WAIT:g} s; retrying later."
                )
            time.sleep(min(float(info.get("check_after_secs") or 1), 5.0))
            data = self.api(
                "GET",
                "2/media/upload",
                what="media upload STATUS",
                params={"command": "STATUS", "media_id": media_id},
            ).get("data") or {"id": media_id}

    def post_exists(
        self, request: PublishRequest, *, since: dt.datetime
    ) -> PublishResult | Literal[False] | None:
        start = since - dt.timedelta(minutes=1)
        body = self.api(
            "GET",
            f"2/users/{self.user_id()}/tweets",
            what="recent posts",
            params={
                "start_time": start.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "max_results": 100,
                "tweet.fields": "created_at",
            },
        )
        for item in body.get("data") or []:
            if _same_text(request.text, item.get("text", "")):
                return PublishResult(str(item["id"]), self._url(str(item["id"])))
        if (body.get("meta") or {}).get("next_token"):
            return None  # more than a page since then: cannot tell
        return False

    def delete(self, platform_post_id: str) -> None:
        self.api("DELETE", f"2/tweets/{platform_post_id}", what="delete", sends=True)

    # --- numbers ---------------------------------------------------------------

    def fetch_stats(self) -> dict:
        body = self.api(
            "GET",
            "2/users/me",
            what="user metrics",
            params={"user.fields": "public_metrics"},
        )
        metrics = (body.get("data") or {}).get("public_metrics") or {}
        return {
            "follower_count": int(metrics.get("followers_count") or 0),
            "following_count": int(metrics.get("following_count") or 0),
            "post_count": int(metrics.get("tweet_count") or 0),
        }

    def fetch_post_metrics(self, platform_post_ids: list[str]) -> dict[str, dict]:
        metrics: dict[str, dict] = {}
        for start in range(0, len(platform_post_ids), self.metrics_batch_size):
            ids = platform_post_ids[start : start + self.metrics_batch_size]
            body = self.api(
                "GET",
                "2/tweets",
                what="post metrics",
                params={"ids": ",".join(ids), "tweet.fields": "public_metrics"},
            )
            for item in body.get("data") or []:
                m = item.get("public_metrics") or {}
                metrics[str(item["id"])] = {
                    "likes": int(m.get("like_count") or 0),
                    "comments": int(m.get("reply_count") or 0),
                    "shares": int(m.get("retweet_count") or 0)
                    + int(m.get("quote_count") or 0),
                    "views": int(m.get("impression_count") or 0),
                }
        return metrics

    # --- engagement ------------------------------------------------------------

    def perform_engagement(self, action: Action) -> str | None:
        kind = action.action_type
        target = action.target_id
        if not target:
            raise PermanentError(f"An X {kind} needs a target id.")
        me = self.user_id()
        text = action.comment_text or action.message_text or ""
        if kind == "like":
            self.api(
                "POST",
                f"2/users/{me}/likes",
                what="like",
                sends=True,
                json={"tweet_id": target},
            )
            return target
        if kind == "share":
            self.api(
                "POST",
                f"2/users/{me}/retweets",
                what="repost",
                sends=True,
                json={"tweet_id": target},
            )
            return target
        if kind == "follow":
            self.api(
                "POST",
                f"2/users/{me}/following",
                what="follow",
                sends=True,
                json={"target_user_id": target},
            )
            return target
        if kind == "unfollow":
            self.api(
                "DELETE",
                f"2/users/{me}/following/{target}",
                what="unfollow",
                sends=True,
            )
            return target
        if not text:
            raise PermanentError(f"An X {kind} needs a text.")
        if kind in ("reply", "comment"):
            body = self.api(
                "POST",
                "2/tweets",
                what=kind,
                sends=True,
                json={"text": text, "reply": {"in_reply_to_tweet_id": target}},
            )
            return str(body["data"]["id"])
        if kind == "message":
            body = self.api(
                "POST",
                f"2/dm_conversations/with/{target}/messages",
                what="direct message",
                sends=True,
                json={"text": text},
            )
            return str((body.get("data") or {}).get("dm_event_id") or "")
        raise PermanentError(f"X cannot {kind}.")

    def engagement_exists(
        self, action: Action, *, since: dt.datetime
    ) -> str | bool | None:
        if action.action_type in ("like", "follow", "unfollow", "share"):
            return False  # doing it again is harmless: X keeps one like/follow
        if action.action_type in ("reply", "comment"):
            request = PublishRequest(
                marker=str(action.pk),
                caption=action.comment_text or action.message_text or "",
            )
            found = self.post_exists(request, since=since)
            if isinstance(found, PublishResult):
                return found.platform_post_id
            return found
        return None


def _form(**fields: object) -> dict:
    """Plain fields sent as multipart/form-data, as the media upload docs do."""
    return {name: (None, str(value)) for name, value in fields.items()}


class DuplicatePost(PermanentError):
    """X refused the text as a duplicate of a recent post."""
