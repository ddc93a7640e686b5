"""Age-based backup retention: `manage.py backup_prune [--days N] [--dry-run]`."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config.ops.backups import prune_backups


class Command(BaseCommand):
    help = (
        "Delete database and media backups older than BACKUP_RETENTION_DAYS "
        "(30 by default). The newest backup of each kind is always kept. The count "
        "limit is dbbackup's own `--clean` with DBBACKUP_CLEANUP_KEEP."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None)
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, days, dry_run, **options):
        days = settings.BACKUP_RETENTION_DAYS if days is None else days
        if days < 1:
            raise CommandError("--days must be at least 1.")
        removed = prune_backups(days=days, dry_run=dry_run)
        verb = "Would delete" if dry_run else "Deleted"
        for name in removed:
            self.stdout.write(f"{verb} {name}")
        self.stdout.write(f"{verb} {len(removed)} backup(s) older than {days} days.")
