from django.apps import AppConfig
from django.core import checks
from django.db.models.signals import post_migrate


class ConfigConfig(AppConfig):
    """Project-wide plumbing and management commands (no models)."""

    name = "config"
    verbose_name = "Project"

    def ready(self) -> None:
        from dbbackup.signals import pre_restore

        from config.backups import pre_restore_guard
        from config.checks import check_credentials_decrypt
        from config.permissions import sync_groups_after_migrate

        post_migrate.connect(
            sync_groups_after_migrate, sender=self, dispatch_uid="sync_staff_groups"
        )
        # A plain `dbrestore` checks the file and the migration state first.
        pre_restore.connect(pre_restore_guard, dispatch_uid="ainf_pre_restore_guard")
        checks.register(check_credentials_decrypt, "credentials")
