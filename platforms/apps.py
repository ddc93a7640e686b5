from django.apps import AppConfig


class PlatformsConfig(AppConfig):
    name = "platforms"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from dbbackup.signals import post_restore

        from platforms.services import publishing_hold_after_restore

        # A restored database starts with publishing on hold (issue: restore
        # must not resend what went out between the backup and the restore).
        post_restore.connect(
            publishing_hold_after_restore, dispatch_uid="ainf_hold_after_restore"
        )
