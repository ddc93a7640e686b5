"""Each platform's rules, checked when a post is scheduled (model clean, admin
form, API 400), not when it fails at publish time."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from platforms.adapters import MediaInfo, post_problems
from platforms.adapters.rules import PostDraft
from platforms.models import ScheduledPost
from tests import factories as f

pytestmark = pytest.mark.django_db

IMAGE = MediaInfo("image", "image/png", 500_000, 1080, 1350)
VIDEO = MediaInfo("video", "video/mp4", 5_000_000, 1080, 1920, 20)


def problems(platform, **draft):
    return post_problems(platform, PostDraft(**{"post_type": None, **draft}))


def test_x_counts_weighted_characters():
    assert problems("twitter", caption="a" * 280) == {}
    # CJK characters weigh two: 150 of them are 300
    found = problems("twitter", caption="語" * 150)
    assert found["caption"] == [
        "X allows 280 weighted characters; caption and hashtags make 300."
    ]
    # a URL counts 23 whatever its length
    assert (
        problems("twitter", caption="x" * 250 + " https://example.com/" + "a" * 80)
        == {}
    )


def test_instagram_caps_caption_and_hashtags():
    tags = tuple(f"tag{n}" for n in range(31))
    found = problems("instagram", caption="c" * 2201, hashtags=tags, media=(IMAGE,))
    assert "2200 characters" in found["caption"][0]
    assert found["hashtags"] == [
        "Instagram allows 30 hashtags; caption and hashtags hold 31."
    ]
    assert problems("instagram", caption="#a " * 30, media=(IMAGE,)) == {}


def test_text_only_is_refused_where_the_platform_refuses_it():
    assert (
        "text-only posts are refused"
        in problems("instagram", caption="hi")["content"][0]
    )
    assert problems("twitter", caption="hi") == {}
    assert problems("facebook", caption="hi") == {}
    assert problems("telegram", caption="hi") == {}
    youtube = problems("youtube", caption="hi")["content"][0]
    assert "YouTube publishes video only" in youtube


def test_media_type_per_platform_and_post_type():
    found = problems("youtube", media=(IMAGE,))
    assert found["content"] == [
        "A YouTube video takes video, not image. YouTube publishes video only."
    ]
    assert problems("instagram", post_type="reel", media=(IMAGE,))["content"]
    assert (
        "does not publish 'tweet'"
        in problems("instagram", post_type="tweet")["post_type"][0]
    )
    assert problems("instagram", post_type="story", media=(VIDEO,)) == {}


def test_size_duration_and_aspect_ratio_limits():
    wide = MediaInfo("image", "image/jpeg", 500_000, 3000, 1000)
    assert (
        "between 4:5 and 1.91:1" in problems("instagram", media=(wide,))["content"][0]
    )
    big = MediaInfo("image", "image/jpeg", 9 * 1024 * 1024, 1080, 1080)
    assert problems("instagram", media=(big,))["content"] == [
        "The file is 9 MB; the limit is 8 MB."
    ]
    long_story = MediaInfo("video", "video/mp4", 1_000_000, 1080, 1920, 61)
    assert (
        "maximum is 60 s"
        in problems("instagram", post_type="story", media=(long_story,))["content"][0]
    )
    long_short = MediaInfo("video", "video/mp4", 1_000_000, 1080, 1920, 181)
    assert (
        "maximum is 180 s"
        in problems("youtube", post_type="short", media=(long_short,))["content"][0]
    )
    x_video = MediaInfo("video", "video/mp4", 1_000_000, 1080, 1920, 141)
    assert "maximum is 140 s" in problems("twitter", media=(x_video,))["content"][0]
    assert problems("twitter", media=(VIDEO, IMAGE))["additional_content_ids"] == [
        "An X post takes one video, or up to 4 images, not both."
    ]
    assert (
        "at most 10 files"
        in problems("instagram", media=(IMAGE,) * 11)["additional_content_ids"][0]
    )


def _scheduled(platform, content_type, **kwargs):
    account = f.PlatformAccountFactory(platform=platform)
    content = f.ContentFactory(
        character=account.character, content_type=content_type, approved=True
    )
    return ScheduledPost(
        character=account.character,
        platform_account=account,
        content=content,
        scheduled_at=timezone.now() + dt.timedelta(hours=1),
        caption=kwargs.pop("caption", "hello"),
        **kwargs,
    )


def test_the_model_refuses_an_image_on_youtube():
    sp = _scheduled("youtube", "image")
    with pytest.raises(ValidationError) as caught:
        sp.full_clean()
    assert "YouTube publishes video only" in caught.value.message_dict["content"][0]
    ok = _scheduled("instagram", "image", post_type="post")
    ok.full_clean()


def test_published_rows_are_not_judged_again():
    sp = _scheduled("youtube", "image", status="published", published_at=timezone.now())
    sp.full_clean()


@pytest.mark.parametrize(
    "platform", ["instagram", "facebook", "twitter", "youtube", "telegram"]
)
def test_every_adapter_call_fits_the_queue_budget(platform, settings):
    """A drain starts no call it cannot finish: an adapter whose call_timeout
    is longer than the task budget would never publish at all."""
    from config.workqueue import RECORD_MARGIN
    from platforms.adapters import adapter_class_for

    account = f.PlatformAccountFactory(platform=platform)
    adapter = adapter_class_for(platform)(account)
    assert 0 < adapter.call_timeout + RECORD_MARGIN <= settings.QUEUE_TASK_BUDGET
