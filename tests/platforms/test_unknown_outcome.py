"""A post whose outcome is unknown (its call went out, the platform cannot
tell whether it arrived) waits for a person: on the "To post by hand" page they
look for it on the platform, then record its link (the platform confirms it is
the account's post, and it becomes a post like any other) or send it again."""

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from logs.maintenance import detect_stuck_work
from platforms.adapters import PermanentError
from platforms.adapters.telegram import TelegramAdapter
from platforms.models import PlatformAccount, Post, ScheduledPost
from platforms.publishing import publish_due_posts
from platforms.services import post_take_down, scheduled_post_mark_published
from tests import factories as f
from tests.api.conftest import admin_api  # noqa: F401

BY_HAND = "/admin/platforms/scheduledpost/by-hand/"
TOKEN = "123456:SECRET-bot-token-do-not-log"

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(telegram_fake):
    return telegram_fake


@pytest.fixture
def account(db):
    return f.PlatformAccountFactory(
        platform="telegram", auth_data={"bot_token": TOKEN, "chat_id": "-1001"}
    )


def due_post(account, caption="Hello channel") -> ScheduledPost:
    sp = f.ScheduledPostFactory(platform_account=account, content=None, caption=caption)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE scheduled_posts SET scheduled_at = created_at WHERE id = %s",
            [sp.pk],
        )
    return sp


@pytest.fixture
def unknown(fake, account, settings):
    """A Telegram post whose answer never came: the fake holds the message
    (id 101), the engine holds an 'Outcome unknown' failure."""
    settings.TELEGRAM_READ_TIMEOUT = 0.3
    fake.mode, fake.slow_seconds = "slow", 1.0
    sp = due_post(account)
    publish_due_posts(now=timezone.now() + timezone.timedelta(seconds=1))
    sp.refresh_from_db()
    assert sp.status == "failed" and sp.error_message.startswith("Outcome unknown")
    assert list(fake.messages) == [("-1001", 101)]
    fake.mode = "ok"
    return sp


def test_the_failure_says_what_a_person_can_do(unknown):
    assert "record its link (To post by hand)" in unknown.error_message
    assert "if not, retry it" in unknown.error_message


def test_the_by_hand_page_lists_it_and_records_its_link(
    unknown, fake, administrator_client
):
    page = administrator_client.get(BY_HAND).content.decode()
    assert f'id="unknown-{unknown.pk}"' in page
    assert "Hello channel" in page and "It went out: record it" in page

    response = administrator_client.post(
        reverse("admin:platforms_scheduledpost_mark_published", args=[unknown.pk]),
        {"url": "https://t.me/luna_channel/101", "next": BY_HAND},
        follow=True,
    )
    assert "Recorded as published: https://t.me/luna_channel/101" in (
        response.content.decode()
    )
    unknown.refresh_from_db()
    assert unknown.status == "published" and unknown.error_message is None
    post = unknown.post
    # the id the adapter's own publish records: the post is a real one now
    assert post.platform_post_id == "-1001:101"
    assert post.caption == "Hello channel"
    assert f'id="unknown-{unknown.pk}"' not in (
        administrator_client.get(BY_HAND).content.decode()
    )
    # Telegram was asked which chat the link's username names, and nothing
    # was sent again
    assert [c["method"] for c in fake.calls] == ["sendMessage", "getChat"]
    # deleting it from here deletes the message in the chat
    post_take_down(post=post)
    assert fake.messages == {}


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("https://t.me/other_channel/101", "a message of @other_channel"),
        ("https://t.me/c/999/101", "another chat than the account"),
        ("https://t.me/luna_channel/abc", "Not a link to a Telegram message"),
        ("https://t.me/luna_channel/0", "Not a link to a Telegram message"),
        ("https://evil.example/t.me/luna_channel/101", "expected https://t.me/"),
        ("https://t.me.evil.example/luna_channel/101", "expected https://t.me/"),
        ("javascript:alert(1)", "Enter a valid http(s) URL"),
    ],
)
def test_a_link_that_is_not_the_accounts_message_is_refused(
    unknown, administrator_client, url, error
):
    response = administrator_client.post(
        reverse("admin:platforms_scheduledpost_mark_published", args=[unknown.pk]),
        {"url": url, "next": BY_HAND},
        follow=True,
    )
    assert error in response.content.decode()
    unknown.refresh_from_db()
    assert unknown.status == "failed" and unknown.post_id is None
    assert Post.objects.count() == 0


def test_it_did_not_go_out_so_it_is_sent_again(unknown, fake, administrator_client):
    response = administrator_client.post(
        reverse("admin:platforms_scheduledpost_retry", args=[unknown.pk]),
        {"next": BY_HAND},
        follow=True,
    )
    assert "Queued again" in response.content.decode()
    publish_due_posts(now=timezone.now() + timezone.timedelta(seconds=5))
    unknown.refresh_from_db()
    assert unknown.status == "published"
    assert unknown.post.platform_post_id == "-1001:102"
    assert len(fake.messages) == 2


def test_the_api_records_it_and_refuses_other_failed_posts(
    unknown,
    account,
    admin_api,  # noqa: F811
):
    path = f"/api/v1/scheduled-posts/{unknown.pk}/mark-published/"
    refused = admin_api.post(path, {"url": "https://t.me/other/101"}, format="json")
    assert refused.status_code == 400
    assert "a message of @other" in str(refused.json()["url"])

    answer = admin_api.post(
        path, {"url": "https://t.me/luna_channel/101"}, format="json"
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["status"] == "published"
    assert Post.objects.get().platform_post_id == "-1001:101"

    # a post that failed for a known reason is not anyone's to mark published
    plain = due_post(account, caption="Refused")
    ScheduledPost.objects.filter(pk=plain.pk).update(
        status="failed", error_message="Telegram refused sendMessage: chat not found"
    )
    conflict = admin_api.post(
        f"/api/v1/scheduled-posts/{plain.pk}/mark-published/",
        {"url": "https://t.me/luna_channel/102"},
        format="json",
    )
    assert conflict.status_code == 409
    assert "whose outcome is unknown" in str(conflict.json())


def test_one_message_cannot_be_recorded_for_two_posts(unknown, account):
    second = due_post(account, caption="Second")
    ScheduledPost.objects.filter(pk=second.pk).update(
        status="failed", error_message=unknown.error_message
    )
    scheduled_post_mark_published(
        scheduled_post_id=unknown.pk, url="https://t.me/luna_channel/101"
    )
    with pytest.raises(Exception, match="already recorded for another"):
        scheduled_post_mark_published(
            scheduled_post_id=second.pk, url="https://t.me/luna_channel/101"
        )
    second.refresh_from_db()
    assert second.status == "failed" and Post.objects.count() == 1


def test_the_stuck_work_box_counts_it(unknown, administrator_client):
    assert detect_stuck_work()["unknown_outcome_posts"] == 1
    page = administrator_client.get("/admin/").content.decode()
    assert "Posts whose outcome is unknown (look for them)" in page
    assert "by-hand/#by-hand-unknown" in page


def test_a_private_chats_link_and_an_at_username_chat_need_no_call(fake, account):
    private = PlatformAccount(
        platform="telegram",
        account_id="x",
        auth_data={"bot_token": TOKEN, "chat_id": "-1001234567890"},
    )
    result = TelegramAdapter(private).result_from_url(
        "https://t.me/c/1234567890/55?single"
    )
    assert (result.platform_post_id, result.url) == (
        "-1001234567890:55",
        "https://t.me/c/1234567890/55",
    )
    public = PlatformAccount(
        platform="telegram",
        account_id="x",
        auth_data={"bot_token": TOKEN, "chat_id": "@Luna_Channel"},
    )
    result = TelegramAdapter(public).result_from_url(
        "https://telegram.me/luna_channel/7"
    )
    assert result.platform_post_id == "@Luna_Channel:7"
    assert fake.calls == []
    with pytest.raises(PermanentError, match="another chat"):
        TelegramAdapter(private).result_from_url("https://t.me/c/42/55")
