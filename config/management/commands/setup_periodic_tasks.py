"""Write the periodic tasks declared in config/periodic.py to django-celery-beat."""

from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import (
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    PeriodicTasks,
)

from config import heartbeat
from config.periodic import PERIODIC_TASKS, PREFIX, Every, task_exists


def _schedule(spec):
    # no unique constraint on these tables: filter().first() or create()
    if isinstance(spec, Every):
        found = IntervalSchedule.objects.filter(
            every=spec.seconds, period=IntervalSchedule.SECONDS
        ).first()
        return {
            "interval": found
            or IntervalSchedule.objects.create(
                every=spec.seconds, period=IntervalSchedule.SECONDS
            ),
            "crontab": None,
        }
    fields = {
        "minute": str(spec.minute),
        "hour": str(spec.hour),
        "day_of_week": str(getattr(spec, "day_of_week", "*")),
        "day_of_month": "*",
        "month_of_year": "*",
        "timezone": "UTC",
    }
    found = CrontabSchedule.objects.filter(**fields).first()
    return {
        "crontab": found or CrontabSchedule.objects.create(**fields),
        "interval": None,
    }


class Command(BaseCommand):
    help = "Create or update the project's periodic tasks in django-celery-beat (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        declared = set()
        created = updated = 0
        missing = []
        for spec in PERIODIC_TASKS:
            if not task_exists(spec.task):
                missing.append(spec.task)
                continue
            name = PREFIX + spec.name
            declared.add(name)
            values = {
                "task": spec.task,
                "expires": None,
                "expire_seconds": spec.expires,
                "description": spec.description,
                **_schedule(spec.schedule),
            }
            task = PeriodicTask.objects.filter(name=name).first()
            if task is None:
                PeriodicTask.objects.create(name=name, enabled=True, **values)
                created += 1
                continue
            # keep `enabled` as staff set it; restore everything else
            changed = [k for k, v in values.items() if getattr(task, k) != v]
            if changed:
                for k in changed:
                    setattr(task, k, values[k])
                task.save()
                updated += 1
        stale = PeriodicTask.objects.filter(name__startswith=PREFIX).exclude(
            name__in=declared
        )
        removed = stale.count()
        for task in stale:
            task.delete()  # one by one so django-celery-beat's signals fire
        PeriodicTasks.update_changed()
        # the dashboard tells "not due yet" from "never ran" by this time
        heartbeat.mark_installed()
        self.stdout.write(
            f"Periodic tasks: {created} created, {updated} updated, {removed} removed, "
            f"{len(declared)} active."
        )
        if missing:
            self.stdout.write(
                "Not in this build (not scheduled): " + ", ".join(missing)
            )
