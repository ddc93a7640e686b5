"""Check that backups restore: `manage.py verify_backup [FILE ...] [--all] [--no-archive]`."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config.ops.backups import verify_backup_file


class Command(BaseCommand):
    help = (
        "Check database backups with pg_restore (table of contents, every data "
        "block, and that the dump is this project's). Without arguments the latest "
        "backup is checked. With PITR_ENABLED the WAL archive too: pgBackRest's "
        "check and verify, and no gap in the WAL since the oldest base backup. "
        "Exits non-zero naming each problem."
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
        parser.add_argument(
            "--no-archive",
            action="store_true",
            help="Skip the WAL archive (pgBackRest) checks.",
        )

    def handle(self, *args, files, all, no_archive, **options):
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
        problems = []
        for name in files:
            result = verify_backup_file(name, storage)
            self.stdout.write(result.line())
            if not result.ok:
                problems.append(f"{result.filename}: {result.reason}")
        checked = len(files)
        if settings.PITR_ENABLED and not no_archive:
            from config.ops.pitr import Repository

            archive = Repository.from_settings().verify()
            self.stdout.write(archive.line())
            checked += 1
            if not archive.ok:
                problems.append(f"WAL archive: {'; '.join(archive.problems)}")
        if problems:
            raise CommandError(
                f"{len(problems)} of {checked} backup(s) failed verification: "
                + "; ".join(problems)
            )
