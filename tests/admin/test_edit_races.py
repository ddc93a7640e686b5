"""An edit in the admin writes only what the person changed, and nothing when
the row's state moved after the page read it (config/edits.py): the engine
claiming a post while its caption is edited keeps its claim."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from config import admin_site
from platforms.models import ScheduledPost
from tests.factories import PlatformAccountFactory, ScheduledPostFactory
from tests.races import ENGINE_CLAIMS, RETRY_BACKS_OFF, row_in_status, sql_before

pytestmark = pytest.mark.django_db


@pytest.fixture
def telegram_post():
    account = PlatformAccountFactory(platform="telegram")
    return ScheduledPostFactory(
        platform_account=account,
        content=None,
        post_type="message",
        caption="Before",
        hashtags=[],
        scheduled_at=timezone.now() + dt.timedelta(hours=3),
        timezone="UTC",
    )


@pytest.fixture
def meanwhile(monkeypatch):
    """Run `sql` after the change view read the row, before its lock: what the
    engine (or anyone) writing at that moment would do."""

    def arm(sql, params):
        sql_before(monkeypatch, admin_site, "conflict", sql, params)

    return arm


def post_caption(client, post, caption):
    local = post.scheduled_at.astimezone(dt.UTC)
    return client.post(
        reverse("admin:platforms_scheduledpost_change", args=[post.pk]),
        {
            "character": str(post.character_id),
            "platform_account": str(post.platform_account_id),
            "scheduled_at_0": local.strftime("%Y-%m-%d"),
            "scheduled_at_1": local.strftime("%H:%M:%S"),
            "timezone": "UTC",
            "caption": caption,
            "post_type": "message",
            "max_retries": "3",
        },
    )


def test_a_caption_saved_while_the_engine_takes_the_post_keeps_the_claim(
    administrator_client, telegram_post, meanwhile
):
    meanwhile(
        ENGINE_CLAIMS,
        [telegram_post.pk],
    )
    response = post_caption(administrator_client, telegram_post, "After")
    assert response.status_code == 200  # the form again, with the error
    page = response.content.decode()
    assert "changed while you edited it (now: status processing)" in page
    assert "nothing was saved" in page
    row = ScheduledPost.objects.get(pk=telegram_post.pk)
    assert (row.status, row.caption) == ("processing", "Before")
    assert row.locked_until is not None and row.attempt_started_at is not None


def test_a_caption_edit_keeps_what_the_engine_wrote_to_other_columns(
    administrator_client, telegram_post, meanwhile
):
    """A waiting post's backoff ("not before") set by a retry meanwhile stays."""
    meanwhile(
        RETRY_BACKS_OFF,
        [telegram_post.pk],
    )
    response = post_caption(administrator_client, telegram_post, "After")
    assert response.status_code == 302, response.content[-2000:]
    row = ScheduledPost.objects.get(pk=telegram_post.pk)
    assert row.caption == "After"
    assert (row.retry_count, row.error_message) == (1, "HTTP 503")
    assert row.locked_until > timezone.now() + dt.timedelta(minutes=9)


def test_an_edit_without_a_race_saves_and_stamps_updated_at(
    administrator_client, telegram_post
):
    stamped = telegram_post.updated_at
    response = post_caption(administrator_client, telegram_post, "After")
    assert response.status_code == 302, response.content[-2000:]
    row = ScheduledPost.objects.get(pk=telegram_post.pk)
    assert (row.caption, row.status) == ("After", "scheduled")
    assert row.updated_at > stamped


def test_a_post_deleted_while_its_page_was_open_is_a_form_error(
    administrator_client, telegram_post, meanwhile
):
    meanwhile("DELETE FROM scheduled_posts WHERE id = %s", [telegram_post.pk])
    response = post_caption(administrator_client, telegram_post, "After")
    assert response.status_code == 200
    assert "This scheduled post was deleted meanwhile." in response.content.decode()
    assert not ScheduledPost.objects.filter(pk=telegram_post.pk).exists()


@pytest.mark.parametrize(
    "label, status",
    [
        ("scheduled_post", "processing"),
        ("engagement", "completed"),
        ("generation", "processing"),
        ("post", "published"),
        ("post", "deleted"),
    ],
)
def test_a_row_a_worker_holds_or_has_finished_is_view_only(
    administrator_client, label, status
):
    row = row_in_status(label, status)
    model = type(row)
    url = reverse(
        f"admin:{model._meta.app_label}_{model._meta.model_name}_change",
        args=[row.pk],
    )
    page = administrator_client.get(url)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()  # Django's view-only page
    assert administrator_client.post(url, {}).status_code == 403
