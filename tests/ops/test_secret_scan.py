"""A credential planted in auth_data never shows up where people and tools look.

Exercised: logging (every logger, DEBUG), system_logs rows and metadata, the
backup/verify/restore commands' output and the dump's SQL, the nightly task,
`check` output with broken keys, rotate_credentials_key output, the exceptions
raised on the way, /health/; and the tokens of connected accounts through
connecting (OAuth and the Telegram form), Test connection, token refresh
(renewed, refused, outage), the admin pages and the API.
"""

import io
import json
import logging
import subprocess

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError

from logs.models import SystemLog
from platforms.models import PlatformAccount
from tests import factories
from tests.ops.keys import NEW_CRYPTO, NEW_SECRET, OLD_CRYPTO, OLD_SECRET, use_keys

pytestmark = pytest.mark.django_db(transaction=True)

PLANTED = "PLANTED-s3cr3t-7f1c9a2b-do-not-leak"


def scan_system_logs(seen: list[str]) -> None:
    for row in SystemLog.objects.all():
        seen.append(row.message)
        seen.append(json.dumps(row.metadata))


@pytest.mark.usefixtures("media_root")
def test_planted_secret_never_appears(backup_dir, caplog, capsys, client, monkeypatch):
    caplog.set_level(logging.DEBUG)
    use_keys(monkeypatch, OLD_SECRET, OLD_CRYPTO)
    account = factories.PlatformAccountFactory(
        auth_data={"password": PLANTED, "session": {"cookie": PLANTED}}
    )
    # The plant worked: the value is there for whoever is meant to read it.
    assert PlatformAccount.objects.get(pk=account.pk).auth_data["password"] == PLANTED

    seen: list[str] = []

    def cmd(*args) -> None:
        out, err = io.StringIO(), io.StringIO()
        try:
            call_command(*args, stdout=out, stderr=err)
        except CommandError as exc:  # SystemCheckError included
            seen.append(str(exc))
            seen.append(repr(exc))
        seen.extend([out.getvalue(), err.getvalue()])

    from config.tasks import nightly_backup

    seen.append(json.dumps(nightly_backup.run()))
    assert SystemLog.objects.filter(component="backup").exists()
    scan_system_logs(seen)
    cmd("dbbackup", "--noinput", "-v", "3")
    cmd("verify_backup", "--all")
    cmd("db_report", "--json")
    cmd("dbrestore", "--noinput", "-v", "3")
    cmd("check")

    # Keys rotated without re-encryption: check fails, reading fails.
    use_keys(monkeypatch, NEW_SECRET, NEW_CRYPTO)
    cmd("check")
    with pytest.raises(SystemCheckError) as raised:
        call_command("check", stdout=io.StringIO(), stderr=io.StringIO())
    seen.append(str(raised.value))
    with pytest.raises(Exception) as raised:
        PlatformAccount.objects.get(pk=account.pk)
    seen.extend([str(raised.value), repr(raised.value)])
    cmd("rotate_credentials_key", "--dry-run", "--old-secret-key", "x" * 60)
    cmd(
        "rotate_credentials_key",
        "--old-secret-key",
        OLD_SECRET,
        "--old-cryptography-key",
        OLD_CRYPTO,
    )
    assert PlatformAccount.objects.get(pk=account.pk).auth_data["password"] == PLANTED

    response = client.get("/health/")
    seen.append(response.content.decode())

    scan_system_logs(seen)

    # The dump itself holds ciphertext only.
    [dump, *_] = sorted(p for p in backup_dir.iterdir() if p.name.endswith(".psql.bin"))
    sql = subprocess.run(
        ["pg_restore", "--file", "-", str(dump)], capture_output=True, check=True
    ).stdout.decode("utf-8", "replace")
    assert "platform_accounts" in sql
    seen.append(sql)

    captured = capsys.readouterr()
    seen.extend([captured.out, captured.err])
    seen.extend(record.getMessage() for record in caplog.records)
    seen.append(caplog.text)

    assert len("".join(seen)) > 10_000  # the scan looked at real output
    leaks = [text[:200] for text in seen if PLANTED in text]
    assert leaks == []


def test_tokens_of_connected_accounts_never_appear(
    fake_oauth, admin_client, admin_user, caplog, capsys
):
    """Every token the fake authorization server hands out (access, refresh,
    Page tokens), the apps' client secrets and a bot token: none reaches a
    page, an API answer, a message, a log line or a system_logs row."""
    import datetime as dt

    from django.urls import reverse
    from django.utils import timezone
    from rest_framework.test import APIClient

    from platforms.tasks import refresh_platform_tokens
    from tests.fakes.oauth import connect_in_admin

    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    accounts = {
        platform: factories.PlatformAccountFactory(
            platform=platform, auth_data=None, account_id=None
        )
        for platform in ("twitter", "instagram", "youtube", "facebook", "telegram")
    }
    for platform in ("twitter", "instagram", "youtube", "facebook"):
        answer = connect_in_admin(admin_client, accounts[platform], fake_oauth)
        assert b"Connected" in answer.content
        seen.append(answer.content.decode())
    # one refused consent, one bad bot token typed, one good bot
    seen.append(
        connect_in_admin(
            admin_client, accounts["twitter"], fake_oauth, decision="deny"
        ).content.decode()
    )
    telegram = reverse(
        "admin:platforms_platformaccount_connect", args=[accounts["telegram"].pk]
    )
    for token in ("7000001:" + "Z" * 35, fake_oauth.bot_token):
        seen.append(
            admin_client.post(
                telegram, {"bot_token": token, "chat_id": "@luna_channel"}, follow=True
            ).content.decode()
        )
    api = APIClient()
    api.force_authenticate(admin_user)
    for account in accounts.values():
        change = reverse("admin:platforms_platformaccount_change", args=[account.pk])
        test = reverse(
            "admin:platforms_platformaccount_test_connection", args=[account.pk]
        )
        seen.append(admin_client.post(test, follow=True).content.decode())
        seen.append(admin_client.get(change).content.decode())
        seen.append(
            admin_client.get(
                f"{change.rsplit('change/', 1)[0]}history/"
            ).content.decode()
        )
        seen.append(
            api.post(
                f"/api/v1/platform-accounts/{account.pk}/test-connection/"
            ).content.decode()
        )
        seen.append(
            api.get(f"/api/v1/platform-accounts/{account.pk}/").content.decode()
        )
    seen.append(api.get("/api/v1/platform-accounts/").content.decode())
    # refresh: renewed, then an outage, then refused (the account parks)
    PlatformAccount.objects.update(
        token_expires_at=timezone.now() + dt.timedelta(minutes=1)
    )
    seen.append(json.dumps(refresh_platform_tokens.run()))
    PlatformAccount.objects.update(
        token_expires_at=timezone.now() + dt.timedelta(minutes=1)
    )
    fake_oauth.token_endpoint_down = True
    seen.append(json.dumps(refresh_platform_tokens.run()))
    fake_oauth.token_endpoint_down = False
    fake_oauth.refused_refresh = True
    seen.append(json.dumps(refresh_platform_tokens.run()))
    fake_oauth.revoke_all()
    for account in accounts.values():
        test = reverse(
            "admin:platforms_platformaccount_test_connection", args=[account.pk]
        )
        seen.append(admin_client.post(test, follow=True).content.decode())
    for page in (
        "/admin/",
        reverse("admin:platforms_platformaccount_changelist"),
        reverse("admin:platforms_scheduledpost_by_hand"),
        reverse("admin:logs_systemlog_changelist"),
    ):
        seen.append(admin_client.get(page).content.decode())
    assert PlatformAccount.objects.filter(connection_status="error").exists()
    scan_system_logs(seen)
    captured = capsys.readouterr()
    seen.extend([captured.out, captured.err])
    seen.extend(record.getMessage() for record in caplog.records)
    seen.append(caplog.text)

    secrets = fake_oauth.issued_secrets()
    assert len(secrets) > 15  # the plant worked: tokens were issued and stored
    stored = json.dumps(
        [a.auth_data for a in PlatformAccount.objects.all()], default=str
    )
    assert fake_oauth.bot_token in stored
    assert len("".join(seen)) > 100_000
    leaks = [
        (secret, text[max(0, text.find(secret) - 80) :][:200])
        for text in seen
        for secret in secrets
        if secret in text
    ]
    assert leaks == []
