"""Backups restore: the round trip, the guards in front of dbrestore, retention.

These tests commit (transaction=True): pg_dump and pg_restore are separate
processes that only see committed rows, and a restore drops and recreates the
tables.
"""

import datetime as dt
import hashlib
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from characters.models import Character
from config.ops.backups import prune_backups, verify_backup_file
from platforms.models import PlatformAccount, Post, PublishingHold
from tests import factories
from tests.ops.conftest import table_checksums

pytestmark = pytest.mark.django_db(transaction=True)


def seed() -> None:
    for _ in range(3):
        post = factories.PostFactory()
        factories.ScheduledPostFactory(platform_account=post.platform_account)
        factories.EngagementActionFactory(platform_account=post.platform_account)
        factories.AnalyticsFactory(platform_account=post.platform_account)
        factories.ContentGenerationFactory(character=post.character)
        factories.AutomationRuleFactory(character=post.character)
        factories.SystemLogFactory(character=post.character, metadata={"n": 1})
    factories.UserFactory()


def db_backups(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".psql.bin"))


def assert_restored(before: dict, filename: str) -> None:
    """Every table is back as it was, and the restored database starts with
    publishing on hold (one publishing_holds row and its log row): posts sent
    between the backup and the restore must not go out again unreviewed."""
    hold = PublishingHold.objects.get()
    assert (hold.kind, hold.lifted_at) == ("restore", None)
    assert filename in hold.reason
    after, before = table_checksums(), dict(before)
    assert after.pop("publishing_holds")[0] == 1
    assert before.pop("publishing_holds")[0] == 0
    assert after.pop("system_logs")[0] == before.pop("system_logs")[0] + 1
    assert after == before


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=out)
    return out.getvalue()


@pytest.mark.usefixtures("backup_dir")
def test_backup_targets_the_pytest_database():
    from dbbackup.db.base import get_connector

    connector = get_connector("default")
    assert connector.__class__.__name__ == "PartitionAwarePgDumpConnector"
    assert connector.settings["NAME"].startswith("test_")
    assert connector.settings["NAME"] == connection.settings_dict["NAME"]


def test_round_trip_restores_every_table_and_media_file(backup_dir, media_root):
    """GIVEN seeded rows and media files, backed up
    WHEN rows are changed, deleted and added and files damaged
    THEN dbrestore + mediarestore bring every table and file back exactly."""
    seed()
    (media_root / "content").mkdir(exist_ok=True)
    (media_root / "content" / "a.png").write_bytes(b"\x89PNG" + bytes(range(256)) * 20)
    (media_root / "content" / "b.txt").write_text("caption draft\n")
    before = table_checksums()
    files_before = {
        p.relative_to(media_root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in media_root.rglob("*")
        if p.is_file()
    }
    assert before["characters"][0] == 3 and before["posts"][0] == 3
    with connection.cursor() as cursor:
        # The extensions exist and belong to the restoring role (no "must be
        # owner of extension" on --clean).
        cursor.execute(
            "SELECT extname FROM pg_extension e JOIN pg_roles r ON r.oid = e.extowner "
            "WHERE r.rolname = current_user ORDER BY 1"
        )
        assert [r[0] for r in cursor.fetchall()] == ["pg_trgm", "pgcrypto", "uuid-ossp"]

    run("dbbackup", "--noinput")
    run("mediabackup", "--noinput", "--compress")
    [dump] = db_backups(backup_dir)
    assert (backup_dir / f"{dump}.metadata").exists()
    # A custom-format archive (not re-gzipped): pg_dump's magic bytes.
    assert (backup_dir / dump).read_bytes()[:5] == b"PGDMP"

    Character.objects.update(name="changed")
    Post.objects.first().delete()
    Character.objects.last().delete()
    factories.CharacterFactory(name="added after the backup")
    (media_root / "content" / "a.png").write_bytes(b"overwritten")
    (media_root / "content" / "b.txt").unlink()
    assert table_checksums() != before

    run("dbrestore", "--noinput")
    run("mediarestore", "--noinput", "--uncompress", "--replace")

    assert_restored(before, dump)
    files_after = {
        name: hashlib.sha256((media_root / name).read_bytes()).hexdigest()
        for name in files_before
    }
    assert files_after == files_before
    # The restored credentials still open with the process's keys.
    assert all(a.auth_data for a in PlatformAccount.objects.all())


@pytest.mark.usefixtures("backup_dir")
def test_restore_into_newer_migration_state_is_refused_and_changes_nothing():
    seed()
    run("dbbackup", "--noinput")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO django_migrations (app, name, applied) "
            "VALUES ('platforms', '9999_from_the_future', now())"
        )
    Character.objects.update(name="after the backup")
    current = table_checksums()
    try:
        with pytest.raises(CommandError) as raised:
            run("dbrestore", "--noinput")
        message = str(raised.value)
        assert "Refusing to restore" in message
        assert "platforms.9999_from_the_future" in message
        assert "newer than the backup" in message
        assert table_checksums() == current
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM django_migrations WHERE name = '9999_from_the_future'"
            )


@pytest.mark.usefixtures("backup_dir")
def test_backup_from_unknown_newer_code_is_refused():
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO django_migrations (app, name, applied) "
            "VALUES ('content', '9998_unknown_here', now())"
        )
    run("dbbackup", "--noinput")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE name = '9998_unknown_here'")
    with pytest.raises(CommandError, match=r"content\.9998_unknown_here.*newer code"):
        run("dbrestore", "--noinput")


def test_truncated_and_garbage_files_are_reported_and_not_restored(backup_dir):
    seed()
    run("dbbackup", "--noinput")
    [good] = db_backups(backup_dir)
    data = (backup_dir / good).read_bytes()
    truncated = "default-ainfluencer-2020-01-02-030405.psql.bin"
    garbage = "default-ainfluencer-2020-01-01-030405.psql.bin"
    (backup_dir / truncated).write_bytes(data[: len(data) - 2000])
    (backup_dir / garbage).write_bytes(b"this is not a dump" * 100)

    result = verify_backup_file(truncated)
    assert not result.ok
    assert "truncated or corrupt" in result.reason
    assert not verify_backup_file(garbage).ok
    missing = verify_backup_file("default-ainfluencer-2019-01-01-000000.psql.bin")
    assert not missing.ok and "cannot be read" in missing.reason
    assert verify_backup_file(good).ok

    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("verify_backup", "--all", stdout=out)
    assert "2 of 3 backup(s) failed" in str(raised.value)
    assert truncated in str(raised.value) and garbage in str(raised.value)
    assert f"OK      {good}" in out.getvalue()
    assert f"FAILED  {truncated}" in out.getvalue()

    Character.objects.update(name="kept")
    current = table_checksums()
    with pytest.raises(CommandError, match=f"Refusing to restore {truncated}"):
        run("dbrestore", "--noinput", "-i", truncated)
    assert table_checksums() == current

    # The latest one alone passes.
    assert f"OK      {good}" in run("verify_backup")


def test_restore_from_a_local_path_is_checked_too(backup_dir, tmp_path, monkeypatch):
    seed()
    run("dbbackup", "--noinput")
    [good] = db_backups(backup_dir)
    local = tmp_path / "copy.psql.bin"
    local.write_bytes((backup_dir / good).read_bytes()[:-2000])
    current = table_checksums()
    with pytest.raises(CommandError, match="truncated or corrupt"):
        run("dbrestore", "--noinput", "-I", str(local))
    assert table_checksums() == current
    # A relative path works as well (the guard finds the file on disk).
    local.write_bytes((backup_dir / good).read_bytes())
    monkeypatch.chdir(tmp_path)
    Character.objects.update(name="changed")
    run("dbrestore", "--noinput", "-I", "copy.psql.bin")
    assert_restored(current, "copy.psql.bin")


def test_count_retention_with_clean(backup_dir, monkeypatch):
    from dbbackup import settings as dbbackup_settings

    monkeypatch.setattr(dbbackup_settings, "CLEANUP_KEEP", 2)
    old = [f"default-ainfluencer-2020-01-0{d}-000000.psql.bin" for d in (1, 2, 3)]
    for name in old:
        (backup_dir / name).write_bytes(b"x")
        (backup_dir / f"{name}.metadata").write_text("{}")
    run("dbbackup", "--noinput", "--clean")
    remaining = db_backups(backup_dir)
    assert len(remaining) == 2
    assert old[2] in remaining and old[0] not in remaining
    assert not (backup_dir / f"{old[0]}.metadata").exists()


def test_age_retention_keeps_30_days_and_the_newest(backup_dir):
    now = dt.datetime(2026, 3, 31, 12, 0, 0)

    def name(days_ago: int, media: bool = False) -> str:
        stamp = (now - dt.timedelta(days=days_ago)).strftime("%Y-%m-%d-%H%M%S")
        return (
            f"ainfluencer-{stamp}.tar.gz"
            if media
            else (f"default-ainfluencer-{stamp}.psql.bin")
        )

    for days in (1, 29, 31, 90):
        (backup_dir / name(days)).write_bytes(b"x")
    (backup_dir / name(60, media=True)).write_bytes(b"x")  # the only media backup

    assert sorted(prune_backups(days=30, now=now, dry_run=True)) == sorted(
        [name(31), name(90)]
    )
    assert len(list(backup_dir.iterdir())) == 5
    removed = prune_backups(days=30, now=now)
    assert sorted(removed) == sorted([name(31), name(90)])
    left = sorted(p.name for p in backup_dir.iterdir())
    assert left == sorted([name(1), name(29), name(60, media=True)])


def test_nightly_backup_task_backs_up_verifies_and_logs(backup_dir, media_root):
    from config.tasks import nightly_backup
    from logs.models import SystemLog

    seed()
    (media_root / "x.txt").write_text("media")
    summary = nightly_backup.run()
    assert summary["verified"] is True
    assert (backup_dir / summary["database_backup"]).exists()
    assert (backup_dir / summary["media_backup"]).exists()
    row = SystemLog.objects.get(component="backup")
    assert row.log_level == "info"
    assert row.metadata["database_backup"] == summary["database_backup"]
    assert nightly_backup.name == "config.tasks.nightly_backup"
