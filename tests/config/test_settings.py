"""Settings come from the environment; production refuses weak or missing keys."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
STRONG = "k" * 30 + "Zq8#pL2@vX9!mN4$wR7&tY1^uI3*oP6("


def django_setup(**env) -> subprocess.CompletedProcess:
    full = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('ok')"],
        cwd=ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
    )


PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": STRONG,
    "CRYPTOGRAPHY_KEY": STRONG[:40],
    "DATABASE_URL": "postgres://app@db.internal:5432/ainfluencer",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "ALLOWED_HOSTS": "backoffice.example.com",
}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY must be set"),
        ({"SECRET_KEY": "django-insecure-" + "x" * 60}, "SECRET_KEY must be set"),
        ({"CRYPTOGRAPHY_KEY": ""}, "CRYPTOGRAPHY_KEY must be set"),
    ],
)
def test_production_refuses_to_start_without_real_keys(override, message):
    result = django_setup(**{**PRODUCTION, **override})
    assert result.returncode != 0
    assert message in result.stderr
    assert STRONG not in result.stderr  # a key is never echoed


def test_production_starts_with_real_keys():
    result = django_setup(**PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_the_database_uses_the_project_backend_and_the_pool():
    assert settings.DATABASES["default"]["ENGINE"] == "config.db_backend"
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True
    pool = settings.DATABASES["default"]["OPTIONS"].get("pool")
    assert isinstance(pool, dict) and pool["max_size"] >= pool["min_size"] >= 1
    assert settings.USE_TZ and settings.TIME_ZONE == "UTC"


@pytest.mark.django_db
def test_the_connection_comes_from_the_pool():
    connection.ensure_connection()
    assert connection.pool is not None


def test_workers_can_turn_the_pool_off():
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print('pool' in settings.DATABASES['default']['OPTIONS'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DB_POOL": "false",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "False", result.stderr


def platform_modes(**env) -> dict:
    code = (
        "import django, json; django.setup(); from django.conf import settings; "
        "from platforms.modes import platform_mode; "
        "print(json.dumps({'dry_run': settings.PLATFORM_DRY_RUN, "
        "'adapters': settings.PLATFORM_ADAPTERS, "
        "'modes': {p: platform_mode(p) for p in ('telegram', 'onlyfans')}}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_live_with_debug_on_never_falls_back_to_the_dry_run_adapter():
    """DEBUG on and PLATFORM_DRY_RUN=false used to send every platform without an
    adapter to the dry-run adapter, which reported posts "published" that went
    nowhere. Live is live: such a platform is published by hand."""
    found = platform_modes(DEBUG="true", PLATFORM_DRY_RUN="false")
    assert found["dry_run"] is False
    assert "DryRunAdapter" not in json.dumps(found["adapters"])
    assert "*" not in found["adapters"]
    assert found["modes"] == {"telegram": "live", "onlyfans": "assisted"}


def test_dry_run_is_one_switch_and_platforms_without_an_adapter_stay_by_hand():
    found = platform_modes(**{**PRODUCTION, "PLATFORM_DRY_RUN": "true"})
    assert found["dry_run"] is True
    assert found["modes"] == {"telegram": "dry_run", "onlyfans": "assisted"}
    # production defaults to live
    assert platform_modes(**PRODUCTION)["modes"]["telegram"] == "live"
