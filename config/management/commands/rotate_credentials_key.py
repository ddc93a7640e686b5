"""Re-encrypt every platform account's auth_data (and every webhook's secret)
from old keys to the current ones."""

import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from config.ops.credentials import (
    cipher_for,
    current_cipher,
    decrypt_value,
    encrypt_value,
)

# Every encrypted column (django-cryptography, one key for all).
TABLES = (("platform_accounts", "auth_data"), ("webhooks", "secret"))


def _rotate(cursor, table, column, old_cipher, new_cipher):
    """Re-encrypt one column: (rotated, already new, ids that open with neither)."""
    rotated = already = 0
    failed: list[str] = []
    cursor.execute(
        f"SELECT id, {column} FROM {table} "  # noqa: S608 - constants above
        f"WHERE {column} IS NOT NULL ORDER BY id FOR UPDATE"
    )
    for pk, token in cursor.fetchall():
        try:
            value = decrypt_value(old_cipher, token)
        except Exception:  # noqa: BLE001
            try:
                decrypt_value(new_cipher, token)
            except Exception:  # noqa: BLE001
                failed.append(str(pk))
            else:
                already += 1  # a re-run after a partial deploy
            continue
        cursor.execute(
            f"UPDATE {table} SET {column} = %s WHERE id = %s",  # noqa: S608
            [encrypt_value(new_cipher, value), pk],
        )
        rotated += 1
    return rotated, already, failed


class _DryRun(Exception):
    """Raised to roll back the rotation transaction in --dry-run."""


class Command(BaseCommand):
    help = (
        "Re-encrypt platform_accounts.auth_data and webhooks.secret after a "
        "SECRET_KEY and/or "
        "CRYPTOGRAPHY_KEY change. Run it with the NEW keys in the environment "
        "(SECRET_KEY, CRYPTOGRAPHY_KEY) and the OLD ones in OLD_SECRET_KEY / "
        "OLD_CRYPTOGRAPHY_KEY (or the options; environment variables keep them "
        "out of `ps`). An old key that did not change may be omitted. One "
        "transaction: every account and webhook is re-encrypted, or none."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--old-secret-key",
            default=None,
            help="The previous SECRET_KEY (default: $OLD_SECRET_KEY, else unchanged).",
        )
        parser.add_argument(
            "--old-cryptography-key",
            default=None,
            help=(
                "The previous CRYPTOGRAPHY_KEY (default: $OLD_CRYPTOGRAPHY_KEY, "
                "else unchanged)."
            ),
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Decrypt and re-encrypt everything, then roll back.",
        )

    def handle(self, *args, old_secret_key, old_cryptography_key, dry_run, **options):
        old_secret = old_secret_key or os.environ.get("OLD_SECRET_KEY") or None
        old_crypto = (
            old_cryptography_key or os.environ.get("OLD_CRYPTOGRAPHY_KEY") or None
        )
        if not old_secret and not old_crypto:
            raise CommandError(
                "Give the previous keys: set OLD_SECRET_KEY and/or "
                "OLD_CRYPTOGRAPHY_KEY (or --old-secret-key / --old-cryptography-key)."
            )
        new_cipher = current_cipher()
        old_cipher = cipher_for(
            secret_key=old_secret or settings.SECRET_KEY,
            # Unchanged CRYPTOGRAPHY_KEY: reuse the derived key the process holds.
            cryptography_key=old_crypto,
        )
        if not old_crypto:
            old_cipher.key = new_cipher.key

        rotated = already = 0
        failed: list[str] = []
        hooks = {"rotated": 0, "already": 0}
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    for table, column in TABLES:
                        r, a, bad = _rotate(
                            cursor, table, column, old_cipher, new_cipher
                        )
                        failed += bad
                        if table == "platform_accounts":
                            rotated, already = r, a
                        else:
                            hooks = {"rotated": r, "already": a}
                if failed:
                    raise CommandError(
                        f"{len(failed)} account(s) or webhook(s) open with neither "
                        "the old nor the "
                        f"new keys ({', '.join(failed[:5])}"
                        f"{' ...' if len(failed) > 5 else ''}): wrong old keys? "
                        "Nothing was changed."
                    )
                if dry_run:
                    raise _DryRun
        except _DryRun:
            self.stdout.write(
                f"Dry run: {rotated} account(s) would be re-encrypted, {already} "
                "already use the new keys. Nothing was changed."
            )
            return
        self.stdout.write(
            f"Re-encrypted {rotated} account(s); {already} already used the new keys."
            f" Webhook secrets: {hooks['rotated']} re-encrypted, {hooks['already']} "
            "already new."
        )
