"""Assisted publishing: a platform without an adapter (OnlyFans) turns its due
posts and engagement into tasks for a person, who posts by hand and marks them
published; they are recorded exactly as a publish by the engine."""

import datetime as dt
import os

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from content.models import Content
from logs.maintenance import detect_stuck_work
from platforms.adapters import DRY_RUN_ADAPTER
from platforms.engagement import process_engagement_queue
from platforms.models import EngagementAction, PlatformAccount, Post, ScheduledPost
from platforms.modes import assisted_platforms
from platforms.publishing import publish_due_posts
from tests.factories import (
    AutomationRuleFactory,
    ContentFactory,
    EngagementActionFactory,
    PlatformAccountFactory,
    ScheduledPostFactory,
)
from tests.fakes.sdwebui import png

BY_HAND = "/admin/platforms/scheduledpost/by-hand/"


@pytest.fixture(autouse=True)
def _telegram_only_has_an_adapter(settings):
    """As configured today: Telegram publishes (here in dry run), OnlyFans and
    the platforms without an adapter yet are published by hand."""
    settings.PLATFORM_ADAPTERS = {"telegram": DRY_RUN_ADAPTER}


@pytest.fixture
def media_root(tmp_path, settings):
    folder = tmp_path / "media"
    folder.mkdir()
    settings.MEDIA_ROOT = folder
    return folder


def due(sp, minutes_ago=0) -> ScheduledPost:
    ScheduledPost.objects.filter(pk=sp.pk).update(
        created_at=timezone.now() - dt.timedelta(minutes=minutes_ago + 1),
        scheduled_at=timezone.now() - dt.timedelta(minutes=minutes_ago),
    )
    sp.refresh_from_db()
    return sp


@pytest.fixture
def onlyfans(db):
    return PlatformAccountFactory(platform="onlyfans", account_username="luna_of")


@pytest.fixture
def due_post(onlyfans, media_root):
    content = ContentFactory(
        character=onlyfans.character, content_type="image", approved=True
    )
    path = media_root / content.file_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png(8, 8))
    sp = ScheduledPostFactory(
        platform_account=onlyfans,
        content=content,
        caption="Sunset on the pier",
        hashtags=["sunset", "#beach"],
    )
    return due(sp)


def test_the_publisher_and_the_engagement_queue_leave_assisted_rows_to_a_person(
    due_post, onlyfans
):
    assert assisted_platforms() == [
        "instagram",
        "twitter",
        "facebook",
        "onlyfans",
        "youtube",
    ]
    action = EngagementActionFactory(platform_account=onlyfans, action_type="comment")
    telegram = due(ScheduledPostFactory(platform_account__platform="telegram"))

    assert publish_due_posts() == 1  # the Telegram post only
    assert process_engagement_queue() == 0

    due_post.refresh_from_db()
    assert (due_post.status, due_post.error_message) == ("scheduled", None)
    assert ScheduledPost.objects.get(pk=telegram.pk).status == "published"
    assert EngagementAction.objects.get(pk=action.pk).status == "pending"


def test_the_page_gives_the_media_caption_and_hashtags(admin_client, due_post):
    page = admin_client.get(BY_HAND).content.decode()

    assert f'id="sp-{due_post.pk}"' in page
    assert "Sunset on the pier" in page
    assert "#sunset #beach" in page
    media = reverse("admin:platforms_scheduledpost_media", args=[due_post.pk])
    assert f'href="{media}?item={due_post.content_id}"' in page
    assert f'src="{media}?inline=1"' in page
    assert 'name="url"' in page and "Mark published" in page


def test_marking_published_records_the_post_as_a_publish_does(
    admin_client, due_post, onlyfans, django_capture_on_commit_callbacks
):
    posts_before = PlatformAccount.objects.get(pk=onlyfans.pk).post_count
    url = "https://onlyfans.com/123456789/luna_of"
    AutomationRuleFactory(
        character=onlyfans.character,
        trigger_type="event",
        trigger_config={"event": "post_published"},
    )

    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(
            reverse("admin:platforms_scheduledpost_mark_published", args=[due_post.pk]),
            {"url": url, "next": BY_HAND},
            follow=True,
        )

    assert response.redirect_chain[-1][0] == BY_HAND
    assert f"Recorded as published: {url}" in response.content.decode()
    due_post.refresh_from_db()
    post = Post.objects.get(pk=due_post.post_id)
    assert due_post.status == "published" and due_post.published_at is not None
    assert (post.status, post.platform, post.platform_post_url) == (
        "published",
        "onlyfans",
        url,
    )
    assert (post.caption, post.hashtags, post.content_id) == (
        due_post.caption,
        due_post.hashtags,
        due_post.content_id,
    )
    assert PlatformAccount.objects.get(pk=onlyfans.pk).post_count == posts_before + 1
    assert Content.objects.get(pk=due_post.content_id).times_used == 1
    # the post_published event is in the outbox, as for any publish, and the
    # dispatcher is kicked after commit
    from logs.models import Event

    [event] = Event.objects.filter(name="post_published")
    assert event.character_id == onlyfans.character_id
    assert event.payload["scheduled_post_id"] == str(due_post.pk)
    assert callbacks
    # gone from the list, and a second click records nothing more
    assert f'id="sp-{due_post.pk}"' not in admin_client.get(BY_HAND).content.decode()
    again = admin_client.post(
        reverse("admin:platforms_scheduledpost_mark_published", args=[due_post.pk]),
        {"url": url + "?again"},
        follow=True,
    )
    assert "only a scheduled post to publish by hand" in again.content.decode()
    assert Post.objects.count() == 1


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("", "Enter the URL of the post"),
        ("javascript:alert(1)", "Enter a valid http(s) URL"),
        ("https://onlyfans.com/" + "x" * 300, "longer than 255 characters"),
    ],
)
def test_a_bad_url_is_refused_and_nothing_is_recorded(
    admin_client, due_post, url, error
):
    response = admin_client.post(
        reverse("admin:platforms_scheduledpost_mark_published", args=[due_post.pk]),
        {"url": url},
        follow=True,
    )
    assert error in response.content.decode()
    assert not Post.objects.exists()
    assert ScheduledPost.objects.get(pk=due_post.pk).status == "scheduled"


def test_the_same_url_cannot_be_recorded_for_two_posts(
    admin_client, due_post, onlyfans
):
    other = due(ScheduledPostFactory(platform_account=onlyfans))
    url = "https://onlyfans.com/1/luna_of"
    mark = "admin:platforms_scheduledpost_mark_published"
    admin_client.post(reverse(mark, args=[due_post.pk]), {"url": url})
    response = admin_client.post(
        reverse(mark, args=[other.pk]), {"url": url}, follow=True
    )
    assert "already recorded for a post" in response.content.decode()
    assert ScheduledPost.objects.get(pk=other.pk).status == "scheduled"


def test_a_post_of_a_platform_with_an_adapter_cannot_be_marked_by_hand(admin_client):
    telegram = due(ScheduledPostFactory(platform_account__platform="telegram"))
    response = admin_client.post(
        reverse("admin:platforms_scheduledpost_mark_published", args=[telegram.pk]),
        {"url": "https://t.me/luna/1"},
        follow=True,
    )
    assert "published by the engine, not by hand" in response.content.decode()
    assert not Post.objects.exists()


def test_unapproved_content_is_not_offered_for_publishing(admin_client, onlyfans):
    sp = due(ScheduledPostFactory(platform_account=onlyfans))
    Content.objects.filter(pk=sp.content_id).update(
        approval_status="pending", is_approved=False
    )
    page = admin_client.get(BY_HAND).content.decode()
    assert "The content of this post is not approved" in page
    response = admin_client.post(
        reverse("admin:platforms_scheduledpost_mark_published", args=[sp.pk]),
        {"url": "https://onlyfans.com/2/luna_of"},
        follow=True,
    )
    assert "content is not approved" in response.content.decode()


# --- the media download: only the post's own files under MEDIA_ROOT ------------------


def test_the_media_downloads_as_an_attachment(admin_client, due_post, media_root):
    url = reverse("admin:platforms_scheduledpost_media", args=[due_post.pk])
    response = admin_client.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == png(8, 8)
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["Content-Type"] == "application/octet-stream"
    assert "sandbox" in response["Content-Security-Policy"]
    inline = admin_client.get(url + "?inline=1")
    assert inline["Content-Type"] == "image/png"
    assert inline["Content-Disposition"].startswith("inline;")


def test_a_path_outside_media_root_or_another_posts_file_is_not_served(
    admin_client, due_post, media_root, onlyfans, tmp_path
):
    url = reverse("admin:platforms_scheduledpost_media", args=[due_post.pk])
    secret = tmp_path / "secret.txt"
    secret.write_text("not for you")
    for hostile in ("../secret.txt", str(secret), "content/../../secret.txt"):
        Content.objects.filter(pk=due_post.content_id).update(file_path=hostile)
        assert admin_client.get(url).status_code == 404, hostile
    # a symlink inside MEDIA_ROOT that points outside it
    os.symlink(secret, media_root / "link.txt")
    Content.objects.filter(pk=due_post.content_id).update(file_path="link.txt")
    assert admin_client.get(url).status_code == 404
    # another post's content, or no such item
    other = ContentFactory(character=onlyfans.character, approved=True)
    assert admin_client.get(f"{url}?item={other.pk}").status_code == 404
    assert admin_client.get(f"{url}?item=../../etc").status_code == 404
    # an SVG never renders inline (it can carry script)
    Content.objects.filter(pk=due_post.content_id).update(
        file_path="pic.svg", mime_type="image/svg+xml"
    )
    (media_root / "pic.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    svg = admin_client.get(url + "?inline=1")
    assert svg["Content-Disposition"].startswith("attachment;")


def test_analysts_see_the_list_but_cannot_mark(client, due_post):
    from django.contrib.auth.models import Group

    from config.permissions import ANALYSTS
    from tests.factories import UserFactory

    client.force_login(UserFactory(groups=[Group.objects.get(name=ANALYSTS)]))
    page = client.get(BY_HAND)
    assert page.status_code == 200 and b"Mark published" not in page.content
    response = client.post(
        reverse("admin:platforms_scheduledpost_mark_published", args=[due_post.pk]),
        {"url": "https://onlyfans.com/3/luna_of"},
    )
    assert response.status_code == 403


# --- engagement by hand --------------------------------------------------------------


def test_assisted_engagement_is_listed_and_marked_done(admin_client, onlyfans):
    action = EngagementActionFactory(
        platform_account=onlyfans,
        action_type="comment",
        comment_text="Love this!",
        target_url="https://onlyfans.com/99/someone",
    )
    page = admin_client.get(BY_HAND).content.decode()
    assert f'id="ea-{action.pk}"' in page and "Love this!" in page
    assert 'href="https://onlyfans.com/99/someone"' in page

    response = admin_client.post(
        reverse("admin:platforms_engagementaction_mark_done", args=[action.pk]),
        {"next": BY_HAND},
        follow=True,
    )
    assert "Marked done." in response.content.decode()
    action.refresh_from_db()
    assert action.status == "completed" and action.completed_at is not None
    again = admin_client.post(
        reverse("admin:platforms_engagementaction_mark_done", args=[action.pk]),
        follow=True,
    )
    assert "Not marked" in again.content.decode()


# --- overdue work, the dashboard, one account ------------------------------------------


def test_overdue_assisted_work_is_stuck_work_of_its_own(
    admin_client, onlyfans, settings
):
    settings.STUCK_POST_MINUTES = 10
    settings.ASSISTED_OVERDUE_MINUTES = 60
    due(ScheduledPostFactory(platform_account=onlyfans), minutes_ago=30)  # waiting
    due(ScheduledPostFactory(platform_account=onlyfans), minutes_ago=90)  # overdue
    action = EngagementActionFactory(platform_account=onlyfans)
    EngagementAction.objects.filter(pk=action.pk).update(
        created_at=timezone.now() - dt.timedelta(hours=2)
    )

    found = detect_stuck_work()

    # a person's work is not the engine's: not "due but not published"
    assert found["overdue_posts"] == 0
    assert found["overdue_assisted_posts"] == 1
    assert found["overdue_assisted_engagement"] == 1
    page = admin_client.get("/admin/").content.decode()
    stuck = page[page.index('id="dashboard-stuck"') :]
    stuck = stuck[: stuck.index("</table>")]
    assert "Posts to publish by hand, overdue" in stuck and BY_HAND in stuck
    box = page[page.index('id="dashboard-by-hand"') :]
    box = box[: box.index("</table>")]
    assert ">2</a>" in box and ">1</a>" in box  # 2 due, 1 overdue, 1 engagement


def test_the_page_costs_the_same_with_more_rows(admin_client, onlyfans, due_post):
    admin_client.get(BY_HAND)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(BY_HAND)
    for _ in range(15):
        due(ScheduledPostFactory(platform_account=onlyfans))
        EngagementActionFactory(platform_account=onlyfans)
    with CaptureQueriesContext(connection) as many:
        page = admin_client.get(BY_HAND)
    assert page.content.decode().count('class="by-hand-item"') == 16
    assert len(many) == len(few)


def test_one_accounts_list_and_its_change_page(admin_client, onlyfans, due_post):
    other = due(ScheduledPostFactory(platform_account__platform="onlyfans"))
    page = admin_client.get(f"{BY_HAND}?account={onlyfans.pk}").content.decode()
    assert f'id="sp-{due_post.pk}"' in page and f'id="sp-{other.pk}"' not in page
    assert admin_client.get(f"{BY_HAND}?account=nope").status_code == 404
    change = admin_client.get(
        reverse("admin:platforms_platformaccount_change", args=[onlyfans.pk])
    ).content.decode()
    assert f"{BY_HAND}?account={onlyfans.pk}" in change


# --- the API -------------------------------------------------------------------------------


def test_the_api_marks_published_and_done(due_post, onlyfans):
    from rest_framework.test import APIClient

    from tests.factories import UserFactory

    api = APIClient()
    api.force_authenticate(UserFactory(is_superuser=True))
    url = f"/api/v1/scheduled-posts/{due_post.pk}/mark-published/"
    bad = api.post(url, {"url": "ftp://x"}, format="json")
    assert bad.status_code == 400 and "url" in bad.json()
    ok = api.post(url, {"url": "https://onlyfans.com/7/luna_of"}, format="json")
    assert ok.status_code == 200 and ok.json()["status"] == "published"
    assert (
        api.post(url, {"url": "https://onlyfans.com/8/x"}, format="json").status_code
        == 409
    )

    action = EngagementActionFactory(platform_account=onlyfans)
    done = api.post(f"/api/v1/engagement-actions/{action.pk}/mark-done/")
    assert done.status_code == 200 and done.json()["status"] == "completed"
    assert (
        api.post(f"/api/v1/engagement-actions/{action.pk}/mark-done/").status_code
        == 409
    )
