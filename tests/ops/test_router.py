"""The analytics replica router: reads of analytics go to the alias when configured."""

from django.db import router

from analytics.models import Analytics
from characters.models import Character
from config.routers import AnalyticsReplicaRouter


def test_without_a_replica_everything_uses_default(settings):
    settings.ANALYTICS_DATABASE_ALIAS = None
    assert router.db_for_read(Analytics) == "default"
    assert router.db_for_write(Analytics) == "default"
    assert router.db_for_read(Character) == "default"


def test_with_a_replica_only_analytics_reads_move(settings):
    settings.ANALYTICS_DATABASE_ALIAS = "analytics"
    r = AnalyticsReplicaRouter()
    assert r.db_for_read(Analytics) == "analytics"
    assert r.db_for_read(Character) is None  # Django's default: "default"
    assert r.db_for_write(Analytics) == "default"
    assert r.allow_migrate("analytics", "analytics") is False
    assert r.allow_migrate("default", "analytics") is True


def test_router_is_installed(settings):
    assert "config.routers.AnalyticsReplicaRouter" in settings.DATABASE_ROUTERS


def test_replica_alias_comes_from_the_environment():
    import os
    import subprocess
    import sys

    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.ANALYTICS_DATABASE_ALIAS, s.DATABASES['analytics']['NAME'], "
        "s.DATABASES['analytics']['TEST']['MIRROR'], s.DBBACKUP_DATABASES)"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "ANALYTICS_DATABASE_URL": "postgres://reader@replica.internal:5432/ainfluencer",
    }
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out == ["analytics", "ainfluencer", "default", "['default']"]
