"""Operations tasks for celery-beat: the nightly backup and database maintenance.

The periodic-task registry schedules them by name ("config.tasks.nightly_backup"
daily, "config.tasks.create_partitions" daily, "config.tasks.db_maintenance"
weekly). All are safe to run twice: a second backup is just one more file, a
month that exists is left alone, VACUUM is idempotent.

The work itself lives in config/ops/ (the nightly backup in
config/ops/nightly.py); these are the Celery entry points, whose names are
stored in django-celery-beat's rows and must not change.
"""

from __future__ import annotations

import logging

from celery import shared_task

from config.ops.nightly import run_nightly_backup

logger = logging.getLogger("config.tasks")


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
    from config.ops.maintenance import maintain, report_line
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
    from config.ops.partitions import create_months_ahead

    created = create_months_ahead()
    return {"rows": sum(len(names) for names in created.values()), "created": created}
