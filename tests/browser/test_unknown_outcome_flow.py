"""A post whose outcome is unknown, settled by a person in a real browser: the
dashboard's stuck-work box leads to it, a wrong link is refused with the
reason, the right one records it, and another is sent again."""

import pytest
from django.utils import timezone

from logs.maintenance import detect_stuck_work
from platforms.models import ScheduledPost
from tests.browser.conftest import shot
from tests.factories import PlatformAccountFactory, ScheduledPostFactory

pytestmark = pytest.mark.browser

UNKNOWN = (
    "Outcome unknown: Telegram sendMessage: no answer in 20 s. Attempt 1 began "
    "at 2026-12-01 20:00:00 UTC; the platform cannot tell whether the post went "
    "out. Look for it on the platform: if it is there, record its link (To post "
    "by hand); if not, retry it."
)


@pytest.fixture
def fake(telegram_fake):
    return telegram_fake


def in_doubt(account, caption: str) -> ScheduledPost:
    sp = ScheduledPostFactory(platform_account=account, content=None, caption=caption)
    ScheduledPost.objects.filter(pk=sp.pk).update(
        status="failed", error_message=UNKNOWN, scheduled_at=timezone.now()
    )
    return sp


def test_a_person_records_one_and_sends_the_other_again(fake, logged_in, live_server):
    page = logged_in
    account = PlatformAccountFactory(
        platform="telegram",
        auth_data={"bot_token": "1:secret-bot-token", "chat_id": "-1001"},
    )
    arrived = in_doubt(account, "This one arrived")
    lost = in_doubt(account, "This one was lost")
    # the chat holds the first one: Telegram had it, its answer never came
    fake.messages[("-1001", 101)] = {"method": "sendMessage", "text": arrived.caption}
    detect_stuck_work()

    page.goto(f"{live_server.url}/admin/")
    page.click("text=Posts whose outcome is unknown (look for them)")
    page.wait_for_selector(f"#unknown-{arrived.pk}")
    assert page.locator("#by-hand-unknown").is_visible()

    item = page.locator(f"#unknown-{arrived.pk}")
    item.locator("input[name=url]").fill("https://t.me/other_channel/101")
    item.locator("input[value='It went out: record it']").click()
    page.wait_for_selector(".messagelist .error")
    assert "a message of @other_channel" in page.locator(".messagelist").inner_text()
    arrived.refresh_from_db()
    assert arrived.status == "failed"

    item = page.locator(f"#unknown-{arrived.pk}")
    item.locator("input[name=url]").fill("https://t.me/luna_channel/101")
    item.locator("input[value='It went out: record it']").click()
    page.wait_for_selector(".messagelist .success")
    assert "Recorded as published: https://t.me/luna_channel/101" in (
        page.locator(".messagelist").inner_text()
    )
    assert page.locator(f"#unknown-{arrived.pk}").count() == 0
    arrived.refresh_from_db()
    assert arrived.status == "published"
    assert arrived.post.platform_post_id == "-1001:101"

    page.locator(f"#unknown-{lost.pk}").locator(
        "input[value='It did not: send it again']"
    ).click()
    page.wait_for_selector(".messagelist .success")
    assert "Queued again" in page.locator(".messagelist").inner_text()
    shot(page, "unknown-outcome-settled")
    lost.refresh_from_db()
    assert (lost.status, lost.error_message, lost.retry_count) == (
        "scheduled",
        None,
        0,
    )
    assert page.locator("text=No post whose outcome is unknown.").is_visible()
