from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ConfigConfig(AppConfig):
    """Project-wide plumbing and management commands (no models)."""

    name = "config"
    verbose_name = "Project"

    def ready(self) -> None:
        from config.permissions import sync_groups_after_migrate

        post_migrate.connect(
            sync_groups_after_migrate, sender=self, dispatch_uid="sync_staff_groups"
        )
