"""The application and read-only database roles (schema doc 9.2): created or
updated, with their grants, by `manage.py create_db_roles`."""

from django.apps import apps
from django.db.backends.utils import CursorWrapper
from psycopg import sql


def _role_exists(cursor: CursorWrapper, name: str) -> bool:
    cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [name])
    return cursor.fetchone() is not None


def ensure_role(cursor: CursorWrapper, name: str, password: str) -> str:
    """Create the login role, or refresh its password; says which."""
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


def grant_app(cursor: CursorWrapper, database: str, name: str) -> None:
    """Read and write on every table and sequence, no DDL (also for later tables)."""
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


def grant_readonly(cursor: CursorWrapper, database: str, name: str) -> None:
    """SELECT on the domain tables only (no secret columns), sessions read-only."""
    role, db = sql.Identifier(name), sql.Identifier(database)

    def run(statement: str, **parts: sql.Composable) -> None:
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
