"""SQL the migrations add that Django's model layer cannot express."""

from django.db import migrations


def updated_at_trigger(table: str) -> migrations.RunSQL:
    """BEFORE UPDATE trigger that keeps `<table>.updated_at` true for any UPDATE."""
    name = f"{table}_set_updated_at"
    return migrations.RunSQL(
        f"CREATE TRIGGER {name} BEFORE UPDATE ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION set_updated_at();",
        f"DROP TRIGGER IF EXISTS {name} ON {table};",
    )


def account_consistency_fk(table: str, *, with_platform: bool) -> migrations.RunSQL:
    """Composite FK: a row's character (and platform) are its account's.

    References the unique key platform_accounts_identity_key (id, character_id,
    platform). MATCH SIMPLE: rows without an account are not checked.
    """
    cols = "platform_account_id, character_id" + (", platform" if with_platform else "")
    ref = "id, character_id" + (", platform" if with_platform else "")
    name = f"{table}_account_consistency_fk"
    return migrations.RunSQL(
        f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY ({cols}) "
        f"REFERENCES platform_accounts ({ref}) ON DELETE CASCADE;",
        f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name};",
    )


def rename_constraint(table: str, old: str, new: str) -> migrations.RunSQL:
    return migrations.RunSQL(
        f"ALTER TABLE {table} RENAME CONSTRAINT {old} TO {new};",
        f"ALTER TABLE {table} RENAME CONSTRAINT {new} TO {old};",
    )
