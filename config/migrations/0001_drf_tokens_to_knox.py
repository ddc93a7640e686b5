"""DRF's plaintext tokens (authtoken_token) become hashed knox tokens; the table goes.

Existing API clients keep working with the token they hold: its SHA-512 digest
is stored, with an expiry of API_TOKEN_TTL_DAYS from now. A fresh database
never had the table and nothing happens.
"""

from django.db import migrations


def carry_over(apps, schema_editor):
    from django.utils import timezone
    from knox.crypto import hash_token
    from knox.settings import CONSTANTS, knox_settings

    connection = schema_editor.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('authtoken_token') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return
        cursor.execute("SELECT key, user_id, created FROM authtoken_token")
        rows = cursor.fetchall()
    AuthToken = apps.get_model("knox", "AuthToken")
    ttl = knox_settings.TOKEN_TTL
    expiry = timezone.now() + ttl if ttl else None
    AuthToken._base_manager.bulk_create(
        AuthToken(
            digest=hash_token(key),
            token_key=key[: CONSTANTS.TOKEN_KEY_LENGTH],
            user_id=user_id,
            expiry=expiry,
        )
        for key, user_id, _ in rows
    )
    for key, _, created in rows:  # created is auto_now_add: keep the original
        AuthToken._base_manager.filter(digest=hash_token(key)).update(created=created)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE authtoken_token")
        cursor.execute("DELETE FROM django_migrations WHERE app = 'authtoken'")


class Migration(migrations.Migration):
    dependencies = [
        ("knox", "0009_extend_authtoken_field"),
    ]

    operations = [
        migrations.RunPython(carry_over, migrations.RunPython.noop, elidable=True),
    ]
