"""Operations tasks for celery-beat: the nightly backup and database maintenance.

The periodic-task registry schedules them by name ("config.tasks.nightly_backup"
daily; "config.tasks.db_maintenance" optionally). Both are safe to run twice:
a second backup is just one more file, VACUUM is idempotent.
"""

from __future__ import annotations

import io
import logging

from celery import shared_task

logger = logging.getLogger("config.tasks")


def run_nightly_backup() -> dict:
    """dbbackup (+count cleanup), verify the new file, mediabackup, age retention."""
    from dbbackup.storage import get_storage
    from django.conf import settings
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from config.backups import prune_backups, verify_backup_file
    from logs.services import system_log_write

    output = io.StringIO()
    storage = get_storage()
    before = set(storage.list_backups(content_type="db"))
    # dbbackup logs to the "dbbackup.command" logger; -q keeps it to errors.
    call_command("dbbackup", "--clean", "--noinput", "-q", stdout=output, stderr=output)
    new = sorted(set(storage.list_backups(content_type="db")) - before)
    if not new:
        raise CommandError("dbbackup wrote no new database backup file.")
    latest = max(new, key=storage._filename_to_date_or_min)
    verification = verify_backup_file(latest, storage)
    call_command(
        "mediabackup",
        "--clean",
        "--compress",
        "--noinput",
        "-q",
        stdout=output,
        stderr=output,
    )
    media = storage.get_latest_backup(content_type="media")
    pruned = prune_backups(days=settings.BACKUP_RETENTION_DAYS, storage=storage)
    summary = {
        "database_backup": latest,
        "verified": verification.ok,
        "reason": verification.reason,
        "media_backup": media,
        "pruned": pruned,
    }
    system_log_write(
        level="info" if verification.ok else "error",
        component="backup",
        message=(
            f"Nightly backup {latest} verified"
            if verification.ok
            else f"Nightly backup {latest} FAILED verification: {verification.reason}"
        ),
        metadata=summary,
    )
    if not verification.ok:
        raise CommandError(
            f"Backup {latest} failed verification: {verification.reason}"
        )
    return summary


@shared_task(
    name="config.tasks.nightly_backup",
    ignore_result=False,
    soft_time_limit=6000,
    time_limit=6600,  # under CELERY_VISIBILITY_TIMEOUT (7200)
)
def nightly_backup() -> dict:
    try:
        return run_nightly_backup()
    except Exception as exc:
        backup_failed(exc)
        raise


def backup_failed(exc: BaseException) -> None:
    """The 'backup_failed' event (notifications, webhooks); never hides `exc`."""
    from logs.events import emit

    try:
        emit("backup_failed", {"reason": f"{type(exc).__name__}: {exc}"[:2000]})
    except Exception:  # noqa: BLE001 - the database may be what failed
        logger.exception("could not record the backup_failed event")


@shared_task(
    name="config.tasks.db_maintenance",
    soft_time_limit=3600,
    time_limit=3600 + 120,
)
def db_maintenance() -> dict:
    from config.management.commands.db_maintenance import maintain

    return maintain()
