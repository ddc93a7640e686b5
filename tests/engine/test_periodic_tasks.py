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
