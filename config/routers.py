"""Send heavy analytics reads to a replica when ANALYTICS_DATABASE_URL is set."""

from __future__ import annotations

from django.conf import settings

# Apps whose reads may lag behind the primary by replication delay.
REPLICA_READ_APPS = frozenset({"analytics"})


class AnalyticsReplicaRouter:
    """Reads of the analytics app go to the "analytics" alias if configured.

    Writes, relations and migrations stay on "default": the replica is a copy
    of the primary, never migrated on its own. Without the alias every method
    answers like Django's default router.
    """

    def db_for_read(self, model, **hints):
        alias = settings.ANALYTICS_DATABASE_ALIAS
        if alias and model._meta.app_label in REPLICA_READ_APPS:
            return alias
        return None

    def db_for_write(self, model, **hints):
        return "default"

    def allow_relation(self, obj1, obj2, **hints):
        # Both aliases hold the same database.
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == "default"
