"""API tokens: stored hashed, shown once, expiring, revocable one by one."""

import datetime as dt
import importlib
import io

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.factories import UserFactory
from tests.factories.users import api_token_for

pytestmark = pytest.mark.django_db


def _client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def user():
    return UserFactory(username="tok-tim", is_superuser=True)


def test_only_a_digest_of_the_token_is_stored(user):
    token = api_token_for(user)
    assert _client(token).get("/api/v1/characters/").status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(t)::text FROM knox_authtoken t")
        (stored,) = cursor.fetchone()
    assert token not in stored
    assert token[:15] in stored  # the lookup key, not enough to authenticate


def test_a_new_token_expires_after_the_configured_days(user):
    row, _ = importlib.import_module("config.api_tokens").api_token_create(user=user)
    days = (row.expiry - timezone.now()).days
    assert 88 <= days <= 90


def test_an_expired_token_is_refused_and_removed(user):
    token = api_token_for(user)
    AuthToken.objects.update(expiry=timezone.now() - dt.timedelta(seconds=1))
    assert _client(token).get("/api/v1/characters/").status_code == 401
    assert not AuthToken.objects.exists()


def test_a_wrong_token_is_401(user):
    token = api_token_for(user)
    wrong = token[:15] + "0" * (len(token) - 15)
    assert _client(wrong).get("/api/v1/characters/").status_code == 401
    assert _client("not-hex-ünïcode").get("/api/v1/characters/").status_code == 401


def test_revoking_the_token_in_use_leaves_the_others(user):
    first, second = api_token_for(user), api_token_for(user)
    assert _client(first).post("/api/v1/auth/revoke/").status_code == 204
    assert _client(first).get("/api/v1/characters/").status_code == 401
    assert _client(second).get("/api/v1/characters/").status_code == 200
    assert _client(second).post("/api/v1/auth/revoke-all/").status_code == 204
    assert _client(second).get("/api/v1/characters/").status_code == 401


def test_the_command_shows_a_token_once_lists_and_revokes_it(user):
    out = io.StringIO()
    call_command("api_token", "create", "tok-tim", "--days", "7", stdout=out)
    token = out.getvalue().split("store it now): ")[1].split()[0]
    assert _client(token).get("/api/v1/characters/").status_code == 200
    listing = io.StringIO()
    call_command("api_token", "list", "tok-tim", stdout=listing)
    assert token[:15] in listing.getvalue() and token not in listing.getvalue()
    call_command("api_token", "revoke", "tok-tim", "--key", token[:12], stdout=out)
    assert _client(token).get("/api/v1/characters/").status_code == 401
    with pytest.raises(CommandError, match="either --key"):
        call_command("api_token", "revoke", "tok-tim", stdout=out)
    with pytest.raises(CommandError, match="No user"):
        call_command("api_token", "create", "nobody", stdout=out)


def test_the_admin_shows_a_new_token_once(client, user):
    client.force_login(user)
    response = client.post(
        reverse("admin:knox_authtoken_add"),
        {"user": str(user.pk), "expiry_0": "", "expiry_1": ""},
        follow=True,
    )
    assert response.status_code == 200
    (message,) = [
        str(m) for m in response.context["messages"] if str(m).startswith("TOKEN ")
    ]
    token = message.removeprefix("TOKEN ")
    assert _client(token).get("/api/v1/characters/").status_code == 200
    page = client.get(reverse("admin:knox_authtoken_changelist")).content.decode()
    assert token not in page


def test_old_plaintext_drf_tokens_are_carried_over_hashed(user):
    """The migration: an existing client keeps its token; the clear table goes."""
    key = "a" * 8 + "0123456789abcdef0123456789abcdef"  # DRF: 40 hex characters
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, "
            "created timestamptz NOT NULL, user_id integer NOT NULL)"
        )
        cursor.execute(
            "INSERT INTO authtoken_token VALUES (%s, now(), %s)", [key, user.pk]
        )
    migration = importlib.import_module("config.migrations.0001_drf_tokens_to_knox")
    with connection.schema_editor() as editor:
        migration.carry_over(apps, editor)
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('authtoken_token')")
        assert cursor.fetchone()[0] is None
    assert _client(key).get("/api/v1/characters/").status_code == 200
    assert AuthToken.objects.get().expiry > timezone.now()
