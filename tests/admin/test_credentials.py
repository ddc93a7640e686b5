"""auth_data never reaches a page; only a write-only field replaces it."""

import pytest
from django.urls import reverse

from logs.models import SystemLog
from platforms.models import PlatformAccount
from tests.factories import (
    EngagementActionFactory,
    PlatformAccountFactory,
    PostFactory,
    ScheduledPostFactory,
)

SECRET = "planted-SECRET-4f9c1e"
NEW_SECRET = "typed-NEW-SECRET-77aa"


@pytest.fixture
def secret_account(db, character):
    return PlatformAccountFactory(
        character=character,
        platform="instagram",
        auth_data={"access_token": SECRET, "refresh_token": SECRET + "-r"},
    )


def change_url(obj):
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])


def form_data(account, **overrides):
    data = {
        "character": str(account.character_id),
        "platform": account.platform,
        "account_username": account.account_username or "",
        "account_id": account.account_id or "",
        "account_url": "",
        "connection_status": account.connection_status,
        "is_connected": "on",
        "auth_type": account.auth_type or "",
        "auto_posting_enabled": "on",
        "posting_frequency": "",
        "auto_engagement_enabled": "on",
        "engagement_frequency": "",
        "new_credentials": "",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    "who", ["administrator_client", "operator_client", "analyst_client"]
)
def test_no_admin_page_contains_the_secret(request, who, secret_account):
    client = request.getfixturevalue(who)
    post = PostFactory(platform_account=secret_account)
    scheduled = ScheduledPostFactory(platform_account=secret_account)
    action = EngagementActionFactory(platform_account=secret_account)
    opts = PlatformAccount._meta
    urls = [
        "/admin/",
        reverse("admin:platforms_platformaccount_changelist"),
        change_url(secret_account),
        reverse(
            f"admin:{opts.app_label}_{opts.model_name}_history",
            args=[secret_account.pk],
        ),
        # Only Administrators may delete an account (the page lists its rows).
        *(
            [
                reverse(
                    f"admin:{opts.app_label}_{opts.model_name}_delete",
                    args=[secret_account.pk],
                )
            ]
            if who == "administrator_client"
            else []
        ),
        # connecting: only who manages credentials gets the page
        *(
            [
                reverse(
                    "admin:platforms_platformaccount_connect", args=[secret_account.pk]
                )
            ]
            if who == "administrator_client"
            else []
        ),
        reverse("admin:platforms_scheduledpost_by_hand"),
        reverse("admin:platforms_scheduledpost_by_hand")
        + f"?account={secret_account.pk}",
        change_url(secret_account.character),
        change_url(post),
        change_url(scheduled),
        change_url(action),
        reverse("admin:platforms_post_changelist"),
        reverse("admin:platforms_scheduledpost_changelist"),
        reverse("admin:logs_systemlog_changelist"),
        reverse("admin:autocomplete")
        + "?app_label=platforms&model_name=post&field_name=platform_account&term=",
    ]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        assert SECRET.encode() not in response.content, url
    # Test connection reports what the platform saw, never the credentials.
    if who != "analyst_client":
        tested = client.post(
            reverse(
                "admin:platforms_platformaccount_test_connection",
                args=[secret_account.pk],
            ),
            follow=True,
        )
        assert tested.status_code == 200
        assert b"no ig_user_id in its credentials" in tested.content
        assert SECRET.encode() not in tested.content
    # The page says whether credentials are set, and nothing more.
    page = client.get(change_url(secret_account)).content
    assert (b'name="new_credentials"' in page) == (who == "administrator_client")
    assert b"refresh_token" not in page  # not even the keys


def test_replacing_credentials_stores_them_and_writes_an_audit_row(
    administrator_client, secret_account
):
    response = administrator_client.post(
        change_url(secret_account),
        form_data(
            secret_account, new_credentials=f'{{"access_token": "{NEW_SECRET}"}}'
        ),
    )

    assert response.status_code == 302
    secret_account.refresh_from_db()
    assert secret_account.auth_data == {"access_token": NEW_SECRET}
    audit = SystemLog.objects.get(component="credentials")
    assert audit.platform_account_id == secret_account.pk
    assert audit.metadata["by"]["actor"] == "admin-ann"
    assert audit.metadata["keys"] == ["access_token"]
    assert NEW_SECRET not in str(audit.metadata) + audit.message
    page = administrator_client.get(change_url(secret_account)).content
    assert NEW_SECRET.encode() not in page


def test_saving_without_new_credentials_keeps_them(
    administrator_client, secret_account
):
    response = administrator_client.post(
        change_url(secret_account),
        form_data(secret_account, account_username="newname"),
    )
    assert response.status_code == 302
    secret_account.refresh_from_db()
    assert secret_account.account_username == "newname"
    assert secret_account.auth_data["access_token"] == SECRET
    assert not SystemLog.objects.filter(component="credentials").exists()


def test_clearing_credentials(administrator_client, secret_account):
    administrator_client.post(
        change_url(secret_account), form_data(secret_account, clear_credentials="on")
    )
    secret_account.refresh_from_db()
    assert secret_account.auth_data is None
    assert SystemLog.objects.get(component="credentials").message == (
        "Platform account credentials cleared"
    )


@pytest.mark.parametrize("bad", ["{not json", "[1, 2]", '"a string"', "{}"])
def test_bad_credentials_are_a_form_error_that_does_not_echo_the_input(
    administrator_client, secret_account, bad
):
    typed = bad.replace("{}", "{}") + NEW_SECRET if bad == "{not json" else bad
    response = administrator_client.post(
        change_url(secret_account), form_data(secret_account, new_credentials=typed)
    )
    assert response.status_code == 200
    assert b"errornote" in response.content
    assert NEW_SECRET.encode() not in response.content
    secret_account.refresh_from_db()
    assert secret_account.auth_data["access_token"] == SECRET


def test_a_typed_secret_is_not_echoed_when_another_field_is_invalid(
    administrator_client, secret_account
):
    response = administrator_client.post(
        change_url(secret_account),
        form_data(
            secret_account,
            account_url="not a url",
            new_credentials=f'{{"access_token": "{NEW_SECRET}"}}',
        ),
    )
    assert response.status_code == 200
    assert b"errornote" in response.content
    assert NEW_SECRET.encode() not in response.content


def test_adding_an_account_with_credentials(administrator_client, character):
    response = administrator_client.post(
        reverse("admin:platforms_platformaccount_add"),
        {
            "character": str(character.pk),
            "platform": "twitter",
            "account_username": "ava_tw",
            "connection_status": "connected",
            "is_connected": "on",
            "auth_type": "oauth",
            "new_credentials": f'{{"token": "{NEW_SECRET}"}}',
        },
    )
    assert response.status_code == 302, response.content[-2000:]
    account = PlatformAccount.objects.get(character=character, platform="twitter")
    assert account.auth_data == {"token": NEW_SECRET}
    assert SystemLog.objects.filter(
        component="credentials", platform_account=account
    ).exists()


def test_operator_neither_sees_nor_sets_credentials(operator_client, secret_account):
    page = operator_client.get(change_url(secret_account))
    assert page.status_code == 200
    assert b"new_credentials" not in page.content
    assert SECRET.encode() not in page.content

    response = operator_client.post(
        change_url(secret_account),
        form_data(
            secret_account, new_credentials=f'{{"access_token": "{NEW_SECRET}"}}'
        ),
    )
    assert response.status_code == 302  # the rest of the form is theirs to change
    secret_account.refresh_from_db()
    assert secret_account.auth_data["access_token"] == SECRET
    assert not SystemLog.objects.filter(component="credentials").exists()
