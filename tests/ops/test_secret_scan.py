"""A credential planted in auth_data never shows up where people and tools look.

Exercised: logging (every logger, DEBUG), system_logs rows and metadata, the
backup/verify/restore commands' output and the dump's SQL, the nightly task,
`check` output with broken keys, rotate_credentials_key output, the exceptions
raised on the way, /health/. (There are no admin pages or API views for
accounts in this tree yet.)
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
