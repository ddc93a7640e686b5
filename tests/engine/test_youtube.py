"""The YouTube adapter (google-api-python-client) against a loopback fake."""

import pytest
from django.utils import timezone

from platforms.adapters import PermanentError, PublishRequest, RateLimited, get_adapter
from tests import factories as f
from tests.engine import platform_helpers as h
from tests.engine.conftest import later
from tests.fakes.youtube import CHANNEL, TOKEN, FakeYouTube

pytestmark = pytest.mark.django_db
CHUNK = 256 * 1024  # the resumable protocol's unit


@pytest.fixture
def youtube(settings, tmp_path):
    with FakeYouTube() as server:
        settings.YOUTUBE_API_ROOT = server.url + "/"
        settings.YOUTUBE_UPLOAD_CHUNK_BYTES = CHUNK
        settings.MEDIA_ROOT = tmp_path
        settings.PLATFORM_ADAPTERS = {
            "youtube": "platforms.adapters.youtube.YouTubeAdapter"
        }
        yield server


@pytest.fixture
def channel(db):
    return f.PlatformAccountFactory(
        platform="youtube", account_id=CHANNEL, auth_data={"access_token": TOKEN}
    )


@pytest.fixture
def video(channel, settings):
    # 600 KB: three chunks of 256 KB
    data = bytes(range(256)) * 2400
    return h.media(
        channel.character, settings.MEDIA_ROOT, "v.mp4", kind="video", data=data
    )


def test_a_video_goes_up_in_resumable_chunks(
    youtube, due_post, channel, video, settings
):
    sp = due_post(
        platform_account=channel,
        content=video,
        caption="Morning routine\nFull story below",
        post_type="video",
    )
    settings.YOUTUBE_PRIVACY_STATUS = "unlisted"
    assert h.publish(now=later()) == 1
    (uploaded,) = youtube.videos.values()
    size = (settings.MEDIA_ROOT / "content" / "v.mp4").stat().st_size
    assert uploaded["bytes"] == size
    puts = [c for c in youtube.calls if c["method"] == "PUT"]
    assert len(puts) == -(-size // CHUNK) > 1
    assert uploaded["snippet"]["title"] == "Morning routine"
    assert uploaded["status"]["privacyStatus"] == "unlisted"
    assert all(c["token"] == TOKEN for c in youtube.calls)
    sp.refresh_from_db()
    assert (
        sp.post.platform_post_url == f"https://www.youtube.com/watch?v={uploaded['id']}"
    )


def test_a_short_is_tagged_and_must_be_vertical(youtube, channel, video, settings):
    adapter = get_adapter(channel)
    request = PublishRequest(
        marker="s",
        caption="Quick tip",
        post_type="short",
        media_path=str(settings.MEDIA_ROOT / video.file_path),
        media_type="video",
        media_info=h.media_info(video),
    )
    adapter.publish(request)
    (uploaded,) = youtube.videos.values()
    assert uploaded["snippet"]["title"] == "Quick tip #Shorts"
    wide = h.media_info(video, width=1920, height=1080)
    with pytest.raises(PermanentError, match="vertical or square"):
        adapter.publish(PublishRequest(**{**request.__dict__, "media_info": wide}))


def test_only_video_is_accepted(youtube, channel):
    with pytest.raises(PermanentError, match="YouTube publishes video only"):
        get_adapter(channel).publish(PublishRequest(marker="t", caption="words"))
    assert youtube.calls == []


def test_a_lost_answer_to_the_last_chunk_is_recovered_from_the_session(
    youtube, due_post, channel, video, settings
):
    settings.PLATFORM_READ_TIMEOUT = 0.3
    settings.PLATFORM_CONNECT_TIMEOUT = 0.2
    size = (settings.MEDIA_ROOT / "content" / "v.mp4").stat().st_size
    youtube.mode = "slow"
    youtube.slow_seconds = 1.0
    youtube.slow_when = lambda c: (
        c["method"] == "PUT"
        and (c["content_range"] or "").endswith(f"-{size - 1}/{size}")
    )
    sp = due_post(platform_account=channel, content=video, caption="Once")
    assert h.publish(now=later()) == 1
    assert len(youtube.videos) == 1
    status_query = [c for c in youtube.calls if c["content_range"] == f"bytes */{size}"]
    assert status_query  # the client asked the session, it did not upload again
    sp.refresh_from_db()
    assert sp.status == "published"


def test_quota_exhaustion_waits_until_pacific_midnight(
    youtube, due_post, channel, video
):
    youtube.mode = "quota"
    sp = due_post(platform_account=channel, content=video, caption="later")
    h.publish(now=later())
    channel.refresh_from_db()
    assert channel.connection_status == "rate_limited"
    wait = (channel.rate_limit_reset_at - timezone.now()).total_seconds()
    assert 0 < wait <= 24 * 3600
    sp.refresh_from_db()
    assert (sp.status, sp.retry_count) == ("scheduled", 0)


def test_401_parks_and_5xx_retries(youtube, due_post, channel, video):
    youtube.mode = "500"
    sp = due_post(platform_account=channel, content=video, caption="x")
    h.publish(now=later())
    sp.refresh_from_db()
    assert (sp.status, sp.retry_count) == ("scheduled", 1)
    youtube.mode = "401"
    h.publish(now=later(7200))
    channel.refresh_from_db()
    assert channel.connection_status == "error"


def test_statistics_reconciliation_delete_and_engagement(
    youtube, channel, video, settings
):
    adapter = get_adapter(channel)
    request = PublishRequest(
        marker="v",
        caption="Stats",
        media_path=str(settings.MEDIA_ROOT / video.file_path),
        media_type="video",
    )
    since = timezone.now()
    posted = adapter.publish(request)
    assert adapter.post_exists(request, since=since) == posted
    other = PublishRequest(marker="o", caption="never", media_type="video")
    assert adapter.post_exists(other, since=since) is False
    youtube.videos[posted.platform_post_id]["statistics"] = {
        "viewCount": "900",
        "likeCount": "40",
        "commentCount": "7",
    }
    assert adapter.fetch_post_metrics([posted.platform_post_id]) == {
        posted.platform_post_id: {"likes": 40, "comments": 7, "shares": 0, "views": 900}
    }
    assert adapter.fetch_stats() == {"post_count": 1, "follower_count": 321}
    for kind, extra in [
        ("like", {}),
        ("comment", {"comment_text": "nice"}),
        ("reply", {"comment_text": "thanks", "target_id": "Ug1"}),
        ("follow", {"target_id": "UCother"}),
        ("unfollow", {"target_id": "UCother"}),
    ]:
        action = f.EngagementActionFactory(
            platform_account=channel,
            action_type=kind,
            **({"target_id": posted.platform_post_id} | extra),
        )
        assert adapter.perform_engagement(action)
    assert youtube.ratings == {posted.platform_post_id: "like"}
    assert youtube.subscriptions == {}
    assert [
        c["textOriginal"] for c in youtube.comments.values() if "textOriginal" in c
    ] == ["thanks"]
    share = f.EngagementActionFactory(platform_account=channel, action_type="share")
    with pytest.raises(PermanentError, match="YouTube cannot share"):
        adapter.perform_engagement(share)
    adapter.delete(posted.platform_post_id)
    assert youtube.videos == {}
    youtube.mode = "quota"
    with pytest.raises(RateLimited):
        adapter.fetch_stats()
