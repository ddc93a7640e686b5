"""Switching django-cryptography's keys inside a test process.

The auth_data field builds its cipher once, when the models load (the AES key
derived from CRYPTOGRAPHY_KEY and a signer holding SECRET_KEY), so
override_settings alone changes nothing: the cached cipher is replaced too.
"""

from django.conf import settings

from config.ops.credentials import auth_data_field, cipher_for, derive_cryptography_key
from logs.models import Webhook

OLD_SECRET = "old-secret-key-" + "o" * 50
OLD_CRYPTO = "old-cryptography-key-" + "c" * 32
NEW_SECRET = "new-secret-key-" + "n" * 50
NEW_CRYPTO = "new-cryptography-key-" + "k" * 32


def use_keys(monkeypatch, secret: str, crypto: str) -> None:
    monkeypatch.setattr(settings, "SECRET_KEY", secret)
    monkeypatch.setattr(settings, "CRYPTOGRAPHY_KEY", derive_cryptography_key(crypto))
    cipher = cipher_for(secret_key=secret, cryptography_key=crypto)
    monkeypatch.setattr(auth_data_field(), "_fernet", cipher)
    # every encrypted field holds its own copy (webhooks' secrets too)
    monkeypatch.setattr(Webhook._meta.get_field("secret"), "_fernet", cipher)
