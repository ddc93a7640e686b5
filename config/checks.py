"""System checks: stored credentials still open with the configured keys; with
--deploy, the database and Redis answer, and Instagram's and Facebook's media
can be fetched (a public address or a working bucket)."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning
from django.db import DatabaseError, connections, transaction

logger = logging.getLogger("config.checks")


def check_credentials_decrypt(app_configs=None, **kwargs) -> list[Error]:
    """Every platform account's auth_data decrypts with SECRET_KEY + CRYPTOGRAPHY_KEY.

    Runs with `check`, `runserver`, `migrate` and the container's start-up
    `check --deploy`. A database that is unreachable or not migrated yet is not
    this check's business: it then reports nothing.
    """
    from config.ops.credentials import undecryptable_account_ids

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


CONNECT_TIMEOUT = 5  # seconds: a start-up check must not hang on a dead host


def _redis_urls() -> list[str]:
    """Every Redis the settings point at: broker, results, cache."""
    urls = [settings.CELERY_BROKER_URL, settings.CELERY_RESULT_BACKEND]
    for cache in settings.CACHES.values():
        if cache["BACKEND"].endswith("RedisCache"):
            location = cache["LOCATION"]
            urls += [location] if isinstance(location, str) else list(location)
    found = []
    for url in urls:
        if url and url.startswith(("redis://", "rediss://")) and url not in found:
            found.append(url)
    return found


def _shown(url: str) -> str:
    """scheme://host:port/path without the user and password."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path}"


def check_services_reachable(app_configs=None, **kwargs) -> list[Error]:
    """`check --deploy` (the container's start-up gate) fails when the database
    or a Redis the settings name cannot be reached, instead of passing."""
    import psycopg
    import redis

    errors = []
    for alias in settings.DATABASES:
        db = connections[alias].settings_dict
        where = f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}/{db['NAME']}"
        try:
            psycopg.connect(
                dbname=db["NAME"],
                user=db.get("USER") or None,
                password=db.get("PASSWORD") or None,
                host=db.get("HOST") or None,
                port=db.get("PORT") or None,
                connect_timeout=CONNECT_TIMEOUT,
            ).close()
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0][:300]
            errors.append(
                Error(
                    f"The database '{alias}' ({where}) cannot be reached: {reason}",
                    hint="Check DATABASE_URL and that PostgreSQL is running and "
                    "accepts connections from this host.",
                    id="config.E002",
                )
            )
    for url in _redis_urls():
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=CONNECT_TIMEOUT,
        )
        try:
            client.ping()
        except redis.RedisError as exc:
            errors.append(
                Error(
                    f"Redis at {_shown(url)} cannot be reached: "
                    f"{type(exc).__name__}: {str(exc)[:300]}",
                    hint="Check REDIS_URL (and CELERY_BROKER_URL, CACHE_URL if "
                    "set) and that Redis is running.",
                    id="config.E003",
                )
            )
        finally:
            client.close()
    return errors


MEDIA_BY_URL = ("instagram", "facebook")  # the platforms that fetch media by URL


def check_media_links(app_configs=None, **kwargs) -> list[CheckMessage]:
    """With --deploy: Instagram and Facebook, when live, have a way to fetch a
    post's media (MEDIA_PUBLIC_BASE_URL or MEDIA_LINK_BUCKET), and a configured
    bucket takes and gives back an object with the configured keys (the two
    rights the links need: s3:PutObject and s3:GetObject)."""
    from platforms.media_links import OBJECT_STORAGE
    from platforms.modes import Mode, platform_mode

    found: list[CheckMessage] = []
    bucket = OBJECT_STORAGE in settings.STORAGES
    live = [p for p in MEDIA_BY_URL if platform_mode(p) == Mode.LIVE]
    if live and not bucket and not settings.MEDIA_PUBLIC_BASE_URL:
        found.append(
            Warning(
                f"{' and '.join(p.title() for p in live)} "
                f"{'fetches' if len(live) == 1 else 'fetch'} media by URL, and "
                "no public address is set: their photo and video posts will fail.",
                hint="Set MEDIA_PUBLIC_BASE_URL (this site's public address) or "
                "MEDIA_LINK_BUCKET (object storage); docs/operations.md.",
                id="config.W001",
            )
        )
    if bucket:
        found += _check_bucket()
    return found


def _check_bucket() -> list[CheckMessage]:
    from botocore.exceptions import BotoCoreError, ClientError
    from django.core.files.base import ContentFile
    from django.core.files.storage import storages

    from platforms.media_links import OBJECT_STORAGE, storage_error_code

    storage = storages[OBJECT_STORAGE]
    probe = ".deploy-check"
    bucket = getattr(storage, "bucket_name", OBJECT_STORAGE)
    try:
        storage.save(probe, ContentFile(b"ok"))
        readable = storage.exists(probe)
    except ClientError as exc:
        return [
            Error(
                f"The media-link bucket '{bucket}' refused a test object "
                f"({storage_error_code(exc)}).",
                hint="Check MEDIA_LINK_BUCKET, MEDIA_LINK_S3_ENDPOINT_URL and "
                "MEDIA_LINK_S3_REGION, and that the keys may s3:PutObject and "
                "s3:GetObject under MEDIA_LINK_S3_PREFIX.",
                id="config.E004",
            )
        ]
    except BotoCoreError as exc:
        return [
            Warning(
                f"The media-link bucket '{bucket}' did not answer "
                f"({type(exc).__name__}); Instagram and Facebook media posts wait "
                "until it does.",
                hint="Check MEDIA_LINK_S3_ENDPOINT_URL and the network.",
                id="config.W002",
            )
        ]
    if not readable:
        return [
            Error(
                f"The media-link bucket '{bucket}' took a test object but does "
                "not show it back.",
                hint="The keys need s3:GetObject under MEDIA_LINK_S3_PREFIX.",
                id="config.E004",
            )
        ]
    return []
