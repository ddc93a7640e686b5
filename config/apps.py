from django.apps import AppConfig, apps
from django.contrib.auth.signals import user_logged_in
from django.core import checks
from django.db.models.signals import post_migrate


class ConfigConfig(AppConfig):
    """Project-wide plumbing, management commands and user preferences."""

    name = "config"
    verbose_name = "Project"

    def ready(self) -> None:
        from dbbackup.signals import pre_restore

        from config.checks import (
            check_credentials_decrypt,
            check_media_links,
            check_services_reachable,
        )
        from config.ops.backups import pre_restore_guard
        from config.permissions import sync_groups_after_migrate
        from config.preferences import remember_timezone_at_login

        # post_migrate is sent only for apps with models, and "config" has
        # none: listen to logs' (the last project app with models), sent
        # after every project model's permissions were created.
        post_migrate.connect(
            sync_groups_after_migrate,
            sender=apps.get_app_config("logs"),
            dispatch_uid="sync_staff_groups",
        )
        # A plain `dbrestore` checks the file and the migration state first.
        pre_restore.connect(pre_restore_guard, dispatch_uid="ainf_pre_restore_guard")
        checks.register(check_credentials_decrypt, "credentials")
        # only with --deploy: development commands run without the servers too
        checks.register(check_services_reachable, "services", deploy=True)
        checks.register(check_media_links, "media_links", deploy=True)
        user_logged_in.connect(
            remember_timezone_at_login, dispatch_uid="operator_timezone"
        )
        self._watch_permissions()

    def _watch_permissions(self) -> None:
        """Cached permission sets (config.auth_backend) go stale on any change."""
        from django.contrib.auth.models import Group, Permission, User
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from config.auth_backend import permissions_changed

        for through in (
            User.groups.through,
            User.user_permissions.through,
            Group.permissions.through,
        ):
            m2m_changed.connect(
                permissions_changed, sender=through, dispatch_uid=f"perms-{through}"
            )
        # (a user's is_superuser is part of the cache key; is_active is checked
        # before the cache: no need to watch every save of a user)
        for model in (Group, Permission):
            for signal in (post_save, post_delete):
                signal.connect(
                    permissions_changed,
                    sender=model,
                    dispatch_uid=f"perms-{signal}-{model}",
                )
        # What a process keeps about an API token (config.api_gate) goes stale
        # on any save or delete of a token (a revoke) or of a user (is_active,
        # is_superuser).
        from knox.models import AuthToken

        from config.api_gate import auth_changed

        for sender in (AuthToken, User):
            for signal in (post_save, post_delete):
                signal.connect(
                    auth_changed, sender=sender, dispatch_uid=f"auth-{signal}-{sender}"
                )
