"""Extensions and shared SQL functions, before any table.

The extensions are created by the application's own role (all three are
trusted on PostgreSQL 13+), so that role owns them and a restore by that role
never fails with "must be owner of extension".
"""

from django.contrib.postgres.operations import (
    CreateExtension,
    CryptoExtension,
    TrigramExtension,
)
from django.db import migrations

SET_UPDATED_AT = """
CREATE OR REPLACE FUNCTION set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Keep an explicit new value (ORM saves set it); otherwise stamp the row,
    -- so queryset.update() and plain SQL keep updated_at true.
    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END;
$$;
"""


class Migration(migrations.Migration):
    initial = True
    dependencies = []

    operations = [
        CreateExtension("uuid-ossp"),
        TrigramExtension(),
        CryptoExtension(),
        migrations.RunSQL(SET_UPDATED_AT, "DROP FUNCTION IF EXISTS set_updated_at();"),
    ]
