"""Periodic tasks are declared in code and written idempotently to beat's tables."""

import pytest
from django.core.management import call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from config.periodic import PERIODIC_TASKS, PREFIX

pytestmark = pytest.mark.django_db


def test_setup_writes_every_task_of_this_build_once():
    call_command("setup_periodic_tasks", verbosity=0)
    call_command("setup_periodic_tasks", verbosity=0)
    publish = PeriodicTask.objects.get(name=PREFIX + "publish due posts")
    assert publish.task == "platforms.tasks.publish_due_posts"
    assert publish.interval.every == 60 and publish.interval.period == "seconds"
    assert 0 < publish.expire_seconds < 60
    assert (
        PeriodicTask.objects.filter(
            task="platforms.tasks.process_engagement_queue"
        ).count()
        == 1
    )
    assert IntervalSchedule.objects.filter(every=60, period="seconds").count() == 1
    names = {p.task for p in PERIODIC_TASKS}
    assert (
        set(
            PeriodicTask.objects.filter(name__startswith=PREFIX).values_list(
                "task", flat=True
            )
        )
        <= names
    )


def test_setup_keeps_a_pause_and_removes_what_is_no_longer_declared():
    call_command("setup_periodic_tasks", verbosity=0)
    PeriodicTask.objects.filter(name=PREFIX + "publish due posts").update(enabled=False)
    PeriodicTask.objects.create(
        name=PREFIX + "old thing",
        task="gone.task",
        interval=IntervalSchedule.objects.first(),
    )
    call_command("setup_periodic_tasks", verbosity=0)
    assert not PeriodicTask.objects.get(name=PREFIX + "publish due posts").enabled
    assert not PeriodicTask.objects.filter(name=PREFIX + "old thing").exists()


def test_maintenance_runs_weekly_and_partitions_are_made_daily():
    call_command("setup_periodic_tasks", verbosity=0)
    maintenance = PeriodicTask.objects.get(name=PREFIX + "database maintenance")
    assert maintenance.task == "config.tasks.db_maintenance"
    cron = maintenance.crontab
    assert (cron.day_of_week, cron.hour, cron.minute) == ("0", "4", "30")
    assert 6 * 86400 < maintenance.expire_seconds < 7 * 86400
    partitions = PeriodicTask.objects.get(name=PREFIX + "partitions ahead")
    assert partitions.task == "config.tasks.create_partitions"
    assert partitions.crontab.day_of_week == "*"


def test_the_dashboard_marks_the_weekly_maintenance_late_only_after_a_week():
    import datetime as dt

    from django.utils import timezone

    from config import heartbeat
    from config.admin_site import engine_status

    now = timezone.now()

    def health(days_ago: float) -> str:
        heartbeat.beat(
            "config.tasks.db_maintenance",
            finished_at=(now - dt.timedelta(days=days_ago)).isoformat(),
            state="success",
        )
        (row,) = [r for r in engine_status(now) if r["name"] == "database maintenance"]
        return row["health"]

    assert health(6) == "ok"  # a daily task would be late after 26 hours
    assert health(8) == "late"


def test_post_metrics_are_folded_every_fold_interval(settings):
    call_command("setup_periodic_tasks", verbosity=0)
    fold = PeriodicTask.objects.get(name=PREFIX + "fold post metrics")
    assert fold.task == "platforms.tasks.fold_post_metrics"
    every = 60 * settings.METRICS_FOLD_INTERVAL_MINUTES
    assert (fold.interval.every, fold.interval.period) == (every, "seconds")
