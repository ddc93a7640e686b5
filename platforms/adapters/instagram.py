"""Instagram (Graph API, professional accounts): the container flow.

auth_data: {"access_token": "...", "ig_user_id": "..."} (the id falls back
to the account's account_id). A publish:

1. reads `content_publishing_limit`: at the 24-hour cap it waits (RateLimited)
   instead of failing;
2. creates a media container (`image_url`; `video_url` with media_type REELS
   or STORIES; a CAROUSEL from child containers), with the media served
   through signed links (platforms.media_links);
3. polls each container's `status_code` until FINISHED (ERROR and EXPIRED
   mapped to clear messages; still IN_PROGRESS after INSTAGRAM_PROCESSING_WAIT
   is retried later with a new container: unpublished containers expire);
4. `media_publish`: the one irreversible call. A timeout there is
   OutcomeUnknown, reconciled by `post_exists`, which lists the account's
   recent media and matches the caption.

Instagram's API has no like, follow or direct-message endpoint for this use:
those engagement actions fail permanently with that reason.
"""

from __future__ import annotations

import datetime as dt
import time

from django.conf import settings

from platforms.adapters import (
    Action,
    AdapterError,
    PermanentError,
    PublishRequest,
    PublishResult,
    RateLimited,
    Support,
    link_parts,
    post_link,
)
from platforms.adapters.graph import PUBLISH_CAP_WAIT, GraphAdapter, graph_time
from platforms.adapters.rules import MB, MediaLimits, PlatformRules, PostTypeRule

IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp")  # others are sent as JPEG
FEED_IMAGE = MediaLimits(
    mime_types=IMAGE_TYPES,
    max_bytes=8 * MB,
    min_ratio=4 / 5,
    max_ratio=1.91,
    ratio_label="4:5 and 1.91:1",
)
STORY_IMAGE = MediaLimits(mime_types=IMAGE_TYPES, max_bytes=8 * MB)
VIDEO_TYPES = ("video/mp4", "video/quicktime")
REEL_VIDEO = MediaLimits(
    mime_types=VIDEO_TYPES,
    max_bytes=300 * MB,
    min_seconds=3,
    max_seconds=15 * 60,
    min_ratio=0.01,
    max_ratio=10,
    ratio_label="0.01:1 and 10:1",
)
STORY_VIDEO = MediaLimits(
    mime_types=VIDEO_TYPES, max_bytes=100 * MB, min_seconds=3, max_seconds=60
)
CAROUSEL_VIDEO = MediaLimits(
    mime_types=VIDEO_TYPES, max_bytes=100 * MB, min_seconds=3, max_seconds=60
)

RULES = PlatformRules(
    label="Instagram",
    default_post_type="post",
    aliases={"video": "reel"},
    caption_max=2200,
    hashtags_max=30,
    post_types={
        # a post with several files is a carousel (up to 10 items)
        "post": PostTypeRule(
            media={"image": FEED_IMAGE, "video": CAROUSEL_VIDEO}, max_items=10
        ),
        "reel": PostTypeRule(media={"video": REEL_VIDEO}),
        "story": PostTypeRule(media={"image": STORY_IMAGE, "video": STORY_VIDEO}),
    },
)

NO_ENDPOINT = "Instagram's API has no endpoint for it"


class InstagramAdapter(GraphAdapter):
    platform = "instagram"
    service = "Instagram"
    rules = RULES
    support = Support(
        post_types=("post", "carousel", "reel", "story"),
        delete=True,
        stats=True,
        post_metrics=True,
        engagement={
            "comment": True,
            "reply": True,
            "like": NO_ENDPOINT,
            "follow": NO_ENDPOINT,
            "unfollow": NO_ENDPOINT,
            "share": NO_ENDPOINT,
            "message": "Instagram messaging needs the Messenger API, not set up here",
        },
    )
    metrics_batch_size = 50  # Graph API ?ids= takes at most 50 ids

    @property
    def graph_base(self) -> str:
        return settings.INSTAGRAM_API_BASE

    @property
    def call_timeout(self) -> float:
        # limit, container, publish, permalink and the polling; a carousel's
        # extra containers must fit in the same time (see _in_time)
        return 4 * self.request_timeout + settings.INSTAGRAM_PROCESSING_WAIT

    def _in_time(self) -> None:
        """Before each step that precedes media_publish: stop (and retry later,
        nothing published) when publish and permalink would no longer fit."""
        if time.monotonic() > self._deadline:
            raise AdapterError(
                "Instagram is taking too long to prepare the post; retrying later."
            )

    def ig_user(self) -> str:
        user = self.auth.get("ig_user_id") or self.account.account_id
        if not user:
            raise PermanentError(
                "The Instagram account has no ig_user_id (credentials or account id)."
            )
        return str(user)

    # --- publishing ------------------------------------------------------------

    def publish(self, request: PublishRequest) -> PublishResult:
        problems = self.validate(request.draft)
        if problems:
            raise PermanentError(" ".join(m for ms in problems.values() for m in ms))
        user = self.ig_user()
        self._deadline = time.monotonic() + self.call_timeout - 2 * self.request_timeout
        self._check_publishing_limit(user)
        creation_id = self._container(user, request)
        published = self.graph(
            "POST",
            f"{user}/media_publish",
            what="media_publish",
            sends=True,
            data={"creation_id": creation_id},
        )
        media_id = str(published["id"])
        return PublishResult(platform_post_id=media_id, url=self._permalink(media_id))

    def _check_publishing_limit(self, user: str) -> None:
        body = self.graph(
            "GET",
            f"{user}/content_publishing_limit",
            what="content_publishing_limit",
            params={"fields": "quota_usage,config"},
        )
        rows = body.get("data") or [{}]
        usage = int(rows[0].get("quota_usage") or 0)
        total = (rows[0].get("config") or {}).get("quota_total")
        if total is not None and usage >= int(total):
            raise RateLimited(
                f"Instagram's publishing limit is reached ({usage} of {total} posts "
                "in 24 hours); waiting for the window to roll.",
                PUBLISH_CAP_WAIT,
            )

    def _item(self, path: str, media_type: str) -> dict:
        if media_type == "video":
            return {"video_url": self.media_link(path)}
        return {"image_url": self.media_link(path, fmt="jpeg")}

    def _container(self, user: str, request: PublishRequest) -> str:
        """Create the container(s), wait until FINISHED; the id to publish."""
        post_type = self.rules.post_type_of(request.post_type)
        if not request.media_path or not request.media_type:
            raise PermanentError("An Instagram post needs an image or a video.")
        files = [(request.media_path, request.media_type)] + [
            (path, info.content_type) for path, info in request.additional_media
        ]
        if post_type == "post" and len(files) > 1:
            children = []
            for path, kind in files:
                fields = self._item(path, kind) | {"is_carousel_item": "true"}
                if kind == "video":
                    fields["media_type"] = "VIDEO"
                children.append(self._create(user, fields))
            self._wait_finished(children)
            parent = self._create(
                user,
                {
                    "media_type": "CAROUSEL",
                    "children": ",".join(children),
                    "caption": request.text,
                },
            )
            self._wait_finished([parent])
            return parent
        path, kind = files[0]
        fields = self._item(path, kind)
        if post_type == "story":
            fields["media_type"] = "STORIES"
        elif kind == "video":
            fields |= {"media_type": "REELS", "caption": request.text}
            if post_type == "post":
                fields["share_to_feed"] = "true"
        else:
            fields["caption"] = request.text
        container = self._create(user, fields)
        self._wait_finished([container])
        return container

    def _create(self, user: str, fields: dict) -> str:
        # A container is not a post: one left behind expires unpublished, so
        # a timeout here is a plain retry, not an unknown outcome.
        self._in_time()
        body = self.graph("POST", f"{user}/media", what="create container", data=fields)
        return str(body["id"])

    def _wait_finished(self, containers: list[str]) -> None:
        deadline = min(
            time.monotonic() + settings.INSTAGRAM_PROCESSING_WAIT, self._deadline
        )
        waiting = list(containers)
        while True:
            for container in list(waiting):
                body = self.graph(
                    "GET",
                    container,
                    what="container status",
                    params={"fields": "status_code,status"},
                )
                code = body.get("status_code")
                if code in ("FINISHED", "PUBLISHED"):
                    waiting.remove(container)
                elif code == "ERROR":
                    raise PermanentError(
                        "Instagram could not process the media: "
                        f"{body.get('status') or 'ERROR'}. Check the file's format, "
                        "size and aspect ratio."
                    )
                elif code == "EXPIRED":
                    raise AdapterError(
                        "The Instagram media container expired before it was "
                        "published (24 hours); a new one is made on the retry."
                    )
            if not waiting:
                return
            if time.monotonic() >= deadline:
                raise AdapterError(
                    "Instagram is still processing the media after "
                    f"{settings.INSTAGRAM_PROCESSING_WAIT:g} s; retrying later."
                )
            time.sleep(settings.INSTAGRAM_POLL_INTERVAL)

    def _permalink(self, media_id: str) -> str | None:
        try:
            body = self.graph(
                "GET", media_id, what="permalink", params={"fields": "permalink"}
            )
        except AdapterError:
            return None  # published all the same; the link is a nicety
        return body.get("permalink")

    def post_exists(
        self, request: PublishRequest, *, since: dt.datetime
    ) -> PublishResult | bool | None:
        """The account's recent media, matched by caption and time."""
        if self.rules.post_type_of(request.post_type) == "story":
            return None  # stories carry no caption to match
        body = self.graph(
            "GET",
            f"{self.ig_user()}/media",
            what="recent media",
            params={"fields": "id,caption,timestamp,permalink", "limit": 50},
        )
        items = body.get("data") or []
        start = since - dt.timedelta(minutes=1)
        for item in items:
            created = graph_time(item.get("timestamp"))
            if (item.get("caption") or "") == request.text and (
                created is None or created >= start
            ):
                return PublishResult(str(item["id"]), item.get("permalink"))
        oldest = min(
            (t for t in (graph_time(i.get("timestamp")) for i in items) if t),
            default=None,
        )
        if len(items) >= 50 and (oldest is None or oldest >= start):
            return None  # the window is longer than one page: cannot tell
        return False

    def result_from_url(self, url: str) -> PublishResult:
        """instagram.com/p|reel|tv/<code> or /stories/<user>/<id>: a link
        carries no Graph id, so it is looked up by permalink among the
        account's latest 50 posts and its live stories."""
        key = _permalink_key(url)
        if key is None:
            raise PermanentError(
                "Not a link to an Instagram post: expected "
                "https://www.instagram.com/p/<code>/, /reel/<code>/ or a story's link."
            )
        edges = ("stories",) if key.startswith("story:") else ("media",)
        for edge in edges:
            body = self.graph(
                "GET",
                f"{self.ig_user()}/{edge}",
                what="recent media" if edge == "media" else "live stories",
                params={"fields": "id,permalink", "limit": 50},
            )
            for item in body.get("data") or []:
                permalink = item.get("permalink") or ""
                if _permalink_key(permalink) == key:
                    return PublishResult(str(item["id"]), permalink)
        raise PermanentError(
            "This link is not among the account's latest 50 posts and live "
            "stories on Instagram (another account's, or deleted?)."
        )

    def delete(self, platform_post_id: str) -> None:
        self.graph("DELETE", platform_post_id, what="delete media", sends=True)

    # --- numbers ---------------------------------------------------------------

    def fetch_stats(self) -> dict:
        body = self.graph(
            "GET",
            self.ig_user(),
            what="account stats",
            params={"fields": "followers_count,follows_count,media_count"},
        )
        return {
            "follower_count": int(body.get("followers_count") or 0),
            "following_count": int(body.get("follows_count") or 0),
            "post_count": int(body.get("media_count") or 0),
        }

    def fetch_post_metrics(self, platform_post_ids: list[str]) -> dict[str, dict]:
        metrics: dict[str, dict] = {}
        for start in range(0, len(platform_post_ids), self.metrics_batch_size):
            ids = platform_post_ids[start : start + self.metrics_batch_size]
            body = self.graph(
                "GET",
                "",
                what="media metrics",
                params={
                    "ids": ",".join(ids),
                    "fields": "like_count,comments_count,insights.metric(views,shares)",
                },
            )
            for media_id, item in body.items():
                if not isinstance(item, dict):
                    continue
                insights = {
                    row.get("name"): (row.get("values") or [{}])[0].get("value", 0)
                    for row in (item.get("insights") or {}).get("data", [])
                }
                metrics[media_id] = {
                    "likes": int(item.get("like_count") or 0),
                    "comments": int(item.get("comments_count") or 0),
                    "shares": int(insights.get("shares") or 0),
                    "views": int(insights.get("views") or 0),
                }
        return metrics

    # --- engagement ------------------------------------------------------------

    def perform_engagement(self, action: Action) -> str | None:
        refusal = self.support.refusal(action.action_type)
        if refusal:
            raise PermanentError(f"Instagram cannot {action.action_type}: {refusal}.")
        text = action.comment_text or action.message_text or ""
        if not action.target_id or not text:
            raise PermanentError(
                f"An Instagram {action.action_type} needs a target id and a text."
            )
        edge = "replies" if action.action_type == "reply" else "comments"
        body = self.graph(
            "POST",
            f"{action.target_id}/{edge}",
            what=action.action_type,
            sends=True,
            data={"message": text},
        )
        return str(body.get("id") or "")

    def engagement_exists(
        self, action: Action, *, since: dt.datetime
    ) -> str | bool | None:
        if action.action_type not in ("comment", "reply") or not action.target_id:
            return None
        edge = "replies" if action.action_type == "reply" else "comments"
        body = self.graph(
            "GET",
            f"{action.target_id}/{edge}",
            what=f"list {edge}",
            params={"fields": "id,text,username,timestamp"},
        )
        text = action.comment_text or action.message_text or ""
        for item in body.get("data") or []:
            if item.get("text") == text and item.get("username") in (
                self.account.account_username,
                None,
            ):
                return str(item["id"])
        return False


def _permalink_key(url: str) -> str | None:
    """What names one post in an Instagram link: the code of /p/<code>/ (and
    of a reel's or an IGTV video's link), "story:<id>" for a story; None when
    the link is none of these."""
    try:
        parts = link_parts(post_link(url, hosts=("instagram.com",), label="Instagram"))
    except PermanentError:
        return None
    if len(parts) == 3 and parts[0] == "stories" and parts[2].isdigit():
        return f"story:{parts[2]}"
    if parts and parts[0] not in ("p", "reel", "reels", "tv"):
        parts = parts[1:]  # instagram.com/<user>/p/<code>/
    if len(parts) == 2 and parts[0] in ("p", "reel", "reels", "tv"):
        return parts[1]
    return None
