"""Key material for platform_accounts.auth_data (django-cryptography).

django-cryptography derives the AES key from CRYPTOGRAPHY_KEY (PBKDF2) but
signs every token with HMAC(SECRET_KEY): both keys are needed to read a value.
The field caches its cipher (`field._fernet`) when the models load, so the
running process always uses the keys it started with.
"""

from __future__ import annotations

import pickle
from typing import Any

from django.conf import settings
from django.utils.encoding import force_bytes
from django_cryptography.core.signing import FernetSigner
from django_cryptography.utils.crypto import FernetBytes


def derive_cryptography_key(raw_key: str | bytes) -> bytes:
    """The AES key django-cryptography derives from a CRYPTOGRAPHY_KEY value."""
    from cryptography.hazmat.primitives.kdf import pbkdf2

    # CRYPTOGRAPHY_* come from django-cryptography's AppConf, not settings.py
    digest = settings.CRYPTOGRAPHY_DIGEST  # type: ignore[misc]
    kdf = pbkdf2.PBKDF2HMAC(
        algorithm=digest,
        length=digest.digest_size,
        salt=force_bytes(settings.CRYPTOGRAPHY_SALT),  # type: ignore[misc]
        iterations=30000,
        backend=settings.CRYPTOGRAPHY_BACKEND,  # type: ignore[misc]
    )
    return kdf.derive(force_bytes(raw_key))


def auth_data_field() -> Any:
    """The encrypted auth_data field (its key material is the settings')."""
    from platforms.models import PlatformAccount

    return PlatformAccount._meta.get_field("auth_data")


def current_cipher() -> FernetBytes:
    """The cipher the running process reads and writes auth_data with."""
    return auth_data_field()._fernet


def cipher_for(*, secret_key: str, cryptography_key: str | None) -> FernetBytes:
    """A cipher for given raw keys (CRYPTOGRAPHY_KEY None: derived from SECRET_KEY)."""
    return FernetBytes(
        derive_cryptography_key(cryptography_key or secret_key),
        FernetSigner(key=secret_key),
    )


def decrypt_value(cipher: FernetBytes, token: bytes) -> Any:
    return pickle.loads(cipher.decrypt(bytes(token)))


def encrypt_value(cipher: FernetBytes, value: Any) -> bytes:
    return cipher.encrypt(pickle.dumps(value))


def undecryptable_account_ids(cipher: FernetBytes | None = None) -> list[str]:
    """Ids of accounts whose stored auth_data the cipher cannot open."""
    from django.db import connection

    cipher = cipher or current_cipher()
    failed = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, auth_data FROM platform_accounts WHERE auth_data IS NOT NULL"
        )
        for pk, token in cursor.fetchall():
            try:
                # Unpickle too: with a wrong AES key but the right SECRET_KEY the
                # signature holds and 1 in ~256 tokens still unpads "correctly".
                decrypt_value(cipher, token)
            except Exception:  # noqa: BLE001 - any failure means "cannot open"
                failed.append(str(pk))
    return failed
