"""The Instagram adapter against a loopback fake of the Graph API."""

import datetime as dt

import pytest
from django.utils import timezone

from platforms.adapters import PermanentError, PublishRequest, get_adapter
from platforms.models import EngagementAction, PlatformAccount, Post, ScheduledPost
from tests import factories as f
from tests.engine import platform_helpers as h
from tests.engine.conftest import later
from tests.fakes.graph import TOKEN, FakeGraph, error

pytestmark = pytest.mark.django_db
IG_USER = "17841400000000001"


@pytest.fixture
def graph(settings, tmp_path):
    with FakeGraph() as server:
        settings.INSTAGRAM_API_BASE = server.url
        settings.GRAPH_API_BASE = server.url
        settings.INSTAGRAM_POLL_INTERVAL = 0.01
        settings.MEDIA_ROOT = tmp_path
        settings.MEDIA_PUBLIC_BASE_URL = h.PUBLIC_BASE
        settings.PLATFORM_ADAPTERS = {
            "instagram": "platforms.adapters.instagram.InstagramAdapter"
        }
        yield server


@pytest.fixture
def ig_account(db):
    return f.PlatformAccountFactory(
        platform="instagram",
        account_id=IG_USER,
        account_username="luna_ai",
        auth_data={"access_token": TOKEN},
    )


@pytest.fixture
def image_post(due_post, ig_account, settings):
    content = h.media(ig_account.character, settings.MEDIA_ROOT, "look.png")
    return due_post(
        platform_account=ig_account,
        content=content,
        caption="Golden hour",
        hashtags=["sunset"],
        post_type="post",
    )


def containers(graph):
    return [
        c for c in graph.calls if c["method"] == "POST" and c["path"].endswith("/media")
    ]


def test_an_image_goes_through_container_status_and_media_publish(
    graph, image_post, client
):
    assert h.publish(now=later()) == 1
    image_post.refresh_from_db()
    assert image_post.status == "published"
    post = image_post.post
    (media,) = graph.published()
    assert post.platform_post_id == media["id"]
    assert post.platform_post_url == media["permalink"]
    assert media["caption"] == "Golden hour\n\n#sunset"
    # the container was polled until FINISHED before media_publish
    paths = [c["path"].rsplit("/", 1)[-1] for c in graph.calls]
    assert paths.index("media_publish") > paths.index("content_publishing_limit")
    polls = [
        c for c in graph.calls if c["params"].get("fields") == "status_code,status"
    ]
    assert len(polls) == 2
    # the token went in the header, never in a URL
    assert all(c["token"] == TOKEN for c in graph.calls)
    # Instagram fetched a signed link that serves a JPEG copy of the PNG
    (create,) = containers(graph)
    response = h.fetch_link(client, create["params"]["image_url"])
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content)[:2] == b"\xff\xd8"


def test_a_reel_and_a_story_use_their_media_types(
    graph, due_post, ig_account, settings
):
    video = h.media(ig_account.character, settings.MEDIA_ROOT, "clip.mp4", kind="video")
    reel = due_post(platform_account=ig_account, content=video, post_type="reel")
    story = due_post(platform_account=ig_account, content=video, post_type="story")
    assert h.publish(now=later()) == 2
    by_type = {c["params"]["media_type"]: c["params"] for c in containers(graph)}
    assert set(by_type) == {"REELS", "STORIES"}
    assert by_type["REELS"]["video_url"].startswith(h.PUBLIC_BASE)
    assert "caption" not in by_type["STORIES"]
    for sp in (reel, story):
        sp.refresh_from_db()
        assert sp.status == "published"


def test_a_post_with_several_files_is_a_carousel(graph, due_post, ig_account, settings):
    first = h.media(ig_account.character, settings.MEDIA_ROOT, "a.png")
    second = h.media(ig_account.character, settings.MEDIA_ROOT, "b.png")
    sp = due_post(
        platform_account=ig_account,
        content=first,
        additional_content_ids=[second.pk],
        caption="Two looks",
    )
    assert h.publish(now=later()) == 1
    created = [c["params"] for c in containers(graph)]
    assert [p.get("is_carousel_item") for p in created[:2]] == ["true", "true"]
    parent = created[2]
    assert (
        parent["media_type"] == "CAROUSEL" and len(parent["children"].split(",")) == 2
    )
    sp.refresh_from_db()
    assert sp.status == "published"


def test_a_carousel_with_a_video_waits_for_the_video_child_before_the_parent(
    graph, due_post, ig_account, settings
):
    graph.video_states = ["IN_PROGRESS", "IN_PROGRESS", "FINISHED"]
    image = h.media(ig_account.character, settings.MEDIA_ROOT, "still.png")
    video = h.media(ig_account.character, settings.MEDIA_ROOT, "move.mp4", kind="video")
    sp = due_post(
        platform_account=ig_account,
        content=image,
        additional_content_ids=[video.pk],
        caption="Still and moving",
    )
    assert h.publish(now=later()) == 1
    made = [o for o in graph.objects.values() if o["kind"] == "container"]
    first, clip, parent = made
    assert "image_url" in first["params"] and "media_type" not in first["params"]
    assert clip["params"]["media_type"] == "VIDEO"
    assert clip["params"]["video_url"].startswith(h.PUBLIC_BASE)
    assert clip["params"]["is_carousel_item"] == "true"
    assert first["params"]["is_carousel_item"] == "true"
    assert parent["params"]["media_type"] == "CAROUSEL"
    assert parent["params"]["children"] == f"{first['id']},{clip['id']}"
    # the video child was polled until FINISHED before the parent was made
    polls = [
        i
        for i, c in enumerate(graph.calls)
        if c["method"] == "GET" and c["path"].endswith(f"/{clip['id']}")
    ]
    assert len(polls) == 3
    (parent_made,) = [
        i
        for i, c in enumerate(graph.calls)
        if c["params"].get("media_type") == "CAROUSEL"
    ]
    assert polls[-1] < parent_made
    sp.refresh_from_db()
    assert sp.status == "published"
    (media,) = graph.published()
    assert media["media_type"] == "CAROUSEL"
    assert media["caption"].startswith("Still and moving")
    assert sp.post.platform_post_id == media["id"]


def test_a_container_in_error_fails_with_a_clear_message(graph, image_post):
    graph.container_states = ["IN_PROGRESS", "ERROR"]
    h.publish(now=later())
    image_post.refresh_from_db()
    assert image_post.status == "failed"
    assert "Instagram could not process the media" in image_post.error_message
    assert not graph.published()


def test_an_image_url_meta_refuses_fails_the_post_with_metas_words(graph, image_post):
    """Meta's error object for the container (code 100: the image_url it
    could not fetch) fails the post at once with what Meta says a person
    should read; no retry is used, nothing is published and the account stays
    connected (the token is fine)."""
    graph.mode = "invalid"
    graph.invalid_when = lambda call: (
        call["method"] == "POST" and call["path"].endswith(f"/{IG_USER}/media")
    )
    graph.invalid_answer = error(
        400,
        100,
        "Invalid parameter",
        2207052,
        user_title="Media download has failed.",
        user_msg="The media could not be fetched from this URI. "
        "Check the URI and try again.",
    )
    assert h.publish(now=later()) == 0
    image_post.refresh_from_db()
    assert (image_post.status, image_post.retry_count) == ("failed", 0)
    assert image_post.error_message == (
        "Instagram refused create container: The media could not be fetched from "
        "this URI. Check the URI and try again."
    )
    assert TOKEN not in image_post.error_message
    assert len(containers(graph)) == 1
    assert not [c for c in graph.calls if c["path"].endswith("/media_publish")]
    assert not graph.published()
    account = PlatformAccount.objects.get(pk=image_post.platform_account_id)
    assert account.connection_status == "connected" and account.is_connected
    h.publish(now=later(7200))
    assert len(containers(graph)) == 1


def test_an_expired_container_is_retried(graph, image_post):
    graph.container_states = ["EXPIRED"]
    h.publish(now=later())
    image_post.refresh_from_db()
    assert (image_post.status, image_post.retry_count) == ("scheduled", 1)
    assert "expired" in image_post.error_message


def test_still_processing_after_the_wait_is_retried(graph, image_post, settings):
    settings.INSTAGRAM_PROCESSING_WAIT = 0.05
    graph.container_states = ["IN_PROGRESS"]
    h.publish(now=later())
    image_post.refresh_from_db()
    assert (image_post.status, image_post.retry_count) == ("scheduled", 1)
    assert "still processing" in image_post.error_message


def test_the_24_hour_cap_waits_instead_of_failing(graph, image_post):
    graph.quota_usage = graph.quota_total = 100
    h.publish(now=later())
    image_post.refresh_from_db()
    assert (image_post.status, image_post.retry_count) == ("scheduled", 0)
    assert not containers(graph)  # checked first: nothing was created
    account = PlatformAccount.objects.get(pk=image_post.platform_account_id)
    assert account.connection_status == "rate_limited"
    wait = (account.rate_limit_reset_at - timezone.now()).total_seconds()
    assert 3500 < wait <= 3600


def test_throttling_waits_as_long_as_meta_says(graph, image_post):
    graph.mode = "throttle"
    h.publish(now=later())
    account = PlatformAccount.objects.get(pk=image_post.platform_account_id)
    wait = (account.rate_limit_reset_at - timezone.now()).total_seconds()
    assert account.connection_status == "rate_limited"
    assert 7 * 60 - 5 < wait <= 7 * 60


def test_a_server_error_is_retried(graph, image_post):
    graph.mode = "500"
    h.publish(now=later())
    image_post.refresh_from_db()
    assert (image_post.status, image_post.retry_count) == ("scheduled", 1)
    assert "Graph API error 500" not in image_post.error_message
    assert "Instagram error 500" in image_post.error_message


def test_a_site_without_a_public_address_makes_the_post_wait(
    graph, image_post, settings
):
    settings.MEDIA_PUBLIC_BASE_URL = ""
    h.publish(now=later())
    image_post.refresh_from_db()
    assert (image_post.status, image_post.retry_count) == ("scheduled", 1)
    assert "MEDIA_PUBLIC_BASE_URL is not set" in image_post.error_message
    assert not containers(graph)  # nothing reached Instagram


def test_an_expired_token_is_refreshed_once_and_the_post_goes_out(
    graph, image_post, settings
):
    settings.PLATFORM_TOKEN_REFRESHER = (
        "tests.engine.platform_helpers.refresh_to_valid_graph_token"
    )
    graph.expired_tokens.add("old-token")
    PlatformAccount.objects.filter(pk=image_post.platform_account_id).update(
        auth_data=None
    )
    account = PlatformAccount.objects.get(pk=image_post.platform_account_id)
    account.auth_data = {"access_token": "old-token"}
    account.save()
    h.REFRESHED.clear()
    assert h.publish(now=later()) == 1
    assert [str(account.pk)] == h.REFRESHED


def test_a_revoked_token_parks_the_account(graph, image_post, settings):
    settings.PLATFORM_TOKEN_REFRESHER = (
        "tests.engine.platform_helpers.refresh_to_valid_graph_token"
    )
    graph.mode = "revoked"
    h.publish(now=later())
    account = PlatformAccount.objects.get(pk=image_post.platform_account_id)
    assert account.connection_status == "error"
    image_post.refresh_from_db()
    assert image_post.status == "scheduled" and image_post.retry_count == 0
    assert TOKEN not in image_post.error_message


def test_a_timeout_at_media_publish_is_reconciled_from_recent_media(
    graph, image_post, settings
):
    settings.PLATFORM_READ_TIMEOUT = 0.3
    graph.mode = "slow"
    graph.slow_seconds = 1.0
    graph.slow_when = lambda call: call["path"].endswith("/media_publish")
    assert h.publish(now=later()) == 1
    image_post.refresh_from_db()
    assert image_post.status == "published"
    (media,) = graph.published()  # published once, found by its caption
    assert image_post.post.platform_post_id == media["id"]
    h.publish(now=later(7200))
    assert len(graph.published()) == 1


def test_post_exists_says_no_when_recent_media_lacks_the_post(graph, ig_account):
    adapter = get_adapter(ig_account)
    request = PublishRequest(marker="m1", caption="never sent")
    assert adapter.post_exists(request, since=timezone.now()) is False
    story = PublishRequest(marker="m2", caption="", post_type="story")
    assert adapter.post_exists(story, since=timezone.now()) is None


def test_text_only_and_youtube_style_posts_are_refused_before_any_call(
    graph, ig_account
):
    adapter = get_adapter(ig_account)
    with pytest.raises(PermanentError, match="text-only posts are refused"):
        adapter.publish(PublishRequest(marker="m", caption="just words"))
    assert graph.calls == []


def test_stats_metrics_delete_and_engagement(graph, image_post, ig_account):
    h.publish(now=later())
    adapter = get_adapter(ig_account)
    (media,) = graph.published()
    media.update(likes=12, comments=3, views=400, shares=2)
    assert adapter.fetch_stats() == {
        "follower_count": 1234,
        "following_count": 56,
        "post_count": 1,
    }
    assert adapter.fetch_post_metrics([media["id"], "gone"]) == {
        media["id"]: {"likes": 12, "comments": 3, "shares": 2, "views": 400}
    }
    comment = f.EngagementActionFactory(
        platform_account=ig_account,
        action_type="comment",
        target_id=media["id"],
        comment_text="so pretty",
    )
    since = timezone.now() - dt.timedelta(seconds=1)
    assert adapter.engagement_exists(comment, since=since) is False
    comment_id = adapter.perform_engagement(comment)
    assert adapter.engagement_exists(comment, since=since) == comment_id
    reply = f.EngagementActionFactory(
        platform_account=ig_account,
        action_type="reply",
        target_id=comment_id,
        comment_text="thank you!",
    )
    assert adapter.perform_engagement(reply)
    like = f.EngagementActionFactory(platform_account=ig_account, action_type="like")
    with pytest.raises(PermanentError, match="Instagram cannot like: .*no endpoint"):
        adapter.perform_engagement(like)
    assert EngagementAction.objects.count() == 3
    adapter.delete(media["id"])
    assert not graph.published()
    assert (
        Post.objects.count() == ScheduledPost.objects.filter(status="published").count()
    )


def test_media_metrics_of_120_posts_take_three_requests_of_at_most_50(
    graph, ig_account
):
    ids = graph.add_posts("ig_media", IG_USER, 120)
    metrics = get_adapter(ig_account).fetch_post_metrics(ids)
    assert metrics == graph.added_metrics(ids)
    assert graph.lookup_sizes() == [50, 50, 20]
