"""Tokens are renewed ahead of expiry; a refused renewal parks the account."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.periodic import PERIODIC_TASKS
from logs.models import SystemLog
from platforms.adapters import DRY_RUN_ADAPTER
from platforms.models import PlatformAccount, ScheduledPost
from platforms.publishing import publish_due_posts
from platforms.services import platform_accounts_refresh_tokens
from platforms.tasks import refresh_platform_tokens
from tests.factories import PlatformAccountFactory, ScheduledPostFactory


def expire_in(account, delta) -> None:
    PlatformAccount.objects.filter(pk=account.pk).update(
        token_expires_at=timezone.now() + delta
    )


def test_an_x_token_near_expiry_is_refreshed_and_its_refresh_token_rotated(
    oauth_account, fake_oauth
):
    account = oauth_account("twitter")
    old = account.auth_data
    expire_in(account, dt.timedelta(minutes=10))

    assert refresh_platform_tokens.run() == {"rows": 1, "refreshed": 1}

    account.refresh_from_db()
    new = account.auth_data
    assert new["access_token"] != old["access_token"]
    assert new["refresh_token"] != old["refresh_token"]  # X rotates it
    assert old["refresh_token"] not in fake_oauth.refresh_tokens  # spent
    assert account.token_expires_at > timezone.now() + dt.timedelta(minutes=110)
    assert account.connection_status == "connected"
    refresh = [c for c in fake_oauth.calls if c["form"].get("grant_type")]
    assert refresh[-1]["form"]["grant_type"] == "refresh_token"
    assert refresh[-1]["headers"]["Authorization"].startswith("Basic ")


def test_a_google_refresh_keeps_the_refresh_token(oauth_account):
    account = oauth_account("youtube")
    kept = account.auth_data["refresh_token"]
    expire_in(account, dt.timedelta(minutes=5))

    assert platform_accounts_refresh_tokens()["refreshed"] == 1

    account.refresh_from_db()
    assert account.auth_data["refresh_token"] == kept
    assert account.auth_data["access_token"].startswith("FAKE-GOOGLE-ACCESS-")


def test_a_meta_long_lived_token_is_renewed_a_week_ahead(oauth_account, fake_oauth):
    account = oauth_account("instagram")
    page_token = account.auth_data["page_access_token"]
    expire_in(account, dt.timedelta(days=30))
    assert platform_accounts_refresh_tokens() == {}  # not yet

    expire_in(account, dt.timedelta(days=3))
    assert platform_accounts_refresh_tokens()["refreshed"] == 1

    account.refresh_from_db()
    assert account.token_expires_at > timezone.now() + dt.timedelta(days=59)
    assert account.auth_data["page_access_token"] == page_token  # kept
    exchange = [
        c
        for c in fake_oauth.calls
        if c["query"].get("grant_type") == "fb_exchange_token"
    ]
    assert len(exchange) == 2  # one at connect, one now


def test_a_meta_renewal_asks_for_the_page_token_again(oauth_account, fake_oauth):
    """The Page token publishes to Facebook: a stale one (taken from a
    short-lived user token, or refused by Meta as expired) is replaced by the
    one Meta gives for the renewed user token."""
    account = oauth_account("facebook")
    page_id = account.auth_data["page_id"]
    PlatformAccount.objects.filter(pk=account.pk).update(
        auth_data={**account.auth_data, "page_access_token": "STALE-PAGE-TOKEN"}
    )
    expire_in(account, dt.timedelta(days=3))

    assert platform_accounts_refresh_tokens()["refreshed"] == 1

    account.refresh_from_db()
    assert account.auth_data["page_access_token"] == f"FAKE-PAGE-{page_id}"
    assert account.connection_status == "connected"


def test_a_page_the_login_no_longer_manages_parks_the_account(
    oauth_account, fake_oauth
):
    account = oauth_account("facebook")
    expire_in(account, dt.timedelta(days=3))
    fake_oauth.pages = []  # the Page was removed from the login's Pages

    assert platform_accounts_refresh_tokens() == {"failed": 1}

    account.refresh_from_db()
    assert account.connection_status == "error"
    assert "is no longer among the Pages this login manages" in (
        account.connection_error
    )


def test_tokens_far_from_expiry_cost_one_query_and_no_call(oauth_account, fake_oauth):
    oauth_account("twitter")
    oauth_account("youtube")
    calls = len(fake_oauth.calls)
    with CaptureQueriesContext(connection) as queries:
        assert platform_accounts_refresh_tokens() == {}
    assert len(queries) == 1
    assert len(fake_oauth.calls) == calls


def test_a_refused_refresh_parks_the_account_its_posts_wait_and_staff_are_told(
    oauth_account, fake_oauth, admin_client, settings
):
    settings.PLATFORM_ADAPTERS = {"*": DRY_RUN_ADAPTER}
    account = oauth_account("twitter", account_username="luna_x")
    expire_in(account, dt.timedelta(minutes=10))
    fake_oauth.refused_refresh = True

    assert platform_accounts_refresh_tokens()["failed"] == 1

    account.refresh_from_db()
    assert account.connection_status == "error" and not account.is_connected
    assert "Token refresh failed: Twitter / X refused: invalid_request" in (
        account.connection_error
    )
    log = SystemLog.objects.get(log_level="warning", component="credentials")
    assert "needs reconnecting" in log.message
    assert account.auth_data["refresh_token"] not in log.message
    # its due posts wait (no retry used) instead of going out with a dead token
    sp = ScheduledPostFactory(platform_account=account)
    ScheduledPost.objects.filter(pk=sp.pk).update(scheduled_at=sp.created_at)
    assert publish_due_posts() == 0
    sp.refresh_from_db()
    assert sp.status == "scheduled" and sp.retry_count == 0
    # the dashboard names the account and why
    page = admin_client.get("/admin/").content.decode()
    box = page[page.index('id="dashboard-attention"') :]
    box = box[: box.index("</table>")]
    assert "dashboard-alert" in page[page.index('id="dashboard-attention"') - 60 :][:80]
    assert "luna_x" in box and "Token refresh failed" in box
    # an account in error is left alone by the next runs
    assert platform_accounts_refresh_tokens() == {}


def test_an_outage_leaves_the_account_for_the_next_run(oauth_account, fake_oauth):
    account = oauth_account("youtube")
    before = account.auth_data
    expire_in(account, dt.timedelta(minutes=5))
    fake_oauth.token_endpoint_down = True

    assert platform_accounts_refresh_tokens() == {"retry": 1}

    account.refresh_from_db()
    assert account.connection_status == "connected" and account.auth_data == before
    fake_oauth.token_endpoint_down = False
    assert platform_accounts_refresh_tokens() == {"refreshed": 1}


def test_missing_app_credentials_park_an_account_whose_token_runs_out(
    oauth_account, settings
):
    account = oauth_account("twitter")
    expire_in(account, dt.timedelta(minutes=10))
    settings.X_CLIENT_SECRET = ""

    assert platform_accounts_refresh_tokens() == {"failed": 1}

    account.refresh_from_db()
    assert "set X_CLIENT_SECRET in the environment" in account.connection_error


@pytest.mark.django_db
def test_accounts_that_are_not_oauth_or_wait_anyway_are_not_refreshed():
    soon = timezone.now() + dt.timedelta(minutes=1)
    PlatformAccountFactory(platform="twitter", auth_type="api_key")
    PlatformAccountFactory(
        platform="youtube", auth_type="oauth", connection_status="suspended"
    )
    PlatformAccountFactory(platform="onlyfans", auth_type="oauth")
    PlatformAccount.objects.update(token_expires_at=soon)
    assert platform_accounts_refresh_tokens() == {}


def test_the_refresh_is_a_declared_periodic_task():
    entry = next(
        p for p in PERIODIC_TASKS if p.task.endswith("refresh_platform_tokens")
    )
    assert entry.schedule.seconds == 300
    assert entry.expires < 300


def test_an_adapter_told_the_token_expired_gets_a_new_one_at_once(
    oauth_account, fake_oauth, settings
):
    """settings.PLATFORM_TOKEN_REFRESHER: the adapters' way to renew a token the
    platform just refused as expired, before the periodic task would."""
    from django.utils.module_loading import import_string

    refresher = import_string(settings.PLATFORM_TOKEN_REFRESHER)
    account = oauth_account("twitter")
    old = account.auth_data["access_token"]
    in_use = PlatformAccount.objects.get(pk=account.pk)  # as an adapter holds it

    assert refresher(in_use) is True
    assert in_use.auth_data["access_token"] != old
    stored = PlatformAccount.objects.get(pk=account.pk)
    assert stored.auth_data["access_token"] == in_use.auth_data["access_token"]

    # a second adapter still holding the old token gets the renewed one, and
    # the provider is not asked again (X would reject the spent refresh token)
    calls = len(fake_oauth.calls)
    stale = PlatformAccount.objects.get(pk=account.pk)
    stale.auth_data = {**stale.auth_data, "access_token": old}
    assert refresher(stale) is True
    assert stale.auth_data["access_token"] == stored.auth_data["access_token"]
    assert len(fake_oauth.calls) == calls

    fake_oauth.refused_refresh = True
    current = PlatformAccount.objects.get(pk=account.pk)
    assert refresher(current) is False
    assert (
        "Token refresh failed"
        in PlatformAccount.objects.get(pk=account.pk).connection_error
    )
    telegram = PlatformAccountFactory(platform="telegram", auth_type="api_key")
    assert refresher(telegram) is False
