"""The periodic tasks, declared in code. `manage.py setup_periodic_tasks` writes
them to django-celery-beat's tables (idempotently) so staff see and can pause
them in the admin; entries this project owns but no longer declares are removed.
"""

import functools
import importlib
from dataclasses import dataclass

from django.conf import settings

PREFIX = "ainfluencer: "


@dataclass(frozen=True)
class Every:
    seconds: int


@dataclass(frozen=True)
class Daily:
    hour: int
    minute: int = 0


@dataclass(frozen=True)
class Weekly:
    day_of_week: int  # 0 = Sunday, as in cron
    hour: int
    minute: int = 0


@dataclass(frozen=True)
class Periodic:
    name: str
    task: str
    schedule: Every | Daily | Weekly
    description: str

    @property
    def interval(self) -> int:
        """Seconds between two runs."""
        if isinstance(self.schedule, Every):
            return self.schedule.seconds
        return 7 * 86400 if isinstance(self.schedule, Weekly) else 86400

    @property
    def expires(self) -> int:
        """Seconds after which an unstarted run is dropped: just under the interval."""
        return max(5, int(self.interval * 0.9))


PERIODIC_TASKS = [
    Periodic(
        "publish due posts",
        "platforms.tasks.publish_due_posts",
        Every(60),
        "Claims due scheduled posts and publishes them.",
    ),
    Periodic(
        "engagement queue",
        "platforms.tasks.process_engagement_queue",
        Every(60),
        "Performs pending engagement actions.",
    ),
    Periodic(
        "sync platform metrics",
        "platforms.tasks.sync_platform_metrics",
        Every(300),
        "Followers and recent posts' likes, comments, shares and views from each "
        "platform, per account every METRICS_SYNC_INTERVAL_MINUTES.",
    ),
    Periodic(
        "fold post metrics",
        "platforms.tasks.fold_post_metrics",
        Every(60 * settings.METRICS_FOLD_INTERVAL_MINUTES),
        "Copies the synced likes, comments, shares and views that changed into "
        "the posts' cached columns (the engagement sorts and lists).",
    ),
    Periodic(
        "refresh platform tokens",
        "platforms.tasks.refresh_platform_tokens",
        Every(300),
        "Renews OAuth tokens (X, YouTube, Meta) before they expire; a refused "
        "refresh parks the account in 'error' for staff.",
    ),
    Periodic(
        "generation queue",
        "content.tasks.process_generation_queue",
        Every(60),
        "Runs pending content generation jobs.",
    ),
    Periodic(
        "text queue",
        "content.tasks.process_text_queue",
        Every(60),
        "Writes captions, comments and voice previews in each persona's voice "
        "(and asks for the texts comment and reply actions wait for).",
    ),
    Periodic(
        "due automation rules",
        "automation.tasks.dispatch_due_rules",
        Every(60),
        "Runs the 'schedule' rules whose next_run_at has come.",
    ),
    Periodic(
        "dispatch events",
        "logs.tasks.dispatch_events",
        Every(60),
        "Hands waiting events to their consumers (the automation rules, e-mail "
        "notifications and webhooks); a "
        "commit that emits events kicks it at once, this run is the safety net.",
    ),
    Periodic(
        "deliver webhooks",
        "logs.tasks.deliver_webhooks",
        Every(60),
        "Sends queued webhook deliveries and their retries; a commit that "
        "queues one kicks it at once, this run is the safety net.",
    ),
    Periodic(
        "notification e-mails",
        "logs.tasks.send_notifications",
        Every(60),
        "E-mails users who chose 'at once' what happened (kicked after commit too).",
    ),
    Periodic(
        "notification digests",
        "logs.tasks.send_notification_digests",
        Every(3600),
        "Sends each digest user their daily e-mail at their digest hour, in "
        "their own time zone.",
    ),
    Periodic(
        "detect stuck work",
        "logs.tasks.detect_stuck_work",
        Every(300),
        "Flags posts due but unpublished and generations stuck in processing.",
    ),
    Periodic(
        "daily analytics snapshot",
        "analytics.tasks.daily_snapshot",
        Daily(0, 10),
        "Upserts one analytics row per account and metric for the day.",
    ),
    Periodic(
        "nightly database backup",
        "config.tasks.nightly_backup",
        Daily(3, 0),
        "dbbackup + media backup, retention and verification.",
    ),
    Periodic(
        "log retention",
        "logs.tasks.purge_old_logs",
        Daily(3, 30),
        "Drops the months of system logs older than SYSTEM_LOG_RETENTION_DAYS; "
        "deletes dispatched events older than EVENT_RETENTION_DAYS, in batches, "
        "and webhook deliveries and notifications older than "
        "WEBHOOK_DELIVERY_RETENTION_DAYS.",
    ),
    Periodic(
        "partitions ahead",
        "config.tasks.create_partitions",
        Daily(2, 30),
        "Creates the monthly partitions of analytics and system_logs ahead of time.",
    ),
    Periodic(
        "database maintenance",
        "config.tasks.db_maintenance",
        Weekly(0, 4, 30),
        "VACUUM ANALYZE of the busy tables, REINDEX CONCURRENTLY of bloated "
        "indexes; a report in system_logs.",
    ),
    Periodic(
        "audit retention",
        "logs.tasks.purge_old_audit_events",
        Daily(3, 45),
        "Deletes audit events older than AUDIT_RETENTION_DAYS (0: keeps them all).",
    ),
    Periodic(
        "expired API tokens",
        "config.tasks.prune_expired_api_tokens",
        Daily(4, 0),
        "Deletes API tokens past their expiry (they are refused anyway).",
    ),
]


@functools.cache
def task_exists(dotted: str) -> bool:
    """Whether this build has the task (parts of the engine land over time)."""
    module, _, name = dotted.rpartition(".")
    try:
        return hasattr(importlib.import_module(module), name)
    except ImportError:
        return False
