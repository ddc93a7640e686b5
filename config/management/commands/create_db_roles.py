"""Create (or update) the application and read-only database roles (schema doc 9.2).

Run as the role that owns the tables (the one `migrate` runs as). Idempotent:
existing roles get their password and grants refreshed.
"""

import os

from django.core.management.base import BaseCommand, CommandError
from django.db import connections, transaction
from psycopg import sql


def _role_exists(cursor, name: str) -> bool:
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name])
    return cursor.fetchone() is not None


def ensure_role(cursor, name: str, password: str) -> str:
    role = sql.Identifier(name)
    exists = _role_exists(cursor, name)
    # Only a superuser may (even re)state NOSUPERUSER, so ALTER leaves it out.
    statement = (
        "ALTER ROLE {} LOGIN NOCREATEDB NOCREATEROLE PASSWORD {}"
        if exists
        else "CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}"
    )
    cursor.execute(
        sql.SQL(statement)
        .format(role, sql.Literal(password))
        .as_string(cursor.connection)
    )
    return "updated" if exists else "created"


def grant_app(cursor, database: str, name: str) -> None:
    role, db = sql.Identifier(name), sql.Identifier(database)
    for statement in (
        "GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {role}",
        "REVOKE CREATE ON DATABASE {db} FROM {role}",
        "GRANT USAGE ON SCHEMA public TO {role}",
        # No DDL: no CREATE on the schema; tables stay owned by the migrating role.
        "REVOKE CREATE ON SCHEMA public FROM {role}",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        "GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {role}",
        "GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {role}",
        # Tables created by later migrations (run as the owner) get the same.
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, "
        "DELETE ON TABLES TO {role}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON "
        "SEQUENCES TO {role}",
    ):
        cursor.execute(
            sql.SQL(statement).format(db=db, role=role).as_string(cursor.connection)
        )


# The apps whose tables the read-only (analytics) role may read. Never auth,
# sessions, tokens, Celery's tables or the audit trail's context.
READONLY_APPS = (
    "characters",
    "content",
    "platforms",
    "automation",
    "analytics",
    "logs",
)
# Columns it may never read, even inside a readable table.
SECRET_COLUMNS = {"platform_accounts": {"auth_data"}}


def readonly_tables() -> dict[str, list[str] | None]:
    """{table: readable columns, or None for all} for the read-only role."""
    from django.apps import apps

    tables: dict[str, list[str] | None] = {}
    for label in READONLY_APPS:
        for model in apps.get_app_config(label).get_models():
            if model._meta.proxy or not model._meta.managed:
                continue
            table = model._meta.db_table
            secret = SECRET_COLUMNS.get(table)
            tables[table] = (
                [
                    f.column
                    for f in model._meta.concrete_fields
                    if f.column and f.column not in secret
                ]
                if secret
                else None
            )
    return tables


def grant_readonly(cursor, database: str, name: str) -> None:
    role, db = sql.Identifier(name), sql.Identifier(database)

    def run(statement, **parts):
        cursor.execute(
            sql.SQL(statement)
            .format(db=db, role=role, **parts)
            .as_string(cursor.connection)
        )

    for statement in (
        "GRANT CONNECT ON DATABASE {db} TO {role}",
        "REVOKE CREATE, TEMPORARY ON DATABASE {db} FROM {role}",
        "GRANT USAGE ON SCHEMA public TO {role}",
        "REVOKE CREATE ON SCHEMA public FROM {role}",
        # Start from nothing (earlier versions granted every table, and every
        # future one by default): then the domain tables, one by one.
        "REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}",
        "REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {role}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {role}",
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM {role}",
        # Belt and braces: its sessions start read-only.
        "ALTER ROLE {role} SET default_transaction_read_only = on",
    ):
        run(statement)
    for table, columns in readonly_tables().items():
        if columns is None:
            run("GRANT SELECT ON {table} TO {role}", table=sql.Identifier(table))
        else:
            run(
                "GRANT SELECT ({columns}) ON {table} TO {role}",
                table=sql.Identifier(table),
                columns=sql.SQL(", ").join(sql.Identifier(c) for c in columns),
            )


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
