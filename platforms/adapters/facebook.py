"""Facebook Pages (Graph API) with the Page access token.

auth_data: {"page_access_token": "...", "page_id": "..."} (or "access_token";
the page id falls back to the account's account_id). Text posts go to
/{page}/feed, images to /{page}/photos (`url`), videos to /{page}/videos
(`file_url`); Facebook fetches the media through signed links. A timeout
after the request went out is reconciled from /{page}/published_posts,
matched by message and time. Pages can like and comment (and reply to
comments) as the Page; Pages cannot follow.

A video is processed by Facebook after /{page}/videos answers with its id:
the publish polls the video's `status` (video_status and the uploading,
processing and publishing phases) for up to FACEBOOK_PROCESSING_WAIT seconds.
Ready: published. An error status fails the post with Facebook's reason (the
video never shows on the Page, so a retry by staff posts it once). Still
processing at the end of the wait, or a poll that fails: the post counts as
published, since the request went out and Facebook publishes the video when it
is done; asking again could post it twice.

Numbers: the Page's followers and, in the same request (field expansion of
the Page Insights edge, period day), the latest day's Page views
(`page_media_view`, which replaced the retired page_impressions) and post
engagements (`page_post_engagements`): `page_views_day` and
`page_post_engagements_day` in the stats, and the Page views under
stats["daily"] as the day's `impressions`, which the sync keeps in analytics.
Insights exist only for Pages with 100 or more likes and need
`read_insights`: a metric missing from the answer
is left out of the stats, and a request refused because of the insights (an
invalid metric, a permission) is asked again for the followers alone. Post
metrics: reactions, comments, shares and views (`post_media_view`, which
replaced post_impressions), up to 50 posts a request.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from typing import Any
from urllib.parse import SplitResult, parse_qs, urlsplit

from django.conf import settings

from platforms.adapters import (
    Action,
    AdapterError,
    CredentialsRejected,
    PermanentError,
    PublishRequest,
    PublishResult,
    Support,
    link_parts,
    post_link,
)
from platforms.adapters.graph import GraphAdapter, graph_time
from platforms.adapters.rules import MB, MediaLimits, PlatformRules, PostTypeRule

# a Page post's id as the Graph API gives it: <page id>_<post id>
POST_ID = re.compile(r"[\w.-]+_\d+")
PHOTO = MediaLimits(
    mime_types=("image/jpeg", "image/png", "image/gif", "image/bmp", "image/tiff"),
    max_bytes=4 * MB,
)
# file_url uploads are non-resumable: 1 GB and 20 minutes at most
VIDEO = MediaLimits(max_bytes=1024 * MB, min_seconds=1, max_seconds=20 * 60)

logger = logging.getLogger(__name__)

# Page Insights metric (period day) -> its key in fetch_stats' answer
PAGE_INSIGHTS = {
    "page_media_view": "page_views_day",
    "page_post_engagements": "page_post_engagements_day",
}

# the phases of a video's status, in order (Video Status reference)
VIDEO_PHASES = ("uploading_phase", "processing_phase", "publishing_phase")


def video_problem(status: dict, failed: list[str]) -> str:
    """The messages of the failed phases' errors, joined."""
    messages = [
        str(error.get("message"))
        for phase in failed
        for error in (status.get(phase) or {}).get("errors") or []
        if isinstance(error, dict) and error.get("message")
    ]
    return "; ".join(messages)


RULES = PlatformRules(
    label="Facebook",
    default_post_type="post",
    caption_max=63206,
    post_types={
        "post": PostTypeRule(media={"image": PHOTO, "video": VIDEO}, text_only=True),
        "video": PostTypeRule(media={"video": VIDEO}),
    },
)


class FacebookAdapter(GraphAdapter):
    platform = "facebook"
    service = "Facebook"
    rules = RULES
    support = Support(
        post_types=("post (text, photo, video)", "video"),
        delete=True,
        stats=True,
        post_metrics=True,
        engagement={
            "like": True,
            "comment": True,
            "reply": True,
            "follow": "a Page cannot follow through the Graph API",
            "unfollow": "a Page cannot follow through the Graph API",
            "share": "the Graph API has no share endpoint",
            "message": "Page messages need the Messenger Platform, not set up here",
        },
    )
    metrics_batch_size = 50

    @property
    def call_timeout(self) -> float:
        # the post (a refused token is refreshed and the post asked again),
        # then a video's status polls within the wait, the last one started
        # just before its end
        return 3 * self.request_timeout + settings.FACEBOOK_PROCESSING_WAIT

    def access_token(self) -> str:
        token = self.auth.get("page_access_token")
        return token or super().access_token()

    def page(self) -> str:
        page = self.auth.get("page_id") or self.account.account_id
        if not page:
            raise PermanentError(
                "The Facebook account has no page_id (credentials or account id)."
            )
        return str(page)

    def publish(self, request: PublishRequest) -> PublishResult:
        problems = self.validate(request.draft)
        if problems:
            raise PermanentError(" ".join(m for ms in problems.values() for m in ms))
        page = self.page()
        if request.additional_media:
            raise PermanentError(
                "Facebook posts here take one file; publish the others separately."
            )
        if request.media_type == "image" and request.media_path:
            body = self.graph(
                "POST",
                f"{page}/photos",
                what="photo",
                sends=True,
                data={
                    "url": self.media_link(request.media_path),
                    "caption": request.text,
                },
            )
            post_id = str(body.get("post_id") or body["id"])
        elif request.media_type == "video" and request.media_path:
            body = self.graph(
                "POST",
                f"{page}/videos",
                what="video",
                sends=True,
                data={
                    "file_url": self.media_link(request.media_path),
                    "description": request.text,
                },
            )
            post_id = str(body["id"])
            self._wait_processed(post_id)
        else:
            body = self.graph(
                "POST",
                f"{page}/feed",
                what="post",
                sends=True,
                data={"message": request.text},
            )
            post_id = str(body["id"])
        return PublishResult(post_id, f"https://www.facebook.com/{post_id}")

    def _wait_processed(self, video_id: str) -> None:
        """Poll the posted video until Facebook has processed it (see the
        module's docstring for what each outcome means)."""
        deadline = time.monotonic() + settings.FACEBOOK_PROCESSING_WAIT
        while True:
            try:
                body = self.graph(
                    "GET", video_id, what="video status", params={"fields": "status"}
                )
            except AdapterError as exc:
                logger.info(
                    "Facebook video %s: status not readable (%s); published, "
                    "Facebook finishes it on its side.",
                    video_id,
                    exc,
                )
                return
            status = body.get("status") or {}
            state = status.get("video_status")
            if state == "ready":
                return
            failed = [
                phase
                for phase in VIDEO_PHASES
                if (status.get(phase) or {}).get("status") == "error"
            ]
            if state in ("error", "expired") or failed:
                raise PermanentError(
                    "Facebook received the video but could not process it: "
                    f"{video_problem(status, failed) or state}. Check the file's "
                    "format, size and length, then schedule it again."
                )
            if time.monotonic() >= deadline:
                logger.info(
                    "Facebook video %s still %s after %g s; published, Facebook "
                    "finishes it on its side.",
                    video_id,
                    state or "processing",
                    settings.FACEBOOK_PROCESSING_WAIT,
                )
                return
            time.sleep(settings.FACEBOOK_POLL_INTERVAL)

    def post_exists(
        self, request: PublishRequest, *, since: dt.datetime
    ) -> PublishResult | bool | None:
        body = self.graph(
            "GET",
            f"{self.page()}/published_posts",
            what="published posts",
            params={
                "fields": "id,message,created_time",
                "since": int(since.timestamp()) - 60,
                "limit": 100,
            },
        )
        start = since - dt.timedelta(minutes=1)
        for item in body.get("data") or []:
            created = graph_time(item.get("created_time"))
            if (item.get("message") or "") == request.text and (
                created is None or created >= start
            ):
                return PublishResult(
                    str(item["id"]), f"https://www.facebook.com/{item['id']}"
                )
        return False

    def result_from_url(self, url: str) -> PublishResult:
        """A link to one of the Page's posts, as the post's "Copy link" gives
        it: looked up among the Page's latest 100 posts by permalink_url (or
        by id, for a link that names it: facebook.com/<page>_<post>,
        permalink.php?story_fbid=<post>&id=<page>)."""
        link = post_link(url, hosts=("facebook.com", "fb.com"), label="Facebook")
        page = self.page()
        key = _link_key(link)
        body = self.graph(
            "GET",
            f"{page}/published_posts",
            what="published posts",
            params={"fields": "id,permalink_url", "limit": 100},
        )
        for item in body.get("data") or []:
            post_id = str(item.get("id") or "")
            permalink = item.get("permalink_url") or ""
            keys = {f"id:{post_id}", f"id:{post_id.partition('_')[2]}"}
            if permalink:
                keys.add(_link_key(urlsplit(permalink)))
            if post_id and key in keys:
                return PublishResult(
                    post_id, permalink or f"https://www.facebook.com/{post_id}"
                )
        raise PermanentError(
            "This link is not among the Page's latest 100 posts on Facebook "
            "(another Page's, or deleted?)."
        )

    def delete(self, platform_post_id: str) -> None:
        self.graph("DELETE", platform_post_id, what="delete post", sends=True)

    def fetch_stats(self) -> dict:
        """Followers, and the Page Insights of the latest day where Meta has
        them (PAGE_INSIGHTS), in one request."""
        page = self.page()
        fields = "followers_count,fan_count"
        insights = f"insights.metric({','.join(PAGE_INSIGHTS)}).period(day)"
        try:
            body = self.graph(
                "GET",
                page,
                what="page stats",
                params={"fields": f"{fields},{insights}"},
            )
        except (PermanentError, CredentialsRejected) as exc:
            # Meta refused the insights part (a retired metric, read_insights
            # not granted): the followers alone. A refusal of the Page or the
            # token itself comes back from this request as well.
            logger.info(
                "Page insights of Facebook account %s refused, followers only: %s",
                self.account.pk,
                exc.message,
            )
            body = self.graph("GET", page, what="page stats", params={"fields": fields})
        stats: dict[str, Any] = {
            "follower_count": int(
                body.get("followers_count") or body.get("fan_count") or 0
            )
        }
        latest = latest_insights(body.get("insights"))
        stats |= {key: value for key, (_, value) in latest.items()}
        day, views = latest.get("page_views_day", (None, None))
        if day is not None:
            # kept by the sync as the day's analytics row (impressions)
            stats["daily"] = {"impressions": (day, views)}
        return stats

    def fetch_post_metrics(self, platform_post_ids: list[str]) -> dict[str, dict]:
        metrics: dict[str, dict] = {}
        fields = (
            "reactions.summary(total_count).limit(0),"
            "comments.summary(total_count).limit(0),shares,"
            "insights.metric(post_media_view)"
        )
        for start in range(0, len(platform_post_ids), self.metrics_batch_size):
            ids = platform_post_ids[start : start + self.metrics_batch_size]
            body = self.graph(
                "GET",
                "",
                what="post metrics",
                params={"ids": ",".join(ids), "fields": fields},
            )
            for post_id, item in body.items():
                if not isinstance(item, dict):
                    continue
                insights = {
                    row.get("name"): (row.get("values") or [{}])[0].get("value", 0)
                    for row in (item.get("insights") or {}).get("data", [])
                }
                metrics[post_id] = {
                    "likes": int(
                        ((item.get("reactions") or {}).get("summary") or {}).get(
                            "total_count"
                        )
                        or 0
                    ),
                    "comments": int(
                        ((item.get("comments") or {}).get("summary") or {}).get(
                            "total_count"
                        )
                        or 0
                    ),
                    "shares": int((item.get("shares") or {}).get("count") or 0),
                    "views": int(insights.get("post_media_view") or 0),
                }
        return metrics

    def perform_engagement(self, action: Action) -> str | None:
        refusal = self.support.refusal(action.action_type)
        if refusal:
            raise PermanentError(f"Facebook cannot {action.action_type}: {refusal}.")
        if not action.target_id:
            raise PermanentError(f"A Facebook {action.action_type} needs a target id.")
        if action.action_type == "like":
            self.graph("POST", f"{action.target_id}/likes", what="like", sends=True)
            return action.target_id
        text = action.comment_text or action.message_text or ""
        if not text:
            raise PermanentError(f"A Facebook {action.action_type} needs a text.")
        body = self.graph(
            "POST",
            f"{action.target_id}/comments",
            what=action.action_type,
            sends=True,
            data={"message": text},
        )
        return str(body.get("id") or "")

    def engagement_exists(
        self, action: Action, *, since: dt.datetime
    ) -> str | bool | None:
        if action.action_type == "like":
            return False  # liking again is harmless: the platform keeps one like
        if action.action_type not in ("comment", "reply") or not action.target_id:
            return None
        body = self.graph(
            "GET",
            f"{action.target_id}/comments",
            what="list comments",
            params={"fields": "id,message,from,created_time"},
        )
        text = action.comment_text or action.message_text or ""
        for item in body.get("data") or []:
            if (item.get("message") or item.get("text")) == text:
                return str(item["id"])
        return False


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def latest_insights(edge: object) -> dict[str, tuple[dt.date | None, int]]:
    """{stats key: (the day it counts, value)} of the PAGE_INSIGHTS rows
    (period day) in an insights edge, each its latest end_time's value; a
    metric without a number is left out. A day's value ends at its end_time
    (the next midnight, Pacific time): its day is the one before the
    end_time's date (None without an end_time)."""
    rows = edge.get("data") if isinstance(edge, dict) else None
    found: dict[str, tuple[dt.date | None, int]] = {}
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict) or row.get("period") != "day":
            continue
        key = PAGE_INSIGHTS.get(str(row.get("name")))
        values = [
            (graph_time(v.get("end_time")), v["value"])
            for v in row.get("values") or []
            if isinstance(v, dict) and isinstance(v.get("value"), int)
        ]
        if key and values:
            ended, value = max(values, key=lambda v: v[0] or _EPOCH)
            day = None if ended is None else (ended - dt.timedelta(days=1)).date()
            found[key] = (day, int(value))
    return found


def _link_key(link: SplitResult) -> str:
    """What names one post in a Facebook link: "id:<id>" when the link holds
    the post's id (/<page>_<post>, permalink.php, story.php, photo.php and
    /photo/?fbid=), else its path without a trailing slash."""
    query = {k: v[0] for k, v in parse_qs(link.query).items() if v}
    parts = link_parts(link)
    if query.get("story_fbid", "").isdigit():
        return f"id:{query['story_fbid']}"
    if query.get("fbid", "").isdigit():
        return f"id:{query['fbid']}"
    if len(parts) == 1 and POST_ID.fullmatch(parts[0]):
        return f"id:{parts[0]}"
    if len(parts) == 3 and parts[1] in ("posts", "videos") and parts[2].isdigit():
        return f"id:{parts[2]}"
    return "/".join(parts).lower()
