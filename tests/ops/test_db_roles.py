"""create_db_roles: the read-only role reads and cannot write; the app role has no DDL."""

import io

import psycopg
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from psycopg import sql

from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def _connect(role: str, password: str) -> psycopg.Connection:
    params = connection.settings_dict
    return psycopg.connect(
        host=params["HOST"] or "127.0.0.1",
        port=params["PORT"] or 5432,
        dbname=params["NAME"],
        user=role,
        password=password,
        autocommit=True,
    )


@pytest.fixture
def roles(monkeypatch):
    """Role names unique to this database (the cluster is shared), dropped after."""
    suffix = connection.settings_dict["NAME"]
    app, readonly = f"{suffix}_app", f"{suffix}_ro"
    monkeypatch.setenv("APP_DB_PASSWORD", "app-password-for-tests")
    monkeypatch.setenv("READONLY_DB_PASSWORD", "ro-password-for-tests")
    yield app, readonly
    params = connection.settings_dict
    with psycopg.connect(
        host=params["HOST"] or "127.0.0.1",
        port=params["PORT"] or 5432,
        dbname=params["NAME"],
        user="postgres",
        autocommit=True,
    ) as admin:
        for role in (app, readonly):
            exists = admin.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", [role]
            ).fetchone()
            if exists:
                admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
                admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_readonly_role_can_read_and_cannot_write(roles):
    app, readonly = roles
    character = factories.CharacterFactory(name="Visible")
    out = io.StringIO()
    call_command(
        "create_db_roles", "--app-role", app, "--readonly-role", readonly, stdout=out
    )
    assert "created" in out.getvalue()
    assert "password" not in out.getvalue().lower().replace("grants", "")

    with _connect(readonly, "ro-password-for-tests") as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == readonly
        names = [r[0] for r in conn.execute("SELECT name FROM characters")]
        assert names == ["Visible"]
        insert = (
            "INSERT INTO system_logs (id, log_level, message, created_at) "
            "VALUES (gen_random_uuid(), 'info', 'x', now())"
        )
        # Its sessions start read-only ...
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute(insert)
        # ... and with that switched off, the missing grants still refuse.
        conn.execute("SET default_transaction_read_only = off")
        with pytest.raises(
            psycopg.errors.InsufficientPrivilege, match="permission denied"
        ):
            conn.execute(insert)
        with pytest.raises(
            psycopg.errors.InsufficientPrivilege, match="permission denied"
        ):
            conn.execute("DELETE FROM characters")
    assert type(character).objects.filter(pk=character.pk).exists()


SECRET_TABLES = [
    "auth_user",
    "auth_user_groups",
    "django_session",
    "django_admin_log",
    "knox_authtoken",
    "django_celery_beat_periodictask",
]


def test_readonly_role_reads_domain_tables_but_no_secrets(roles):
    app, readonly = roles
    factories.PlatformAccountFactory(auth_data={"token": "secret-token"})
    factories.UserFactory(username="someone")
    call_command(
        "create_db_roles",
        "--app-role",
        app,
        "--readonly-role",
        readonly,
        stdout=io.StringIO(),
    )
    with _connect(readonly, "ro-password-for-tests") as conn:
        for table in ("characters", "content", "scheduled_posts", "analytics"):
            conn.execute(f"SELECT count(*) FROM {table}").fetchone()
        row = conn.execute(
            "SELECT platform, follower_count FROM platform_accounts"
        ).fetchone()
        assert row is not None
        for query in [
            *(f"SELECT * FROM {table}" for table in SECRET_TABLES),
            "SELECT auth_data FROM platform_accounts",
            "SELECT * FROM platform_accounts",
        ]:
            with pytest.raises(
                psycopg.errors.InsufficientPrivilege, match="permission denied"
            ):
                conn.execute(query)


def test_a_table_created_later_is_not_readable_by_default(roles):
    app, readonly = roles
    args = ("create_db_roles", "--app-role", app, "--readonly-role", readonly)
    call_command(*args, stdout=io.StringIO())
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE later_secret_table (id int)")
    try:
        with (
            _connect(readonly, "ro-password-for-tests") as conn,
            pytest.raises(psycopg.errors.InsufficientPrivilege),
        ):
            conn.execute("SELECT * FROM later_secret_table")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE later_secret_table")


def test_app_role_writes_rows_but_has_no_ddl(roles):
    app, readonly = roles
    call_command(
        "create_db_roles",
        "--app-role",
        app,
        "--readonly-role",
        readonly,
        stdout=io.StringIO(),
    )
    with _connect(app, "app-password-for-tests") as conn:
        conn.execute(
            "INSERT INTO system_logs (id, log_level, message, created_at) "
            "VALUES (gen_random_uuid(), 'info', 'written by the app role', now())"
        )
        assert conn.execute("SELECT count(*) FROM system_logs").fetchone()[0] == 1
        conn.execute("DELETE FROM system_logs")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE app_role_should_not_create (id int)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DROP TABLE characters")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("ALTER TABLE characters ADD COLUMN nope int")


def test_create_db_roles_is_idempotent(roles):
    app, readonly = roles
    args = ("create_db_roles", "--app-role", app, "--readonly-role", readonly)
    call_command(*args, stdout=io.StringIO())
    out = io.StringIO()
    call_command(*args, stdout=out)
    assert f"Application role {app}: updated" in out.getvalue()
    assert f"Read-only role {readonly}: updated" in out.getvalue()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_roles WHERE rolname IN (%s, %s)", [app, readonly]
        )
        assert cursor.fetchone()[0] == 2


def test_it_requires_passwords_from_the_environment(monkeypatch):
    monkeypatch.delenv("APP_DB_PASSWORD", raising=False)
    monkeypatch.delenv("READONLY_DB_PASSWORD", raising=False)
    with pytest.raises(
        CommandError, match="Set APP_DB_PASSWORD and READONLY_DB_PASSWORD"
    ):
        call_command("create_db_roles", stdout=io.StringIO())
