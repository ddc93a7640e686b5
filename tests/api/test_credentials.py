"""Clearing or replacing auth_data needs manage_credentials on every API path."""

import pytest
from django.core.exceptions import PermissionDenied

from logs.models import SystemLog
from platforms.services import platform_account_set_credentials
from tests.factories import PlatformAccountFactory

pytestmark = pytest.mark.django_db
SECRET = {"access_token": "keep-me-secret"}


@pytest.fixture
def secret_account(character):
    return PlatformAccountFactory(
        character=character, platform="instagram", auth_data=SECRET
    )


def _put_body(account, **changes):
    return {
        "character": str(account.character_id),
        "platform": account.platform,
        "account_username": "renamed",
        **changes,
    }


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("patch", lambda a: {"auth_data": None}),
        ("patch", lambda a: {"auth_data": {"access_token": "replaced"}}),
        ("put", lambda a: _put_body(a, auth_data=None)),
        ("put", lambda a: _put_body(a, auth_data={"access_token": "replaced"})),
    ],
)
def test_an_operator_can_neither_clear_nor_replace_credentials(
    operator_api, secret_account, method, body
):
    response = getattr(operator_api, method)(
        f"/api/v1/platform-accounts/{secret_account.pk}/",
        body(secret_account),
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "permission" in response.json()["auth_data"][0]
    secret_account.refresh_from_db()
    assert secret_account.auth_data == SECRET
    assert not SystemLog.objects.filter(component="credentials").exists()


def test_a_put_without_auth_data_keeps_the_credentials(operator_api, secret_account):
    response = operator_api.put(
        f"/api/v1/platform-accounts/{secret_account.pk}/",
        _put_body(secret_account),
        format="json",
    )
    assert response.status_code == 200, response.content
    secret_account.refresh_from_db()
    assert secret_account.auth_data == SECRET
    assert secret_account.account_username == "renamed"


def test_an_administrator_may_clear_them(admin_api, secret_account):
    response = admin_api.patch(
        f"/api/v1/platform-accounts/{secret_account.pk}/",
        {"auth_data": None},
        format="json",
    )
    assert response.status_code == 200
    secret_account.refresh_from_db()
    assert secret_account.auth_data is None


def test_the_service_itself_refuses_a_user_without_the_permission(
    operator_api, secret_account
):
    with pytest.raises(PermissionDenied):
        platform_account_set_credentials(
            account=secret_account, auth_data=None, actor=operator_api.user
        )
    secret_account.refresh_from_db()
    assert secret_account.auth_data == SECRET
