"""The YouTube adapter (google-api-python-client) against a loopback fake."""

from dataclasses import replace

import pytest
from django.utils import timezone

from platforms.adapters import PermanentError, PublishRequest, RateLimited, get_adapter
from platforms.adapters.rules import PostDraft
from tests import factories as f
from tests.engine import platform_helpers as h
from tests.engine.conftest import later
from tests.fakes import youtube as fake
from tests.fakes.youtube import CHANNEL, EXPIRED, TOKEN, FakeYouTube

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


def test_a_lost_upload_the_session_cannot_settle_is_found_among_recent_uploads(
    youtube, due_post, channel, video, settings
):
    """The last chunk makes the video and its answer is lost; the questions to
    the upload session time out too, so the call ends in doubt. The publisher
    looks the video up among the channel's recent uploads and records it:
    one video, the post published with its id and link, nothing uploaded
    again on the next drain."""
    settings.PLATFORM_READ_TIMEOUT = 0.3
    settings.PLATFORM_CONNECT_TIMEOUT = 0.2
    size = (settings.MEDIA_ROOT / "content" / "v.mp4").stat().st_size
    youtube.mode = "slow"
    youtube.slow_seconds = 1.0
    youtube.slow_when = lambda c: (
        c["method"] == "PUT"
        and (c["content_range"] or "").endswith((f"-{size - 1}/{size}", f"*/{size}"))
    )
    sp = due_post(
        platform_account=channel,
        content=video,
        caption="Lost answer",
        post_type="video",
    )
    assert h.publish(now=later()) == 1
    (uploaded,) = youtube.videos.values()
    assert uploaded["snippet"]["title"] == "Lost answer"
    status_queries = [
        c for c in youtube.calls if c["content_range"] == f"bytes */{size}"
    ]
    assert status_queries  # the session was asked, and gave no answer in time
    searches = [c for c in youtube.calls if c["path"] == "/youtube/v3/search"]
    assert len(searches) == 1 and searches[0]["params"]["forMine"] == "true"
    sp.refresh_from_db()
    assert sp.status == "published"
    assert sp.post.platform_post_id == uploaded["id"]
    assert (
        sp.post.platform_post_url == f"https://www.youtube.com/watch?v={uploaded['id']}"
    )
    youtube.mode = "ok"
    assert h.publish(now=later(7200)) == 0
    assert len(youtube.videos) == 1 and len(opened_sessions(youtube)) == 1


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


def opened_sessions(youtube):
    """The resumable upload sessions the adapter asked for (with metadata)."""
    return [
        c
        for c in youtube.calls
        if c["method"] == "POST" and c["path"] == "/upload/youtube/v3/videos"
    ]


def test_metadata_youtube_refuses_fails_the_post_at_once_with_its_reason(
    youtube, due_post, channel, video
):
    """A 400 with YouTube's error body (invalidVideoMetadata, a refusal the
    rules could not foresee) fails the post for good with YouTube's words;
    the upload is not tried again."""
    youtube.refuse_metadata = (
        "invalidVideoMetadata",
        "The request metadata is invalid.",
    )
    sp = due_post(platform_account=channel, content=video, caption="Tagged")
    h.publish(now=later())
    sp.refresh_from_db()
    assert (sp.status, sp.retry_count) == ("failed", 0)
    assert sp.error_message == (
        "YouTube refused upload: The request metadata is invalid."
    )
    assert TOKEN not in sp.error_message
    h.publish(now=later(7200))
    assert len(opened_sessions(youtube)) == 1
    assert not [c for c in youtube.calls if c["method"] == "PUT"]
    assert youtube.videos == {}
    channel.refresh_from_db()
    assert channel.connection_status != "error"  # the account is fine


def test_tags_over_500_characters_are_refused_when_scheduled(youtube, channel, video):
    """snippet.tags holds 500 characters (commas between tags counted, quotes
    around a tag with a space): 30 hashtags of 24 characters are refused when
    the post is scheduled, before anything is sent; 20 of them go up."""
    from platforms.adapters.youtube import RULES, tags_length, tags_of

    long_tags = [f"#longhashtaglonghashtag{i:02d}" for i in range(30)]
    media = (h.media_info(video),)
    draft = PostDraft(post_type="video", caption="Tagged", hashtags=tuple(long_tags))
    problems = RULES.problems(replace(draft, media=media))
    assert problems == {
        "hashtags": [
            "YouTube takes at most 500 characters of tags (the first 30 hashtags, "
            "with a comma between each); these make 749: use fewer or shorter "
            "hashtags."
        ]
    }
    assert tags_length(["a b", "c"]) == len('"a b",c')
    fits = replace(draft, hashtags=tuple(long_tags[:20]), media=media)
    assert RULES.problems(fits) == {}
    assert tags_length(tags_of(fits.hashtags)) == 20 * 24 + 19
    assert youtube.calls == []


def test_the_description_limit_is_counted_in_bytes_as_youtube_does(
    youtube, channel, video, settings
):
    """YouTube takes at most 5000 UTF-8 bytes of description: 2500 accented
    letters go up, 2501 are refused when scheduled, before anything is sent."""
    adapter = get_adapter(channel)
    request = PublishRequest(
        marker="d",
        caption="é" * 2500,
        media_path=str(settings.MEDIA_ROOT / video.file_path),
        media_type="video",
        media_info=h.media_info(video),
    )
    adapter.publish(request)
    assert len(youtube.videos) == 1
    calls = len(youtube.calls)
    longer = PublishRequest(**{**request.__dict__, "caption": "é" * 2501})
    assert adapter.validate(longer.draft)["caption"] == [
        "YouTube allows 5000 UTF-8 bytes; caption and hashtags make 5002."
    ]
    with pytest.raises(PermanentError, match="5000 UTF-8 bytes"):
        adapter.publish(longer)
    assert len(youtube.calls) == calls


def test_an_expired_token_is_refreshed_once_and_the_video_goes_up_once(
    youtube, due_post, channel, video, settings
):
    settings.PLATFORM_TOKEN_REFRESHER = "tests.fakes.youtube.refresh_to_valid_token"
    youtube.expired_tokens.add(EXPIRED)
    channel.auth_data = {"access_token": EXPIRED}
    channel.save()
    fake.REFRESHED.clear()
    sp = due_post(
        platform_account=channel,
        content=video,
        caption="Fresh token",
        post_type="video",
    )
    assert h.publish(now=later()) == 1
    assert [str(channel.pk)] == fake.REFRESHED
    first = youtube.calls[0]
    assert first["token"] == EXPIRED
    assert [c["token"] for c in opened_sessions(youtube)] == [EXPIRED, TOKEN]
    assert all(c["token"] == TOKEN for c in youtube.calls[1:])
    (uploaded,) = youtube.videos.values()
    assert uploaded["snippet"]["title"] == "Fresh token"
    sp.refresh_from_db()
    assert sp.status == "published"
    assert sp.post.platform_post_id == uploaded["id"]


def test_a_token_refused_again_after_the_refresh_parks_the_account(
    youtube, due_post, channel, video, settings
):
    settings.PLATFORM_TOKEN_REFRESHER = "tests.fakes.youtube.refresh_to_valid_token"
    channel.auth_data = {"access_token": EXPIRED}
    channel.save()
    youtube.mode = "401"  # revoked: the refreshed token is refused too
    fake.REFRESHED.clear()
    sp = due_post(platform_account=channel, content=video, caption="x")
    h.publish(now=later())
    assert [str(channel.pk)] == fake.REFRESHED  # once, not in a loop
    assert [c["token"] for c in opened_sessions(youtube)] == [EXPIRED, TOKEN]
    assert youtube.videos == {}
    channel.refresh_from_db()
    assert channel.connection_status == "error"
    sp.refresh_from_db()
    assert (sp.status, sp.retry_count) == ("scheduled", 0)
    assert "YouTube refused the token" in sp.error_message
    assert TOKEN not in sp.error_message and EXPIRED not in sp.error_message


def test_metrics_of_120_videos_take_three_requests_of_at_most_50(youtube, channel):
    ids = [
        youtube.add_video(
            {"viewCount": str(10 * i), "likeCount": str(i), "commentCount": str(i % 7)}
        )["id"]
        for i in range(120)
    ]
    metrics = get_adapter(channel).fetch_post_metrics(ids)
    batches = [
        c["params"]["id"].split(",")
        for c in youtube.calls
        if c["method"] == "GET" and c["path"] == "/youtube/v3/videos"
    ]
    assert [len(batch) for batch in batches] == [50, 50, 20]
    assert sorted(i for batch in batches for i in batch) == sorted(ids)
    assert metrics == {
        video_id: {"likes": i, "comments": i % 7, "shares": 0, "views": 10 * i}
        for i, video_id in enumerate(ids)
    }


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
