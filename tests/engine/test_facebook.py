"""The Facebook Pages adapter against the loopback Graph API fake."""

import datetime as dt

import pytest
from django.utils import timezone

from platforms.adapters import PermanentError, PublishRequest, get_adapter
from platforms.models import PlatformAccount, Post, PostMetrics
from platforms.sync import sync_platform_metrics
from tests import factories as f
from tests.engine import platform_helpers as h
from tests.engine.conftest import later
from tests.fakes import graph as fake_graph
from tests.fakes.graph import TOKEN, FakeGraph

pytestmark = pytest.mark.django_db
PAGE = "page-1001"
# settings.PLATFORM_TOKEN_REFRESHER in these tests: the accounts it renewed
REFRESHED: list[str] = []


def refresh_to_valid_page_token(account) -> bool:
    """A refresher that hands out a valid Page token (what the adapter uses)."""
    REFRESHED.append(str(account.pk))
    account.auth_data = {**(account.auth_data or {}), "page_access_token": TOKEN}
    return True


@pytest.fixture
def graph(settings, tmp_path):
    with FakeGraph() as server:
        settings.GRAPH_API_BASE = server.url
        settings.MEDIA_ROOT = tmp_path
        settings.MEDIA_PUBLIC_BASE_URL = h.PUBLIC_BASE
        settings.PLATFORM_ADAPTERS = {
            "facebook": "platforms.adapters.facebook.FacebookAdapter"
        }
        settings.FACEBOOK_POLL_INTERVAL = 0.01
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


def status_polls(graph) -> int:
    return sum(
        1
        for c in graph.calls
        if c["method"] == "GET" and c["params"].get("fields") == "status"
    )


@pytest.fixture
def video_post(due_post, page_account, settings):
    video = h.media(page_account.character, settings.MEDIA_ROOT, "v.mp4", kind="video")
    return due_post(platform_account=page_account, content=video, caption="A clip")


def test_a_video_is_watched_until_facebook_has_processed_it(graph, video_post):
    graph.fb_video_states = ["processing", "processing", "ready"]
    assert h.publish(now=later()) == 1
    video_post.refresh_from_db()
    assert video_post.status == "published"
    assert status_polls(graph) == 3
    (post,) = graph.published("fb_post")
    assert post["edge"] == "videos"


def test_a_video_facebook_cannot_process_fails_with_its_reason_and_is_not_resent(
    graph, video_post
):
    graph.fb_video_states = ["processing", "error"]
    h.publish(now=later())
    video_post.refresh_from_db()
    assert video_post.status == "failed"
    assert "could not process it" in video_post.error_message
    assert "format that we don't support" in video_post.error_message
    assert not graph.published("fb_post")  # never shown on the Page
    assert h.publish(now=later(3600)) == 0
    uploads = [c for c in graph.calls if c["path"].endswith("/videos")]
    assert len(uploads) == 1


def test_a_video_still_processing_after_the_wait_counts_as_published_once(
    graph, video_post, settings
):
    settings.FACEBOOK_PROCESSING_WAIT = 0.05
    graph.fb_video_states = ["processing"]
    assert h.publish(now=later()) == 1
    video_post.refresh_from_db()
    assert video_post.status == "published"
    assert status_polls(graph) >= 2
    assert h.publish(now=later(3600)) == 0
    assert len(graph.published("fb_post")) == 1


def test_a_status_poll_that_times_out_does_not_post_the_video_again(
    graph, video_post, settings
):
    settings.PLATFORM_READ_TIMEOUT = 0.3
    graph.mode = "slow"
    graph.slow_seconds = 1.0
    graph.slow_when = lambda call: call["params"].get("fields") == "status"
    assert h.publish(now=later()) == 1
    video_post.refresh_from_db()
    assert video_post.status == "published"
    graph.mode = "ok"
    assert h.publish(now=later(3600)) == 0
    assert len(graph.published("fb_post")) == 1


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


def test_a_photo_whose_answer_is_lost_is_reconciled_and_recorded_once(
    graph, due_post, page_account, settings
):
    """The Page received the photo (its post exists) but the answer never
    came: the publisher finds the post among the Page's published posts by
    its caption and records it once; the photo is not sent again."""
    settings.PLATFORM_READ_TIMEOUT = 0.3
    graph.mode = "slow"
    graph.slow_seconds = 1.0
    graph.slow_when = lambda call: call["path"].endswith("/photos")
    photo = h.media(page_account.character, settings.MEDIA_ROOT, "p.png")
    sp = due_post(platform_account=page_account, content=photo, caption="A photo")
    assert h.publish(now=later()) == 1
    (post,) = graph.published("fb_post")
    assert post["edge"] == "photos" and post["caption"] == "A photo\n\n#ai"
    sp.refresh_from_db()
    assert sp.status == "published"
    assert sp.post.platform_post_id == post["id"]
    assert sp.post.platform_post_url == f"https://www.facebook.com/{post['id']}"
    assert post["id"].startswith(f"{PAGE}_")  # the photo's post, as when answered
    looked_up = [c for c in graph.calls if c["path"].endswith("/published_posts")]
    assert len(looked_up) == 1
    graph.mode = "ok"
    assert h.publish(now=later(3600)) == 0
    assert len(graph.published("fb_post")) == 1
    assert len([c for c in graph.calls if c["path"].endswith("/photos")]) == 1
    assert Post.objects.filter(platform_account=page_account).count() == 1


def test_insights_delete_and_engagement(graph, due_post, page_account):
    sp = due_post(platform_account=page_account, content=None, caption="Metrics")
    h.publish(now=later())
    (post,) = graph.published("fb_post")
    post.update(likes=5, comments=2, shares=1, views=77)
    adapter = get_adapter(page_account)
    assert adapter.fetch_stats()["follower_count"] == 1234
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


def page_calls(graph):
    return [c for c in graph.calls if c["path"] == f"/{graph.version}/{PAGE}"]


def test_page_stats_bring_the_latest_day_of_page_insights_in_one_request(
    graph, page_account
):
    stats = get_adapter(page_account).fetch_stats()
    # the last of the two days Meta reports for period=day, not the first
    assert stats == {
        "follower_count": 1234,
        "page_views_day": 1502,
        "page_post_engagements_day": 44,
        # the day a value counts is the one before its end_time
        "daily": {"impressions": (graph.now().date() - dt.timedelta(days=1), 1502)},
    }
    (call,) = graph.calls  # followers and insights together
    assert call["params"]["fields"] == (
        "followers_count,fan_count,"
        "insights.metric(page_media_view,page_post_engagements).period(day)"
    )
    # the fake's insights edge answers as the Page Insights reference shows
    edge = get_adapter(page_account).graph(
        "GET",
        f"{PAGE}/insights",
        what="insights",
        params={"metric": "page_post_engagements", "period": "day"},
    )
    (row,) = edge["data"]
    assert set(row) == {"name", "period", "values", "title", "description", "id"}
    assert [v["value"] for v in row["values"]] == [31, 44]
    assert row["values"][0]["end_time"] < row["values"][1]["end_time"]


@pytest.mark.parametrize("why", ["under 100 likes", "a metric Meta retired"])
def test_page_stats_without_insights_still_bring_the_followers(
    graph, page_account, monkeypatch, why
):
    if why == "under 100 likes":
        graph.page_likes = 42  # Page Insights exist from 100 likes on: none
        calls = 1
    else:  # the invalid metric error refuses the whole request
        monkeypatch.delitem(fake_graph.PAGE_METRICS, "page_media_view")
        calls = 2
    assert get_adapter(page_account).fetch_stats() == {"follower_count": 1234}
    assert len(page_calls(graph)) == calls
    assert page_calls(graph)[-1]["params"]["fields"].startswith("followers_count")
    page_account.refresh_from_db()
    assert page_account.connection_status == "connected"


def test_a_metrics_sync_of_a_page_stores_followers_and_post_numbers(
    graph, due_post, page_account
):
    due_post(platform_account=page_account, content=None, caption="Counted")
    assert h.publish(now=later()) == 1
    (post,) = graph.published("fb_post")
    post.update(likes=8, comments=3, shares=2, views=640)
    now = timezone.now() + dt.timedelta(seconds=5)
    # the insights keys in the stats are extra: they break nothing
    assert sync_platform_metrics(now=now) == {"accounts": 1, "posts": 1, "problems": 0}
    page_account.refresh_from_db()
    assert page_account.follower_count == 1234
    assert page_account.last_synced_at == now
    numbers = PostMetrics.objects.get(post__platform_post_id=post["id"])
    assert (
        numbers.likes_count,
        numbers.comments_count,
        numbers.shares_count,
        numbers.views_count,
    ) == (8, 3, 2, 640)


def test_a_pages_daily_views_are_kept_as_that_days_impressions(
    graph, page_account, settings
):
    """Page Insights' latest day of page_media_view becomes the account's
    analytics row of that day (impressions); a later sync replaces it."""
    from analytics.models import Analytics

    day = graph.now().date() - dt.timedelta(days=1)  # the day before end_time
    now = timezone.now()
    assert sync_platform_metrics(now=now)["accounts"] == 1
    rows = Analytics.objects.filter(platform_account=page_account)
    row = rows.get(metric_type="impressions")
    assert (row.metric_date, row.metric_value, row.platform) == (
        day,
        1502,
        "facebook",
    )
    assert row.character_id == page_account.character_id
    assert row.metadata == {"source": "platform"}

    graph.page_daily["page_media_view"] = [1180, 1650]  # Meta's number moved
    later_on = now + dt.timedelta(minutes=settings.METRICS_SYNC_INTERVAL_MINUTES + 1)
    assert sync_platform_metrics(now=later_on)["accounts"] == 1
    assert list(rows.values_list("metric_date", "metric_value")) == [(day, 1650)]

    graph.page_likes = 50  # under 100 likes: no insights, nothing written
    Analytics.objects.all().delete()
    later_on += dt.timedelta(minutes=settings.METRICS_SYNC_INTERVAL_MINUTES + 1)
    assert sync_platform_metrics(now=later_on)["accounts"] == 1
    assert not rows.exists()


def test_post_metrics_of_120_posts_take_three_requests_of_at_most_50(
    graph, page_account
):
    ids = graph.add_posts("fb_post", PAGE, 120)
    metrics = get_adapter(page_account).fetch_post_metrics(ids)
    assert metrics == graph.added_metrics(ids)
    assert graph.lookup_sizes() == [50, 50, 20]


@pytest.mark.parametrize(
    ("code", "status", "header", "wait"),
    [
        (4, 400, "X-Business-Use-Case-Usage", 7 * 60),
        (32, 400, "X-Business-Use-Case-Usage", 7 * 60),
        (17, 400, "X-App-Usage", 15 * 60),  # no time named: a quarter hour
        (613, 429, "X-App-Usage", 15 * 60),
    ],
)
def test_throttling_makes_a_post_wait_then_go_out_once(
    graph, due_post, page_account, code, status, header, wait
):
    graph.mode = "throttle"
    graph.throttle_code, graph.throttle_status = code, status
    graph.throttle_header = header
    sp = due_post(platform_account=page_account, content=None, caption="Patience")
    h.publish(now=later())
    sp.refresh_from_db()
    assert (sp.status, sp.retry_count) == ("scheduled", 0)
    assert sp.error_message.startswith("Rate limited by facebook")
    account = PlatformAccount.objects.get(pk=page_account.pk)
    assert account.connection_status == "rate_limited"
    left = (account.rate_limit_reset_at - timezone.now()).total_seconds()
    assert wait - 5 < left <= wait
    assert not graph.published("fb_post")
    graph.mode = "ok"
    assert h.publish(now=later(wait + 60)) == 1
    sp.refresh_from_db()
    assert sp.status == "published"
    (post,) = graph.published("fb_post")
    assert sp.post.platform_post_id == post["id"]
    assert h.publish(now=later(2 * wait)) == 0
    assert len(graph.published("fb_post")) == 1


def test_a_server_error_is_retried_and_the_post_goes_out_once(
    graph, due_post, page_account
):
    graph.mode = "500"
    sp = due_post(platform_account=page_account, content=None, caption="Again")
    h.publish(now=later())
    sp.refresh_from_db()
    assert (sp.status, sp.retry_count) == ("scheduled", 1)
    assert "Facebook error 500" in sp.error_message
    assert not graph.published("fb_post")
    graph.mode = "ok"
    assert h.publish(now=later(3600)) == 1
    sp.refresh_from_db()
    assert sp.status == "published"
    assert len(graph.published("fb_post")) == 1


def test_an_expired_page_token_is_refreshed_once_and_the_post_goes_out(
    graph, due_post, page_account, settings
):
    settings.PLATFORM_TOKEN_REFRESHER = (
        "tests.engine.test_facebook.refresh_to_valid_page_token"
    )
    graph.expired_tokens.add("old-token")
    PlatformAccount.objects.filter(pk=page_account.pk).update(auth_data=None)
    account = PlatformAccount.objects.get(pk=page_account.pk)
    account.auth_data = {"page_access_token": "old-token"}
    account.save()
    sp = due_post(platform_account=account, content=None, caption="Fresh token")
    REFRESHED.clear()
    assert h.publish(now=later()) == 1
    assert [str(account.pk)] == REFRESHED
    sp.refresh_from_db()
    assert sp.status == "published"
    (post,) = graph.published("fb_post")
    assert sp.post.platform_post_id == post["id"]
    feed = [c for c in graph.calls if c["path"].endswith("/feed")]
    assert [c["token"] for c in feed] == ["old-token", TOKEN]
    account.refresh_from_db()
    assert account.connection_status == "connected"
