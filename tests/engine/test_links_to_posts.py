"""A link a person copied from a platform, turned by its adapter into the post
the adapter's own publish would have recorded (`result_from_url`): how a post
whose outcome is unknown is recorded. Each platform is asked whether the link
is the account's post; other links are refused with the reason."""

import pytest

from platforms.adapters import PermanentError, PublishRequest
from platforms.adapters.facebook import FacebookAdapter
from platforms.adapters.instagram import InstagramAdapter
from platforms.adapters.x import XAdapter
from platforms.adapters.youtube import YouTubeAdapter
from tests import factories as f
from tests.engine import platform_helpers as h
from tests.fakes import graph as graph_fake
from tests.fakes import x as x_fake
from tests.fakes import youtube as youtube_fake
from tests.fakes.graph import FakeGraph
from tests.fakes.x import FakeX
from tests.fakes.youtube import FakeYouTube

pytestmark = pytest.mark.django_db

IG_USER = "17841400000000001"
PAGE = "page-1001"


def assert_refused(adapter, url: str, reason: str) -> None:
    with pytest.raises(PermanentError, match=reason):
        adapter.result_from_url(url)


# --- X ------------------------------------------------------------------------


@pytest.fixture
def x(settings):
    with FakeX() as server:
        settings.X_API_BASE = server.url
        account = f.PlatformAccountFactory(
            platform="twitter",
            account_id=x_fake.USER_ID,
            account_username="luna_ai",
            auth_data={"access_token": x_fake.TOKEN, "refresh_token": "r"},
        )
        yield server, XAdapter(account)


def test_x_takes_a_link_to_the_accounts_own_post(x):
    server, adapter = x
    published = adapter.publish(PublishRequest(marker="m", caption="gm"))
    for url in (
        f"https://x.com/luna_ai/status/{published.platform_post_id}",
        f"https://twitter.com/Luna_AI/status/{published.platform_post_id}?s=20",
        f"https://mobile.twitter.com/i/web/status/{published.platform_post_id}",
    ):
        assert adapter.result_from_url(url) == published
    lookup = server.calls[-1]
    assert lookup["params"]["tweet.fields"] == "author_id"


def test_x_refuses_another_accounts_post_and_unknown_ids(x):
    server, adapter = x
    published = adapter.publish(PublishRequest(marker="m", caption="theirs"))
    server.tweets[published.platform_post_id]["author_id"] = "42"
    assert_refused(
        adapter,
        f"https://x.com/someone/status/{published.platform_post_id}",
        "another account's",
    )
    assert_refused(
        adapter, "https://x.com/luna_ai/status/123", "X does not know this post"
    )
    assert_refused(adapter, "https://x.com/luna_ai", "Not a link to a post on X")
    assert_refused(
        adapter, "https://x.com.evil.example/a/status/1", "expected https://x.com/"
    )


# --- YouTube --------------------------------------------------------------------


@pytest.fixture
def youtube(settings):
    with FakeYouTube() as server:
        settings.YOUTUBE_API_ROOT = server.url + "/"
        account = f.PlatformAccountFactory(
            platform="youtube",
            account_id=youtube_fake.CHANNEL,
            auth_data={"access_token": youtube_fake.TOKEN},
        )
        yield server, YouTubeAdapter(account)


def test_youtube_takes_each_form_of_a_link_to_the_channels_video(youtube):
    server, adapter = youtube
    video_id = server.add_video({"viewCount": "1"})["id"]
    for url in (
        f"https://www.youtube.com/watch?v={video_id}&t=4s",
        f"https://youtu.be/{video_id}",
        f"https://www.youtube.com/shorts/{video_id}",
        f"https://m.youtube.com/watch?v={video_id}",
    ):
        result = adapter.result_from_url(url)
        assert (result.platform_post_id, result.url) == (
            video_id,
            f"https://www.youtube.com/watch?v={video_id}",
        )


def test_youtube_refuses_another_channels_video_and_bad_ids(youtube):
    server, adapter = youtube
    video_id = server.add_video({"viewCount": "1"})["id"]
    server.videos[video_id]["channel"] = "UCsomeoneelse00000000001"
    assert_refused(
        adapter,
        f"https://youtu.be/{video_id}",
        "another channel's",
    )
    assert_refused(adapter, "https://youtu.be/AAAAAAAAAAA", "does not know this video")
    assert_refused(
        adapter, "https://www.youtube.com/watch?v=short", "Not a link to a YouTube"
    )
    assert_refused(adapter, "https://www.youtube.com/@luna", "Not a link to a YouTube")


# --- Instagram and Facebook ---------------------------------------------------------


@pytest.fixture
def graph(settings, tmp_path):
    with FakeGraph() as server:
        settings.INSTAGRAM_API_BASE = server.url
        settings.GRAPH_API_BASE = server.url
        settings.INSTAGRAM_POLL_INTERVAL = 0.01
        settings.FACEBOOK_POLL_INTERVAL = 0.01
        settings.MEDIA_ROOT = tmp_path
        settings.MEDIA_PUBLIC_BASE_URL = h.PUBLIC_BASE
        yield server


def test_instagram_finds_a_post_and_a_story_by_their_links(graph, settings):
    account = f.PlatformAccountFactory(
        platform="instagram",
        account_id=IG_USER,
        account_username="luna.ai",
        auth_data={"access_token": graph_fake.TOKEN},
    )
    adapter = InstagramAdapter(account)
    image = h.media(account.character, settings.MEDIA_ROOT, "look.png")
    path, info = str(settings.MEDIA_ROOT / image.file_path), None
    post = adapter.publish(
        PublishRequest(
            marker="a", caption="Golden hour", media_path=path, media_type="image"
        )
    )
    story = adapter.publish(
        PublishRequest(
            marker="b",
            caption="",
            post_type="story",
            media_path=path,
            media_type="image",
            media_info=info,
        )
    )
    code = post.url.rstrip("/").rsplit("/", 1)[1]
    assert adapter.result_from_url(f"https://instagram.com/p/{code}/?igsh=x") == post
    assert (
        adapter.result_from_url(f"https://www.instagram.com/luna.ai/p/{code}") == post
    )
    found = adapter.result_from_url(story.url)
    assert found.platform_post_id == story.platform_post_id
    assert_refused(
        adapter, "https://www.instagram.com/p/NOTOURS1/", "not among the account's"
    )
    assert_refused(
        adapter, "https://www.instagram.com/luna.ai/", "Not a link to an Instagram"
    )


def test_facebook_finds_a_page_post_by_its_link_or_its_id(graph):
    account = f.PlatformAccountFactory(
        platform="facebook",
        account_id=PAGE,
        auth_data={"page_access_token": graph_fake.TOKEN, "user_access_token": "x"},
    )
    adapter = FacebookAdapter(account)
    (post_id,) = graph.add_posts("fb_post", PAGE, 1)
    number = post_id.partition("_")[2]
    for url in (
        f"https://www.facebook.com/{PAGE}/posts/{number}/",
        f"https://m.facebook.com/{post_id}",
        f"https://www.facebook.com/permalink.php?story_fbid={number}&id={PAGE}",
    ):
        assert adapter.result_from_url(url).platform_post_id == post_id
    assert_refused(
        adapter, "https://www.facebook.com/other/posts/999", "not among the Page's"
    )
    assert_refused(
        adapter, "https://facebook.com.evil.example/x", "expected https://facebook"
    )
