"""POST /platform-accounts/{id}/test-connection/: what the platform sees, and
never a token."""

import pytest

from platforms.models import PlatformAccount
from tests.factories import PlatformAccountFactory


def url(account) -> str:
    return f"/api/v1/platform-accounts/{account.pk}/test-connection/"


def test_it_reports_the_identity_the_platform_answers(
    admin_api, oauth_account, fake_oauth
):
    account = oauth_account("twitter")

    answer = admin_api.post(url(account))

    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ok"
    assert (body["account_id"], body["username"], body["url"]) == (
        "1500000000000000001",
        "luna_x",
        "https://x.com/luna_x",
    )
    assert body["matches_account"] is True
    assert "offline.access" in body["scopes"] and body["expires_at"]
    text = answer.content.decode()
    assert not [secret for secret in fake_oauth.issued_secrets() if secret in text]


def test_revoked_credentials_are_reported_without_the_token(
    operator_api, oauth_account, fake_oauth
):
    account = oauth_account("youtube")
    fake_oauth.revoke_all()

    answer = operator_api.post(url(account))

    assert answer.status_code == 200
    assert answer.json()["status"] == "failed"
    assert "YouTube refused the credentials" in answer.json()["message"]
    text = answer.content.decode()
    assert not [secret for secret in fake_oauth.issued_secrets() if secret in text]
    account.refresh_from_db()
    assert account.connection_status == "connected"  # a test changes nothing


def test_credentials_that_belong_to_another_account_are_said_so(
    admin_api, oauth_account
):
    account = oauth_account("twitter")
    PlatformAccount.objects.filter(pk=account.pk).update(account_id="999")

    body = admin_api.post(url(account)).json()

    assert body["matches_account"] is False
    assert "belong to another account" in body["message"]


@pytest.mark.parametrize(
    ("platform", "auth_data", "status"),
    [("onlyfans", {"token": "x"}, "no_api"), ("twitter", None, "no_credentials")],
)
def test_nothing_to_ask(admin_api, platform, auth_data, status):
    account = PlatformAccountFactory(platform=platform, auth_data=auth_data)
    assert admin_api.post(url(account)).json()["status"] == status


@pytest.mark.django_db
def test_analysts_cannot_test_connections(analyst_api):
    account = PlatformAccountFactory(platform="twitter")
    assert analyst_api.post(url(account)).status_code == 403
