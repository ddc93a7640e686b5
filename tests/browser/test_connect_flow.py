"""Connecting an account and publishing by hand, in a real headless browser,
against a loopback fake of the platform's authorization server."""

import datetime as dt

import pytest
from django.utils import timezone

from platforms.adapters import DRY_RUN_ADAPTER
from platforms.models import PlatformAccount, Post, ScheduledPost
from tests.browser.conftest import shot
from tests.conftest import CALLBACK
from tests.factories import ContentFactory, PlatformAccountFactory, ScheduledPostFactory
from tests.fakes.sdwebui import png

pytestmark = pytest.mark.browser


@pytest.fixture
def provider(fake_oauth, live_server, settings):
    """The fake authorization server, sending browsers back to the live server."""
    settings.OAUTH_REDIRECT_URI = f"{live_server.url}{CALLBACK}"
    fake_oauth.redirect_uri = settings.OAUTH_REDIRECT_URI
    return fake_oauth


def unconnected_x_account():
    return PlatformAccountFactory(
        platform="twitter",
        account_username="placeholder",
        account_id=None,
        auth_type=None,
        auth_data=None,
        is_connected=False,
        connection_status="disconnected",
    )


def test_connecting_an_x_account_end_to_end(logged_in, live_server, provider):
    page = logged_in
    account = unconnected_x_account()

    page.goto(f"{live_server.url}/admin/platforms/platformaccount/{account.pk}/change/")
    with page.expect_navigation():  # the old page has a #content-main too
        page.click("#connect-account")
    assert "Permissions asked for" in page.inner_text("#content-main")
    shot(page, "20-connect-x")
    page.click("#oauth-connect input[type=submit]")
    page.wait_for_selector("#allow")
    assert page.url.startswith(provider.url)
    assert "offline.access" in page.inner_text("#scopes")
    shot(page, "21-connect-x-consent")
    page.click("#allow")
    page.wait_for_selector(".messagelist .success")

    assert "Connected Twitter / X account luna_x" in page.inner_text(".messagelist")
    assert page.input_value("#id_account_username") == "luna_x"
    assert page.input_value("#id_account_id") == "1500000000000000001"
    account.refresh_from_db()
    assert account.auth_type == "oauth" and account.connection_status == "connected"
    assert account.account_url == "https://x.com/luna_x"
    html = page.content()
    assert account.auth_data["access_token"] not in html
    assert account.auth_data["refresh_token"] not in html
    shot(page, "22-connect-x-done")

    page.click("#test-connection")
    page.wait_for_selector(".messagelist .success")
    assert "answered: this is @luna_x" in page.inner_text(".messagelist")


def test_a_refused_consent_in_the_browser_leaves_the_account_unchanged(
    logged_in, live_server, provider
):
    page = logged_in
    account = unconnected_x_account()

    page.goto(
        f"{live_server.url}/admin/platforms/platformaccount/{account.pk}/connect/"
    )
    page.click("#oauth-connect input[type=submit]")
    page.click("#deny")
    page.wait_for_selector(".messagelist .error")

    message = page.inner_text(".messagelist")
    assert "the consent was refused" in message
    assert "The account is unchanged." in message
    assert page.url.endswith(f"/platformaccount/{account.pk}/change/")
    shot(page, "23-connect-refused")
    after = PlatformAccount.objects.get(pk=account.pk)
    assert (after.auth_data, after.account_username, after.connection_status) == (
        None,
        "placeholder",
        "disconnected",
    )


def test_a_due_onlyfans_post_is_published_by_hand(
    logged_in, live_server, settings, tmp_path
):
    settings.PLATFORM_ADAPTERS = {"telegram": DRY_RUN_ADAPTER}
    settings.PLATFORM_DRY_RUN = True
    settings.MEDIA_ROOT = tmp_path
    account = PlatformAccountFactory(platform="onlyfans", account_username="luna_of")
    content = ContentFactory(
        character=account.character, content_type="image", approved=True
    )
    (tmp_path / content.file_path).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / content.file_path).write_bytes(png(64, 64))
    sp = ScheduledPostFactory(
        platform_account=account,
        content=content,
        caption="Golden hour",
        hashtags=["sunset"],
    )
    ScheduledPost.objects.filter(pk=sp.pk).update(
        created_at=timezone.now() - dt.timedelta(hours=1),
        scheduled_at=timezone.now() - dt.timedelta(minutes=5),
    )
    page = logged_in

    page.goto(f"{live_server.url}/admin/")
    assert page.inner_text("#site-name .site-mode") == "DRY RUN"
    assert "OnlyFans\tBY HAND" in page.inner_text("#dashboard-modes")
    page.click("#dashboard-by-hand a")
    item = page.locator(f"#sp-{sp.pk}")
    # decode(): resolves once the image has loaded (naturalWidth is 0 before)
    preview = item.locator("img.preview")
    assert preview.evaluate("img => img.decode().then(() => img.naturalWidth)") == 64
    assert page.input_value(f"#caption-{sp.pk}") == "Golden hour"
    assert page.input_value(f"#tags-{sp.pk}") == "#sunset"
    with page.expect_download() as download:
        item.locator("a.download").click()
    assert download.value.suggested_filename.endswith(".png")
    shot(page, "24-to-post-by-hand")
    page.fill(f"#url-{sp.pk}", "https://onlyfans.com/555/luna_of")
    item.locator("input[type=submit]").click()
    page.wait_for_selector(".messagelist .success")

    assert "Recorded as published" in page.inner_text(".messagelist")
    assert page.locator(f"#sp-{sp.pk}").count() == 0
    sp.refresh_from_db()
    assert sp.status == "published"
    assert Post.objects.get(pk=sp.post_id).platform_post_url == (
        "https://onlyfans.com/555/luna_of"
    )
    shot(page, "25-published-by-hand")
