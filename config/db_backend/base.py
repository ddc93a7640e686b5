"""PostgreSQL backend whose foreign keys carry the models' ON DELETE action.

Django 5.2 emulates CASCADE and SET_NULL in Python only and creates every
foreign key without an ON DELETE clause, so a row deleted with plain SQL (a
psql session, a purge, another program) would be refused or leave orphans.
The schema document asks for real `ON DELETE CASCADE` / `ON DELETE SET NULL`;
this schema editor appends the clause from the field's `on_delete`.

Django keeps its Python-side emulation as well (signals still fire for ORM
deletes); the database's action is what protects plain SQL. Re-check on every
Django upgrade: `_create_fk_sql` is private API.
"""

from django.db import models
from django.db.backends.postgresql import base, schema

_ON_DELETE_SQL = {
    models.CASCADE: "CASCADE",
    models.SET_NULL: "SET NULL",
    models.PROTECT: "RESTRICT",
    models.RESTRICT: "RESTRICT",
}


def on_delete_sql(field) -> str | None:
    """The SQL action for a relation field's on_delete, or None for DO_NOTHING."""
    return _ON_DELETE_SQL.get(field.remote_field.on_delete)


class DatabaseSchemaEditor(schema.DatabaseSchemaEditor):
    # Route AddField through _create_fk_sql too, instead of an inline REFERENCES
    # clause that would miss the action.
    sql_create_column_inline_fk = None  # type: ignore[assignment]  # (stubs: str)

    def _create_fk_sql(self, model, field, suffix):
        statement = super()._create_fk_sql(model, field, suffix)  # type: ignore[misc]
        action = on_delete_sql(field)
        if action:
            statement.parts["deferrable"] = (
                f" ON DELETE {action}{statement.parts['deferrable']}"
            )
        return statement


class DatabaseWrapper(base.DatabaseWrapper):
    SchemaEditorClass = DatabaseSchemaEditor
