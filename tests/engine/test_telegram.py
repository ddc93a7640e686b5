"""The Telegram adapter against a loopback fake of the Bot API."""

import logging

import pytest
from django.utils import timezone

from platforms import adapters as base
from platforms.adapters.telegram import TelegramAdapter
from platforms.models import PlatformAccount, Post, ScheduledPost
from platforms.publishing import publish_due_posts
from platforms.services import post_take_down
from tests import factories as f
from tests.engine.conftest import later

TOKEN = "123456:SECRET-bot-token-do-not-log"

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake(telegram_fake):
    return telegram_fake


@pytest.fixture
def telegram_post(due_post):
    account = f.PlatformAccountFactory(
        platform="telegram", auth_data={"bot_token": TOKEN, "chat_id": "-1001"}
    )
    return due_post(platform_account=account, content=None, caption="Hello channel")


def test_a_text_post_goes_out_with_send_message(fake, telegram_post):
    assert publish_due_posts(now=later()) == 1
    call = fake.calls[-1]
    assert call["method"] == "sendMessage" and call["token"] == TOKEN
    assert b"Hello+channel" in call["body"] and b"-1001" in call["body"]
    telegram_post.refresh_from_db()
    assert telegram_post.status == "published"
    post = telegram_post.post
    assert post.platform_post_id == "-1001:101"
    assert post.platform_post_url == "https://t.me/luna_channel/101"


def test_an_image_goes_out_with_send_photo(fake, due_post, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "img.png").write_bytes(b"\x89PNG fake bytes")
    account = f.PlatformAccountFactory(
        platform="telegram", auth_data={"bot_token": TOKEN, "chat_id": "-1001"}
    )
    content = f.ContentFactory(
        character=account.character,
        content_type="image",
        file_path="img.png",
        approved=True,
    )
    due_post(platform_account=account, content=content, caption="Look")
    assert publish_due_posts(now=later()) == 1
    assert fake.calls[-1]["method"] == "sendPhoto"
    assert "multipart/form-data" in fake.calls[-1]["content_type"]
    assert fake.messages == {
        ("-1001", 101): {"method": "sendPhoto", "text": "Look\n\n#ai"}
    }


def test_429_sets_the_accounts_rate_limit(fake, telegram_post):
    fake.mode = "429"
    publish_due_posts(now=later())
    account = PlatformAccount.objects.get(pk=telegram_post.platform_account_id)
    assert account.connection_status == "rate_limited"
    seconds = (account.rate_limit_reset_at - timezone.now()).total_seconds()
    assert 0 < seconds <= fake.retry_after
    telegram_post.refresh_from_db()
    assert (telegram_post.status, telegram_post.retry_count) == ("scheduled", 0)


def test_5xx_is_retried(fake, telegram_post):
    fake.mode = "500"
    publish_due_posts(now=later())
    telegram_post.refresh_from_db()
    assert (telegram_post.status, telegram_post.retry_count) == ("scheduled", 1)
    assert "server error 502" in telegram_post.error_message


def test_401_parks_the_account(fake, telegram_post):
    fake.mode = "401"
    publish_due_posts(now=later())
    account = PlatformAccount.objects.get(pk=telegram_post.platform_account_id)
    assert account.connection_status == "error"


def test_400_fails_with_telegrams_reason(fake, telegram_post):
    fake.mode = "400"
    publish_due_posts(now=later())
    telegram_post.refresh_from_db()
    assert (
        telegram_post.status == "failed"
        and "chat not found" in telegram_post.error_message
    )


def test_a_timeout_is_outcome_unknown_and_never_resent(fake, telegram_post, settings):
    settings.TELEGRAM_READ_TIMEOUT = 0.3
    fake.mode = "slow"
    fake.slow_seconds = 1.0
    publish_due_posts(now=later())
    telegram_post.refresh_from_db()
    assert telegram_post.status == "failed"
    assert telegram_post.error_message.startswith("Outcome unknown")
    publish_due_posts(now=later(7200))
    assert len(fake.calls) == 1


def test_the_token_never_reaches_logs_or_messages(fake, telegram_post, caplog):
    caplog.set_level(logging.DEBUG)
    for mode in ("500", "400", "401"):
        fake.mode = mode
        ScheduledPost.objects.filter(pk=telegram_post.pk).update(status="scheduled")
        PlatformAccount.objects.filter(pk=telegram_post.platform_account_id).update(
            connection_status="connected", is_connected=True
        )
        publish_due_posts(now=later(10_000))
    assert TOKEN not in caplog.text
    for message in ScheduledPost.objects.values_list("error_message", flat=True):
        assert TOKEN not in (message or "")


def test_other_platforms_are_not_configured(settings):
    settings.PLATFORM_ADAPTERS = {
        "telegram": "platforms.adapters.telegram.TelegramAdapter"
    }
    account = f.PlatformAccountFactory(platform="instagram")
    adapter = base.get_adapter(account)
    with pytest.raises(base.NotConfigured, match="instagram is not configured"):
        adapter.publish(base.PublishRequest(marker="x", caption="hi"))
    assert isinstance(
        base.get_adapter(f.PlatformAccountFactory(platform="telegram")), TelegramAdapter
    )


def test_stats_come_from_get_chat_member_count(fake):
    account = f.PlatformAccountFactory(
        platform="telegram", auth_data={"bot_token": TOKEN, "chat_id": "-1001"}
    )
    assert TelegramAdapter(account).fetch_stats() == {"follower_count": 2048}
    assert fake.calls[-1]["method"] == "getChatMemberCount"


def test_a_bot_says_which_engagement_it_cannot_do(fake):
    account = f.PlatformAccountFactory(
        platform="telegram", auth_data={"bot_token": TOKEN, "chat_id": "-1001"}
    )
    adapter = TelegramAdapter(account)
    for kind in ("like", "follow", "unfollow", "share"):
        action = f.EngagementActionFactory(platform_account=account, action_type=kind)
        with pytest.raises(base.PermanentError, match=f"Telegram cannot {kind}: a bot"):
            adapter.perform_engagement(action)
    assert fake.calls == []
    reply = f.EngagementActionFactory(
        platform_account=account, action_type="reply", target_id="5", comment_text="hi"
    )
    assert adapter.perform_engagement(reply) == "101"
    assert b"reply_to_message_id=5" in fake.calls[-1]["body"]


def test_a_published_message_is_taken_down_with_delete_message(fake, telegram_post):
    assert publish_due_posts(now=later()) == 1
    telegram_post.refresh_from_db()
    post = telegram_post.post
    assert ("-1001", 101) in fake.messages
    assert post_take_down(post=post) is True
    call = fake.calls[-1]
    assert call["method"] == "deleteMessage" and call["token"] == TOKEN
    assert b"chat_id=-1001" in call["body"] and b"message_id=101" in call["body"]
    assert fake.messages == {}
    post.refresh_from_db()
    assert post.status == Post.Status.DELETED


def test_a_message_already_gone_from_telegram_is_taken_down(fake, telegram_post):
    """Telegram answers 400 "message to delete not found" for a message the
    chat no longer holds (deleted in Telegram by hand): the take-down's aim
    holds, so the post is marked deleted. Another refusal stays an error."""
    assert publish_due_posts(now=later()) == 1
    telegram_post.refresh_from_db()
    post = telegram_post.post
    adapter = TelegramAdapter(PlatformAccount.objects.get(pk=post.platform_account_id))
    adapter.delete("-1001:999")  # never there: nothing to do, no error
    assert ("-1001", 101) in fake.messages
    fake.messages.clear()  # someone deleted it in Telegram
    post_take_down(post=post)
    post.refresh_from_db()
    assert post.status == Post.Status.DELETED
    # any other refusal is still an error
    with pytest.raises(
        base.PermanentError, match="deleteMessage: Bad Request: message identifier"
    ):
        adapter.delete("-1001:not-a-number")
