"""Operations tasks for celery-beat: the nightly backup and database maintenance.

The periodic-task registry schedules them by name ("config.tasks.nightly_backup"
daily, "config.tasks.create_partitions" daily, "config.tasks.db_maintenance"
weekly). All are safe to run twice: a second backup is just one more file, a
month that exists is left alone, VACUUM is idempotent.

The nightly backup is two backups: the logical dump (django-dbbackup; restores
into any server, checked by verify_backup) and, with PITR_ENABLED, a pgBackRest
base backup of the cluster, from which the archived WAL replays to any minute
since (config/pitr.py).
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
    problems = (
        []
        if verification.ok
        else [f"{latest} FAILED verification: {verification.reason}"]
    )
    if settings.PITR_ENABLED:
        summary.update(_base_backup())
        if summary.get("base_backup_error"):
            problems.append(f"base backup FAILED: {summary['base_backup_error']}")
    message = f"Nightly backup {latest} verified"
    if summary.get("base_backup"):
        message += (
            f", base backup {summary['base_backup']} ({summary['base_backup_type']})"
        )
    system_log_write(
        level="error" if problems else "info",
        component="backup",
        message=f"Nightly backup: {'; '.join(problems)}" if problems else message,
        metadata=summary,
    )
    if problems:
        raise CommandError("; ".join(problems))
    return summary


def _base_backup() -> dict:
    """A pgBackRest base backup: full once a week (PITR_FULL_BACKUP_DAYS), else
    differential. pgBackRest expires old backups and their WAL right after."""
    from django.conf import settings

    from config.pitr import PitrError, Repository

    try:
        repository = Repository.from_settings()
        kind = repository.backup_kind_due(
            full_every_days=settings.PITR_FULL_BACKUP_DAYS
        )
        backup = repository.backup(kind)
    except PitrError as err:
        return {"base_backup": None, "base_backup_error": str(err)}
    return {
        "base_backup": backup["label"],
        "base_backup_type": backup["type"],
        "base_backup_bytes": backup["info"]["repository"]["delta"],
        "wal_start": backup["archive"]["start"],
    }


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
    """Weekly: VACUUM ANALYZE of the busy tables, REINDEX CONCURRENTLY of the
    bloated indexes, and a report of what was done in system_logs."""
    from config.maintenance import maintain, report_line
    from logs.services import system_log_write

    done = maintain(reindex_bloated=True)
    system_log_write(
        level="info",
        component="db_maintenance",
        message=report_line(done),
        metadata=done,
    )
    return done


@shared_task(
    name="config.tasks.prune_expired_api_tokens",
    acks_late=True,  # idempotent
    soft_time_limit=120,
    time_limit=150,
)
def prune_expired_api_tokens() -> dict:
    from config.api_tokens import api_tokens_prune

    return {"rows": api_tokens_prune()}


@shared_task(
    name="config.tasks.create_partitions",
    acks_late=True,  # idempotent: a month that exists is left alone
    soft_time_limit=300,
    time_limit=360,
)
def create_partitions() -> dict:
    """The monthly partitions of analytics and system_logs, made ahead of time."""
    from config.partitions import create_months_ahead

    created = create_months_ahead()
    return {"rows": sum(len(names) for names in created.values()), "created": created}
