"""The object-storage entry of STORAGES for media links, read from the
environment (MEDIA_LINK_BUCKET; platforms/media_links.py)."""

from __future__ import annotations

from typing import Any

import environ


def media_link_storage(env: environ.Env, *, max_age: int) -> dict[str, Any] | None:
    """django-storages' S3 backend on MEDIA_LINK_BUCKET (AWS S3, Cloudflare R2,
    MinIO: anything with the S3 API), or None when no bucket is set. Keys come
    from the environment or boto3's own chain (an instance role), never from
    the database; objects stay private, reachable only through a presigned GET
    that lives `max_age` seconds."""
    bucket = env.str("MEDIA_LINK_BUCKET", default="")
    if not bucket:
        return None
    from botocore.config import Config

    def optional(name: str) -> str | None:
        return env.str(name, default="") or None

    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": optional("MEDIA_LINK_S3_ENDPOINT_URL"),
            "region_name": optional("MEDIA_LINK_S3_REGION"),
            "access_key": optional("MEDIA_LINK_S3_ACCESS_KEY_ID"),
            "secret_key": optional("MEDIA_LINK_S3_SECRET_ACCESS_KEY"),
            "location": env.str("MEDIA_LINK_S3_PREFIX", default="media-links"),
            "default_acl": None,  # the bucket's own: private
            "querystring_auth": True,
            "querystring_expire": max_age,
            "file_overwrite": True,
            # a bucket that does not answer fails the attempt in seconds (the
            # queue retries it), not after boto3's minute-long defaults
            "client_config": Config(
                signature_version="s3v4",
                s3={
                    "addressing_style": env.str(
                        "MEDIA_LINK_S3_ADDRESSING_STYLE", default="auto"
                    )
                },
                connect_timeout=5,
                read_timeout=60,
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        },
    }
