"""System checks: stored credentials still open with the configured keys."""

from __future__ import annotations

import logging

from django.core.checks import Error
from django.db import DatabaseError, transaction

logger = logging.getLogger("config.checks")


def check_credentials_decrypt(app_configs=None, **kwargs) -> list[Error]:
    """Every platform account's auth_data decrypts with SECRET_KEY + CRYPTOGRAPHY_KEY.

    Runs with `check`, `runserver`, `migrate` and the container's start-up
    `check --deploy`. A database that is unreachable or not migrated yet is not
    this check's business: it then reports nothing.
    """
    from config.credentials import undecryptable_account_ids

    try:
        # A savepoint when called inside a transaction (tests): a missing table
        # must not leave the caller's transaction aborted.
        with transaction.atomic():
            failed = undecryptable_account_ids()
    except DatabaseError as err:
        logger.debug("credentials check skipped: %s", err.__class__.__name__)
        return []
    finally:
        # Do not leave a connection (or a failed transaction) behind for the
        # command that runs after the checks.
        from django.db import connection

        if not connection.in_atomic_block:
            connection.close()
    if not failed:
        return []
    shown = ", ".join(failed[:5]) + (
        f" and {len(failed) - 5} more" if len(failed) > 5 else ""
    )
    return [
        Error(
            f"{len(failed)} platform account(s) have credentials (auth_data) that "
            f"cannot be decrypted with the current SECRET_KEY and CRYPTOGRAPHY_KEY "
            f"(accounts: {shown}). Publishing with them would fail.",
            hint=(
                "Either restore the previous keys, or re-encrypt with the old keys: "
                "OLD_SECRET_KEY=... OLD_CRYPTOGRAPHY_KEY=... "
                "python manage.py rotate_credentials_key "
                "(django-cryptography signs with SECRET_KEY too, so both keys matter)."
            ),
            id="config.E001",
        )
    ]
