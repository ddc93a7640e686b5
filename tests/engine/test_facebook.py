"""The Facebook Pages adapter against the loopback Graph API fake."""

import pytest
from django.utils import timezone

from platforms.adapters import PermanentError, PublishRequest, get_adapter
from platforms.models import PlatformAccount
from tests import factories as f
from tests.engine import platform_helpers as h
from tests.engine.conftest import later
from tests.fakes.graph import TOKEN, FakeGraph

pytestmark = pytest.mark.django_db
PAGE = "page-1001"


@pytest.fixture
def graph(settings, tmp_path):
    with FakeGraph() as server:
        settings.GRAPH_API_BASE = server.url
        settings.MEDIA_ROOT = tmp_path
        settings.MEDIA_PUBLIC_BASE_URL = h.PUBLIC_BASE
        settings.PLATFORM_ADAPTERS = {
            "facebook": "platforms.adapters.facebook.FacebookAdapter"
        }
        yield server


@pytest.fixture
def page_account(db):
    return f.PlatformAccountFactory(
        platform="facebook",
        account_id=PAGE,
        auth_data={"page_access_token": TOKEN, "user_access_token": "not-used"},
    )


def test_text_photo_and_video_posts_reach_their_edges(
    graph, due_post, page_account, settings, client
):
    photo = h.media(page_account.character, settings.MEDIA_ROOT, "p.png")
    video = h.media(page_account.character, settings.MEDIA_ROOT, "v.mp4", kind="video")
    text = due_post(platform_account=page_account, content=None, caption="Hello fans")
    pic = due_post(platform_account=page_account, content=photo, caption="A photo")
    vid = due_post(platform_account=page_account, content=video, caption="A clip")
    assert h.publish(now=later()) == 3
    edges = {o["edge"]: o for o in graph.published("fb_post")}
    assert set(edges) == {"feed", "photos", "videos"}
    assert edges["feed"]["params"]["message"] == text.caption + "\n\n#ai"
    # Facebook fetches the files through signed links; the video answers ranges
    photo_url = edges["photos"]["params"]["url"]
    assert h.fetch_link(client, photo_url).status_code == 200
    video_url = edges["videos"]["params"]["file_url"]
    ranged = h.fetch_link(client, video_url, Range="bytes=0-99")
    assert ranged.status_code == 206 and len(ranged.content) == 100
    assert ranged["Content-Range"].startswith("bytes 0-99/")
    for sp in (text, pic, vid):
        sp.refresh_from_db()
        assert sp.status == "published"
    pic.refresh_from_db()
    assert pic.post.platform_post_id.startswith(f"{PAGE}_")  # the photo's post id


def test_a_revoked_page_token_parks_the_account(graph, due_post, page_account):
    graph.mode = "revoked"
    sp = due_post(platform_account=page_account, content=None, caption="hi")
    h.publish(now=later())
    page_account.refresh_from_db()
    assert page_account.connection_status == "error"
    sp.refresh_from_db()
    assert sp.status == "scheduled"


def test_an_invalid_parameter_fails_with_metas_message(graph, due_post, page_account):
    graph.mode = "invalid"
    sp = due_post(platform_account=page_account, content=None, caption="hi")
    h.publish(now=later())
    sp.refresh_from_db()
    assert sp.status == "failed" and "Invalid parameter" in sp.error_message


def test_a_timeout_is_reconciled_from_published_posts(
    graph, due_post, page_account, settings
):
    settings.PLATFORM_READ_TIMEOUT = 0.3
    graph.mode = "slow"
    graph.slow_seconds = 1.0
    graph.slow_when = lambda call: call["path"].endswith("/feed")
    sp = due_post(platform_account=page_account, content=None, caption="Once only")
    assert h.publish(now=later()) == 1
    (post,) = graph.published("fb_post")
    sp.refresh_from_db()
    assert sp.status == "published" and sp.post.platform_post_id == post["id"]
    adapter = get_adapter(page_account)
    other = PublishRequest(marker="x", caption="never sent")
    assert adapter.post_exists(other, since=timezone.now()) is False


def test_insights_delete_and_engagement(graph, due_post, page_account):
    sp = due_post(platform_account=page_account, content=None, caption="Metrics")
    h.publish(now=later())
    (post,) = graph.published("fb_post")
    post.update(likes=5, comments=2, shares=1, views=77)
    adapter = get_adapter(page_account)
    assert adapter.fetch_stats() == {"follower_count": 1234}
    assert adapter.fetch_post_metrics([post["id"]]) == {
        post["id"]: {"likes": 5, "comments": 2, "shares": 1, "views": 77}
    }
    like = f.EngagementActionFactory(
        platform_account=page_account, action_type="like", target_id=post["id"]
    )
    adapter.perform_engagement(like)
    assert post["likes"] == 6
    comment = f.EngagementActionFactory(
        platform_account=page_account,
        action_type="comment",
        target_id=post["id"],
        comment_text="Thanks all",
    )
    assert adapter.engagement_exists(comment, since=timezone.now()) is False
    comment_id = adapter.perform_engagement(comment)
    assert adapter.engagement_exists(comment, since=timezone.now()) == comment_id
    follow = f.EngagementActionFactory(
        platform_account=page_account, action_type="follow"
    )
    with pytest.raises(PermanentError, match="Facebook cannot follow"):
        adapter.perform_engagement(follow)
    adapter.delete(post["id"])
    assert not graph.published("fb_post")
    sp.refresh_from_db()
    assert (
        PlatformAccount.objects.get(pk=page_account.pk).connection_status == "connected"
    )
