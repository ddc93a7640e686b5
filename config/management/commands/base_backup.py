"""A pgBackRest base backup now: `manage.py base_backup [--type full|diff|incr] [--if-none]`.

The nightly task takes one every night; this is for the first one (`make run`
takes it with --if-none) and before risky work.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config.ops.pitr import PitrError, Repository


class Command(BaseCommand):
    help = "Take a pgBackRest base backup of the cluster (point-in-time recovery)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--type", choices=["full", "diff", "incr"], default="full", dest="kind"
        )
        parser.add_argument(
            "--if-none",
            action="store_true",
            help="Only when the repository holds no base backup yet.",
        )

    def handle(self, *args, kind, if_none, **options):
        if not settings.PITR_ENABLED:
            raise CommandError("PITR_ENABLED is off: no WAL archive to back up into.")
        repository = Repository.from_settings()
        try:
            if if_none and repository.backups():
                self.stdout.write("A base backup exists already: none taken.")
                return
            backup = repository.backup(kind)
        except PitrError as err:
            raise CommandError(str(err)) from err
        self.stdout.write(
            f"Base backup {backup['label']} ({backup['type']}, "
            f"{backup['info']['repository']['delta']} bytes stored)."
        )
