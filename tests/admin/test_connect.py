"""Connecting accounts from the admin: the OAuth 2.0 code flow per platform
against a loopback authorization server, the Telegram bot form, Test connection."""

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from logs.models import SystemLog
from platforms.models import PlatformAccount, ScheduledPost
from tests.conftest import CALLBACK
from tests.factories import PlatformAccountFactory, ScheduledPostFactory, UserFactory
from tests.fakes.oauth import CLIENTS, s256
from tests.fakes.oauth import connect_in_admin as run_flow


@pytest.fixture
def fake(fake_oauth):
    """The loopback authorization server (tests/conftest.py), by a short name."""
    return fake_oauth


def connect_url(account):
    return reverse("admin:platforms_platformaccount_connect", args=[account.pk])


def change_url(account):
    return reverse("admin:platforms_platformaccount_change", args=[account.pk])


def page_messages(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


def unconnected(platform, **kwargs):
    return PlatformAccountFactory(
        platform=platform,
        account_username="placeholder",
        account_id=None,
        auth_type=None,
        auth_data=None,
        is_connected=False,
        connection_status="disconnected",
        **kwargs,
    )


def test_connecting_an_x_account_uses_pkce_and_fills_the_account_in(
    administrator_client, fake
):
    account = unconnected("twitter")

    response = run_flow(administrator_client, account, fake)

    assert response.redirect_chain[-1][0] == change_url(account)
    assert "Connected Twitter / X account luna_x" in page_messages(response)
    account.refresh_from_db()
    assert (account.account_id, account.account_username, account.account_url) == (
        "1500000000000000001",
        "luna_x",
        "https://x.com/luna_x",
    )
    assert account.auth_type == "oauth"
    assert account.connection_status == "connected" and account.is_connected
    data = account.auth_data
    assert data["access_token"].startswith("FAKE-X-ACCESS-")
    assert data["refresh_token"].startswith("FAKE-X-REFRESH-")
    assert "offline.access" in data["scopes"] and "tweet.write" in data["scopes"]
    assert data["user_id"] == "1500000000000000001"  # what the X adapter reads
    assert abs(account.token_expires_at - timezone.now() - dt.timedelta(hours=2)) < (
        dt.timedelta(minutes=1)
    )
    # PKCE: the challenge went to the authorize page, its verifier to the token
    # endpoint, and the confidential client authenticated with HTTP Basic
    authorize = next(c for c in fake.calls if c["path"] == "/x/i/oauth2/authorize")
    token = next(c for c in fake.calls if c["path"] == "/x/2/oauth2/token")
    assert authorize["query"]["code_challenge_method"] == "S256"
    assert s256(token["form"]["code_verifier"]) == authorize["query"]["code_challenge"]
    assert token["headers"]["Authorization"].startswith("Basic ")
    assert token["form"]["redirect_uri"] == f"http://testserver{CALLBACK}"
    # the page and the audit row never show a token
    page = response.content.decode()
    assert data["access_token"] not in page and data["refresh_token"] not in page
    audit = SystemLog.objects.get(
        component="credentials", message__startswith="Platform account connected"
    )
    assert audit.metadata["keys"] == sorted(data)
    assert data["access_token"] not in str(audit.metadata)


def test_connecting_youtube_asks_google_for_a_refresh_token(administrator_client, fake):
    account = unconnected("youtube")

    run_flow(administrator_client, account, fake)

    account.refresh_from_db()
    assert account.account_id == "UCfakeChannel000000000001"
    assert account.account_username == "@lunavlogs"
    assert account.account_url == "https://www.youtube.com/@lunavlogs"
    assert account.auth_data["refresh_token"].startswith("FAKE-GOOGLE-REFRESH-")
    assert account.auth_data["channel_id"] == "UCfakeChannel000000000001"
    authorize = next(c for c in fake.calls if c["path"].endswith("/v2/auth"))
    assert authorize["query"]["access_type"] == "offline"
    assert authorize["query"]["prompt"] == "consent"
    assert authorize["query"]["code_challenge_method"] == "S256"
    token = next(c for c in fake.calls if c["path"] == "/google/token")
    assert token["form"]["client_secret"] == CLIENTS["google"][1]


def test_connecting_instagram_takes_a_long_lived_token_and_the_business_account(
    administrator_client, fake
):
    account = unconnected("instagram")

    run_flow(administrator_client, account, fake)

    account.refresh_from_db()
    assert (account.account_id, account.account_username, account.account_url) == (
        "17841400000000001",
        "luna.ig",
        "https://www.instagram.com/luna.ig/",
    )
    data = account.auth_data
    assert data["ig_user_id"] == "17841400000000001"
    assert data["page_id"] == "104000000000001"
    assert data["page_access_token"] == "FAKE-PAGE-104000000000001"
    assert "instagram_content_publish" in data["scopes"]
    exchanges = [
        c
        for c in fake.calls
        if c["path"].endswith("/oauth/access_token")
        and c["query"].get("grant_type") == "fb_exchange_token"
    ]
    assert len(exchanges) == 1  # the short-lived token became a long-lived one
    assert account.token_expires_at > timezone.now() + dt.timedelta(days=59)


def test_connecting_a_facebook_page_stores_its_page_token(administrator_client, fake):
    account = unconnected("facebook")

    run_flow(administrator_client, account, fake)

    account.refresh_from_db()
    assert account.account_id == "104000000000001"
    assert account.account_username == "Luna Page"
    assert account.auth_data["page_access_token"] == "FAKE-PAGE-104000000000001"


def test_several_pages_need_the_account_id_to_choose(administrator_client, fake):
    fake.pages.append({"id": "104000000000002", "name": "Second Page"})
    account = unconnected("facebook")

    response = run_flow(administrator_client, account, fake)

    text = page_messages(response)
    assert "several Pages" in text and "Second Page (104000000000002)" in text
    account.refresh_from_db()
    assert account.auth_data is None and account.connection_status == "disconnected"

    PlatformAccount.objects.filter(pk=account.pk).update(account_id="104000000000002")
    run_flow(administrator_client, account, fake)
    account.refresh_from_db()
    assert account.auth_data["page_id"] == "104000000000002"
    assert account.account_username == "Second Page"


def test_a_meta_permission_left_unticked_is_refused_with_its_name(
    administrator_client, fake
):
    fake.declined = {"instagram_content_publish"}
    account = unconnected("instagram")

    response = run_flow(administrator_client, account, fake)

    assert "without instagram_content_publish" in page_messages(response)
    account.refresh_from_db()
    assert account.auth_data is None


@pytest.mark.parametrize("platform", ["twitter", "instagram", "youtube"])
def test_a_refused_consent_leaves_the_account_unchanged(
    administrator_client, fake, platform
):
    account = PlatformAccountFactory(
        platform=platform,
        account_username="before",
        auth_data={"access_token": "old-token"},
        connection_status="error",
        is_connected=False,
    )

    response = run_flow(administrator_client, account, fake, decision="deny")

    assert response.redirect_chain[-1][0] == change_url(account)
    text = page_messages(response)
    assert "was not connected: the consent was refused" in text
    assert "The account is unchanged." in text
    account.refresh_from_db()
    assert account.auth_data == {"access_token": "old-token"}
    assert (account.account_username, account.connection_status) == ("before", "error")
    assert not any("token" in c["path"] for c in fake.calls)


def test_a_callback_is_good_once_for_the_session_that_started_it(
    administrator_client, fake, client, administrator
):
    account = unconnected("twitter")
    start = administrator_client.post(connect_url(account))
    back = urlsplit(fake.approve(start["Location"]))
    callback = f"{back.path}?{back.query}"

    # another staff member's browser cannot finish this flow
    other = client.__class__()
    other.force_login(UserFactory(username="other-admin", is_superuser=True))
    stranger = other.get(callback, follow=True)
    assert "does not match a connect started in this browser" in page_messages(stranger)
    account.refresh_from_db()
    assert account.auth_data is None

    assert administrator_client.get(callback).status_code == 302
    account.refresh_from_db()
    assert account.auth_data is not None
    # replayed: refused, nothing changes
    first_token = account.auth_data["access_token"]
    replay = administrator_client.get(callback, follow=True)
    assert "does not match a connect started" in page_messages(replay)
    account.refresh_from_db()
    assert account.auth_data["access_token"] == first_token


def test_a_forged_or_late_state_changes_nothing(administrator_client, fake, settings):
    account = unconnected("twitter")
    forged = administrator_client.get(f"{CALLBACK}?code=abc&state=made-up", follow=True)
    assert "does not match a connect started" in page_messages(forged)

    settings.OAUTH_STATE_MAX_AGE = 0
    start = administrator_client.post(connect_url(account))
    back = urlsplit(fake.approve(start["Location"]))
    late = administrator_client.get(f"{back.path}?{back.query}", follow=True)
    assert "too late" in page_messages(late)
    account.refresh_from_db()
    assert account.auth_data is None


def test_a_token_endpoint_outage_is_a_clear_message(administrator_client, fake):
    fake.token_endpoint_down = True
    account = unconnected("twitter")

    response = run_flow(administrator_client, account, fake)

    text = page_messages(response)
    assert "Twitter / X was not connected" in text and "HTTP 503" in text
    assert CLIENTS["x"][1] not in text
    account.refresh_from_db()
    assert account.auth_data is None


def test_without_app_credentials_the_page_names_the_variables(
    administrator_client, fake, settings
):
    settings.X_CLIENT_ID = ""
    account = unconnected("twitter")

    page = administrator_client.get(connect_url(account))
    assert b"set X_CLIENT_ID in the environment" in page.content
    assert b'id="oauth-connect"' not in page.content
    started = administrator_client.post(connect_url(account))
    assert started.status_code == 200  # the same page, no trip to X
    assert not fake.calls


def test_the_connect_page_says_where_the_person_goes(administrator_client, fake):
    account = unconnected("instagram")
    page = administrator_client.get(connect_url(account)).content.decode()
    assert "Continue to Instagram" in page
    assert "instagram_content_publish" in page
    change = administrator_client.get(change_url(account)).content.decode()
    assert 'id="connect-account"' in change and 'id="test-connection"' in change


def test_only_staff_who_manage_credentials_can_connect(operator_client, fake):
    account = unconnected("twitter")
    assert operator_client.get(connect_url(account)).status_code == 403
    assert operator_client.post(connect_url(account)).status_code == 403
    change = operator_client.get(change_url(account)).content.decode()
    assert 'id="connect-account"' not in change
    assert 'id="test-connection"' in change  # testing needs no credentials rights


def test_an_account_that_waited_is_resumed_by_connecting(administrator_client, fake):
    account = PlatformAccountFactory(
        platform="twitter", connection_status="error", is_connected=False
    )
    ScheduledPost.objects.filter(
        pk=ScheduledPostFactory(platform_account=account).pk
    ).update(status="failed", error_message="Waiting: the account's credentials failed")

    run_flow(administrator_client, account, fake)

    account.refresh_from_db()
    assert account.connection_status == "connected" and account.connection_error is None
    assert ScheduledPost.objects.get(platform_account=account).status == "scheduled"


def test_onlyfans_has_nothing_to_connect_to(administrator_client, fake):
    account = unconnected("onlyfans")
    response = administrator_client.get(connect_url(account), follow=True)
    assert "has no API to connect to" in page_messages(response)
    change = administrator_client.get(change_url(account)).content.decode()
    assert 'id="connect-account"' not in change
    assert 'id="by-hand-link"' in change


# --- Telegram: the bot-token form ---------------------------------------------------


def test_a_telegram_bot_is_checked_with_get_me_before_it_is_saved(
    administrator_client, fake
):
    account = unconnected("telegram")

    page = administrator_client.get(connect_url(account))
    assert b'name="bot_token"' in page.content
    response = administrator_client.post(
        connect_url(account),
        {"bot_token": fake.bot_token, "chat_id": "@luna_channel"},
        follow=True,
    )

    assert "the bot @luna_bot posts to Luna" in page_messages(response)
    account.refresh_from_db()
    assert account.auth_data == {
        "bot_token": fake.bot_token,
        "chat_id": "-1001000000001",
    }
    assert (account.account_id, account.account_username, account.account_url) == (
        "-1001000000001",
        "luna_channel",
        "https://t.me/luna_channel",
    )
    assert account.auth_type == "api_key" and account.connection_status == "connected"
    assert [c["path"].rsplit("/", 1)[1] for c in fake.calls] == ["getMe", "getChat"]
    assert fake.bot_token not in response.content.decode()


@pytest.mark.parametrize(
    ("typed", "chat", "error"),
    [
        ("not-a-token", "@luna_channel", "This is not a bot token"),
        ("7000001:" + "W" * 35, "@luna_channel", "Telegram refused the credentials"),
        (None, "@nobody_here", "chat not found"),
        (None, "luna channel", "Enter @channelname or a numeric chat id"),
    ],
)
def test_a_bad_bot_or_chat_is_a_form_error_that_never_echoes_the_token(
    administrator_client, fake, typed, chat, error
):
    account = unconnected("telegram")
    token = typed or fake.bot_token

    response = administrator_client.post(
        connect_url(account), {"bot_token": token, "chat_id": chat}
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert error in page
    assert token not in page
    account.refresh_from_db()
    assert account.auth_data is None


# --- Test connection ----------------------------------------------------------------


def test_test_connection_reports_what_the_platform_sees(administrator_client, fake):
    account = unconnected("twitter")
    run_flow(administrator_client, account, fake)
    account.refresh_from_db()
    test_url = reverse(
        "admin:platforms_platformaccount_test_connection", args=[account.pk]
    )

    ok = administrator_client.post(test_url, follow=True)
    assert "Twitter / X answered: this is @luna_x (id 1500000000000000001)" in (
        page_messages(ok)
    )

    fake.revoke_all()
    failed = administrator_client.post(test_url, follow=True)
    text = page_messages(failed)
    assert "refused the credentials" in text
    assert account.auth_data["access_token"] not in text
    # a test changes nothing
    account.refresh_from_db()
    assert account.connection_status == "connected"
    assert administrator_client.get(test_url).status_code == 405


def test_test_connection_from_the_list_tests_each_selected_account(
    operator_client, fake
):
    fake_account = PlatformAccountFactory(
        platform="telegram",
        auth_data={"bot_token": fake.bot_token, "chat_id": "@luna_channel"},
    )
    by_hand = PlatformAccountFactory(platform="onlyfans")

    response = operator_client.post(
        reverse("admin:platforms_platformaccount_changelist"),
        {
            "action": "test_connection",
            "_selected_action": [str(fake_account.pk), str(by_hand.pk)],
        },
        follow=True,
    )

    text = page_messages(response)
    assert "Telegram answered: this is @luna_channel" in text
    assert "OnlyFans has no API: nothing to test" in text


def test_the_connect_action_needs_exactly_one_account(administrator_client, fake):
    one, two = unconnected("twitter"), unconnected("youtube")
    changelist = reverse("admin:platforms_platformaccount_changelist")
    both = administrator_client.post(
        changelist,
        {"action": "connect", "_selected_action": [str(one.pk), str(two.pk)]},
        follow=True,
    )
    assert "Select exactly one account" in page_messages(both)
    single = administrator_client.post(
        changelist, {"action": "connect", "_selected_action": [str(one.pk)]}
    )
    assert single.status_code == 302 and single["Location"] == connect_url(one)


def test_the_accounts_list_shows_each_accounts_publishing_mode(
    administrator_client, settings
):
    settings.PLATFORM_ADAPTERS = {
        "telegram": "platforms.adapters.dryrun.DryRunAdapter",
        "twitter": "platforms.adapters.telegram.TelegramAdapter",
    }
    PlatformAccountFactory(platform="telegram")
    PlatformAccountFactory(platform="twitter")
    PlatformAccountFactory(platform="onlyfans")

    page = administrator_client.get(
        reverse("admin:platforms_platformaccount_changelist")
    ).content.decode()

    assert page.count("platform-mode-dry-run") >= 1
    assert 'class="platform-mode platform-mode-live"' in page
    assert 'class="platform-mode platform-mode-assisted"' in page


def test_the_callback_query_is_never_put_into_a_page(administrator_client, fake):
    """An error description is the provider's (or an attacker's) text: it is
    shown escaped and cut short, the code never at all."""
    account = unconnected("twitter")
    start = administrator_client.post(connect_url(account))
    state = parse_qs(urlsplit(start["Location"]).query)["state"][0]
    response = administrator_client.get(
        CALLBACK,
        {
            "state": state,
            "error": "server_error",
            "error_description": "<script>alert(1)</script>" + "x" * 500,
        },
        follow=True,
    )
    page = response.content.decode()
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "x" * 300 not in page


def test_testing_from_the_list_stops_within_its_time_budget(
    operator_client, fake, monkeypatch
):
    """Each test may wait for its platform: the action stops taking accounts
    before gunicorn's timeout would cut the request off."""
    monkeypatch.setattr("platforms.admin.TEST_CONNECTION_BUDGET", 0.0)
    accounts = [
        PlatformAccountFactory(
            platform="telegram",
            auth_data={"bot_token": fake.bot_token, "chat_id": "@luna_channel"},
        )
        for _ in range(3)
    ]

    response = operator_client.post(
        reverse("admin:platforms_platformaccount_changelist"),
        {
            "action": "test_connection",
            "_selected_action": [str(a.pk) for a in accounts],
        },
        follow=True,
    )

    text = page_messages(response)
    assert text.count("Telegram answered") == 1
    assert "Tested 1 of the selected accounts" in text
