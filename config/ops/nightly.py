"""The nightly backup: the logical dump (django-dbbackup; restores into any
server, checked by verify_backup), the media, age retention and, with
PITR_ENABLED, a pgBackRest base backup of the cluster, from which the archived
WAL replays to any minute since (config/ops/pitr.py). Run by the task
`config.tasks.nightly_backup`.
"""

from __future__ import annotations

import io
from typing import Any

from dbbackup.storage import get_storage
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from config.ops.backups import prune_backups, verify_backup_file
from config.ops.pitr import PitrError, Repository
from logs.services import system_log_write


def run_nightly_backup() -> dict[str, Any]:
    """dbbackup (+count cleanup), verify the new file, mediabackup, age retention."""
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


def _base_backup() -> dict[str, Any]:
    """A pgBackRest base backup: full once a week (PITR_FULL_BACKUP_DAYS), else
    differential. pgBackRest expires old backups and their WAL right after."""
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
