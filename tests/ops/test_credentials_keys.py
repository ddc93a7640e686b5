"""Stored credentials vs. the keys: the start-up check and rotate_credentials_key."""

import io
import os
import subprocess
import sys

import pytest
from django.core import signing
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError
from django.db import connection, transaction

from config.checks import check_credentials_decrypt
from config.ops.credentials import cipher_for, decrypt_value
from platforms.models import PlatformAccount
from tests import factories
from tests.ops.keys import NEW_CRYPTO, NEW_SECRET, OLD_CRYPTO, OLD_SECRET, use_keys

pytestmark = pytest.mark.django_db


def raw_tokens() -> dict[str, bytes]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, auth_data FROM platform_accounts ORDER BY id")
        return {str(pk): bytes(token) for pk, token in cursor.fetchall()}


@pytest.fixture
def accounts_under_old_keys(monkeypatch):
    use_keys(monkeypatch, OLD_SECRET, OLD_CRYPTO)
    values = {}
    for n in range(3):
        account = factories.PlatformAccountFactory(
            auth_data={"token": f"tok-{n}", "nested": {"refresh": [n, "r"]}}
        )
        values[str(account.pk)] = account.auth_data
    return values


@pytest.mark.usefixtures("accounts_under_old_keys")
def test_check_passes_when_credentials_decrypt():
    assert check_credentials_decrypt() == []
    call_command("check", stdout=io.StringIO())


@pytest.mark.parametrize(
    "new_keys",
    [(NEW_SECRET, OLD_CRYPTO), (OLD_SECRET, NEW_CRYPTO), (NEW_SECRET, NEW_CRYPTO)],
    ids=["secret-key-changed", "cryptography-key-changed", "both-changed"],
)
@pytest.mark.usefixtures("accounts_under_old_keys")
def test_check_refuses_after_either_key_changes(monkeypatch, new_keys):
    use_keys(monkeypatch, *new_keys)
    [error] = check_credentials_decrypt()
    assert error.id == "config.E001"
    assert "3 platform account(s)" in error.msg
    assert "rotate_credentials_key" in error.hint
    with pytest.raises(SystemCheckError, match="rotate_credentials_key"):
        call_command("check", stdout=io.StringIO(), stderr=io.StringIO())


def test_check_does_not_crash_without_the_table():
    """As before the first migrate; the caller's transaction stays usable."""

    class Rollback(Exception):
        """Undoes the simulated state when the block ends."""

    with pytest.raises(Rollback), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "ALTER TABLE platform_accounts RENAME TO platform_accounts_x"
            )
        assert check_credentials_decrypt() == []
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        raise Rollback


def test_check_does_not_crash_when_the_database_is_unreachable():
    env = {
        **os.environ,
        "DEBUG": "true",
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/nothing",
        "DB_POOL": "false",
    }
    proc = subprocess.run(
        [sys.executable, "manage.py", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "no issues" in proc.stdout


def test_rotation_reencrypts_every_account_in_one_go(
    accounts_under_old_keys, monkeypatch
):
    values = accounts_under_old_keys
    use_keys(monkeypatch, NEW_SECRET, NEW_CRYPTO)  # the deploy with new keys
    before = raw_tokens()
    with pytest.raises(signing.BadSignature):
        list(PlatformAccount.objects.all())

    out = io.StringIO()
    call_command(
        "rotate_credentials_key",
        "--dry-run",
        "--old-secret-key",
        OLD_SECRET,
        "--old-cryptography-key",
        OLD_CRYPTO,
        stdout=out,
    )
    assert "3 account(s) would be re-encrypted" in out.getvalue()
    assert raw_tokens() == before

    monkeypatch.setenv("OLD_SECRET_KEY", OLD_SECRET)
    monkeypatch.setenv("OLD_CRYPTOGRAPHY_KEY", OLD_CRYPTO)
    out = io.StringIO()
    call_command("rotate_credentials_key", stdout=out)
    assert "Re-encrypted 3 account(s)" in out.getvalue()
    assert OLD_SECRET not in out.getvalue() and NEW_SECRET not in out.getvalue()

    after = raw_tokens()
    old_cipher = cipher_for(secret_key=OLD_SECRET, cryptography_key=OLD_CRYPTO)
    old_key_new_signer = cipher_for(secret_key=NEW_SECRET, cryptography_key=OLD_CRYPTO)
    new_key_old_signer = cipher_for(secret_key=OLD_SECRET, cryptography_key=NEW_CRYPTO)
    for pk, token in after.items():
        assert token != before[pk]
        # The old keys no longer open it ...
        with pytest.raises(signing.BadSignature):
            decrypt_value(old_cipher, token)
        with pytest.raises(signing.BadSignature):
            decrypt_value(new_key_old_signer, token)
        # ... nor the old AES key alone (with the right signature).
        try:
            opened = decrypt_value(old_key_new_signer, token)
        except Exception:  # noqa: BLE001 - InvalidToken or an unpickling error
            opened = None
        assert opened != values[pk]
    # Every account opens with the new keys, through the ORM too.
    assert {str(a.pk): a.auth_data for a in PlatformAccount.objects.all()} == values
    assert check_credentials_decrypt() == []

    # A second run finds nothing left to do.
    out = io.StringIO()
    call_command("rotate_credentials_key", stdout=out)
    assert "Re-encrypted 0 account(s); 3 already used the new keys" in out.getvalue()


def test_rotation_of_secret_key_only(monkeypatch):
    use_keys(monkeypatch, OLD_SECRET, OLD_CRYPTO)
    account = factories.PlatformAccountFactory(auth_data={"api_key": "k"})
    use_keys(monkeypatch, NEW_SECRET, OLD_CRYPTO)
    call_command(
        "rotate_credentials_key", "--old-secret-key", OLD_SECRET, stdout=io.StringIO()
    )
    assert PlatformAccount.objects.get(pk=account.pk).auth_data == {"api_key": "k"}


@pytest.mark.usefixtures("accounts_under_old_keys")
def test_rotation_with_wrong_old_keys_changes_nothing(monkeypatch):
    use_keys(monkeypatch, NEW_SECRET, NEW_CRYPTO)
    before = raw_tokens()
    with pytest.raises(CommandError, match="neither the old nor the new keys"):
        call_command(
            "rotate_credentials_key",
            "--old-secret-key",
            "wrong" * 12,
            "--old-cryptography-key",
            OLD_CRYPTO,
            stdout=io.StringIO(),
        )
    assert raw_tokens() == before


def test_rotation_needs_old_keys(monkeypatch):
    monkeypatch.delenv("OLD_SECRET_KEY", raising=False)
    monkeypatch.delenv("OLD_CRYPTOGRAPHY_KEY", raising=False)
    with pytest.raises(CommandError, match="OLD_SECRET_KEY"):
        call_command("rotate_credentials_key", stdout=io.StringIO())


def test_a_wrong_aes_key_with_the_right_signature_never_opens():
    """~1 in 256 tokens unpad "correctly" under a wrong AES key; the check must
    still count them as unreadable (it unpickles, which fails)."""
    from config.ops.credentials import encrypt_value

    old = cipher_for(secret_key=OLD_SECRET, cryptography_key=OLD_CRYPTO)
    wrong = cipher_for(secret_key=OLD_SECRET, cryptography_key=NEW_CRYPTO)
    opened = 0
    for n in range(1500):
        token = encrypt_value(old, {"token": f"t-{n}"})
        try:
            decrypt_value(wrong, token)
        except Exception:  # noqa: BLE001
            continue
        opened += 1
    assert opened == 0


def test_rotation_reencrypts_webhook_secrets_too(monkeypatch):
    from logs.models import Webhook

    use_keys(monkeypatch, OLD_SECRET, OLD_CRYPTO)
    hook = factories.WebhookFactory(secret="whsec-rotate-0123456789")
    use_keys(monkeypatch, NEW_SECRET, NEW_CRYPTO)
    with pytest.raises(signing.BadSignature):
        Webhook.objects.get(pk=hook.pk)
    monkeypatch.setenv("OLD_SECRET_KEY", OLD_SECRET)
    monkeypatch.setenv("OLD_CRYPTOGRAPHY_KEY", OLD_CRYPTO)
    out = io.StringIO()
    call_command("rotate_credentials_key", stdout=out)
    assert "Webhook secrets: 1 re-encrypted" in out.getvalue()
    assert Webhook.objects.get(pk=hook.pk).secret == "whsec-rotate-0123456789"
