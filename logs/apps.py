from django.apps import AppConfig
from django.db.models.signals import post_migrate


class LogsConfig(AppConfig):
    name = "logs"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from logs import audit
        from logs.audit import install_fast_ignore_check

        # the audit trail's "task" door: Celery's task signals (every process
        # that runs Django and Celery: workers, beat, eager tasks)
        audit.connect()

        # after every migrate: the audit triggers' cheap pgtrigger.ignore check
        post_migrate.connect(
            install_fast_ignore_check, sender=self, dispatch_uid="audit_fast_ignore"
        )
