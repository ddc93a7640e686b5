"""Check that database backups restore: `manage.py verify_backup [FILE ...] [--all]`."""

from django.core.management.base import BaseCommand, CommandError

from config.backups import verify_backup_file


class Command(BaseCommand):
    help = (
        "Check database backups with pg_restore (table of contents and every data "
        "block). Without arguments the latest backup is checked. Exits non-zero "
        "naming each unreadable file and why."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "files",
            nargs="*",
            help="Backup names in backup storage, or absolute paths.",
        )
        parser.add_argument(
            "--all", action="store_true", help="Check every stored database backup."
        )

    def handle(self, *args, files, all, **options):
        from dbbackup.storage import StorageError, get_storage

        storage = get_storage()
        if not files:
            try:
                if all:
                    files = sorted(storage.list_backups(content_type="db"))
                else:
                    files = [storage.get_latest_backup(content_type="db")]
            except StorageError as err:
                raise CommandError(f"No database backup to check: {err}") from err
            if not files:
                raise CommandError("No database backup to check.")
        failed = []
        for name in files:
            result = verify_backup_file(name, storage)
            self.stdout.write(result.line())
            if not result.ok:
                failed.append(result)
        if failed:
            raise CommandError(
                f"{len(failed)} of {len(files)} backup(s) failed verification: "
                + "; ".join(f"{r.filename}: {r.reason}" for r in failed)
            )
