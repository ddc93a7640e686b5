"""The periodic tasks, declared in code. `manage.py setup_periodic_tasks` writes
them to django-celery-beat's tables (idempotently) so staff see and can pause
them in the admin; entries this project owns but no longer declares are removed.
"""

import functools
import importlib
from dataclasses import dataclass

PREFIX = "ainfluencer: "


@dataclass(frozen=True)
class Every:
    seconds: int


@dataclass(frozen=True)
class Daily:
    hour: int
    minute: int = 0


@dataclass(frozen=True)
class Periodic:
    name: str
    task: str
    schedule: Every | Daily
    description: str

    @property
    def expires(self) -> int:
        """Seconds after which an unstarted run is dropped: just under the interval."""
        interval = self.schedule.seconds if isinstance(self.schedule, Every) else 86400
        return max(5, int(interval * 0.9))


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
        "due automation rules",
        "automation.tasks.dispatch_due_rules",
        Every(60),
        "Runs the 'schedule' rules whose next_run_at has come.",
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
        "Deletes system logs older than SYSTEM_LOG_RETENTION_DAYS in batches.",
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
