"""Create (or update) the application and read-only database roles (schema doc 9.2).

Run as the role that owns the tables (the one `migrate` runs as). Idempotent:
existing roles get their password and grants refreshed.
"""

import os

from django.core.management.base import BaseCommand, CommandError
from django.db import connections, transaction

from config.ops.roles import ensure_role, grant_app, grant_readonly


class Command(BaseCommand):
    help = (
        "Create or update the application role (read/write on the project's "
        "tables and sequences, no DDL) and the read-only analytics role (the "
        "domain tables only: no users, sessions, tokens or credentials). "
        "Passwords come from APP_DB_PASSWORD and READONLY_DB_PASSWORD."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--app-role", default=os.environ.get("APP_DB_ROLE", "ainfluencer_app")
        )
        parser.add_argument(
            "--readonly-role",
            default=os.environ.get("READONLY_DB_ROLE", "ainfluencer_readonly"),
        )
        parser.add_argument("--database", default="default")

    def handle(self, *args, app_role, readonly_role, database, **options):
        app_password = os.environ.get("APP_DB_PASSWORD", "")
        readonly_password = os.environ.get("READONLY_DB_PASSWORD", "")
        missing = [
            name
            for name, value in (
                ("APP_DB_PASSWORD", app_password),
                ("READONLY_DB_PASSWORD", readonly_password),
            )
            if not value
        ]
        if missing:
            raise CommandError(f"Set {' and '.join(missing)} in the environment.")
        if app_role == readonly_role:
            raise CommandError("The application and read-only roles must differ.")
        connection = connections[database]
        db_name = connection.settings_dict["NAME"]
        with transaction.atomic(using=database), connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            owner = cursor.fetchone()[0]
            if owner in (app_role, readonly_role):
                raise CommandError(
                    f"Run this as the role that owns the tables, not as {owner}."
                )
            cursor.execute(
                "SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user"
            )
            if not cursor.fetchone()[0]:
                raise CommandError(
                    f"The role {owner} cannot create roles (needs CREATEROLE)."
                )
            app_state = ensure_role(cursor, app_role, app_password)
            grant_app(cursor, db_name, app_role)
            ro_state = ensure_role(cursor, readonly_role, readonly_password)
            grant_readonly(cursor, db_name, readonly_role)
        self.stdout.write(f"Application role {app_role}: {app_state}, grants applied.")
        self.stdout.write(
            f"Read-only role {readonly_role}: {ro_state}, grants applied."
        )
