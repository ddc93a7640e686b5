import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from platforms.adapters import DRY_RUN_ADAPTER
from tests import factories as f
from tests.engine import adapters


@pytest.fixture(autouse=True)
def _reset_sent():
    adapters.SENT.clear()
    yield


@pytest.fixture(autouse=True)
def _dry_run_on_every_platform(settings):
    """Engine tests publish through the dry-run adapter on every platform unless
    a test picks another (use_adapter, settings.PLATFORM_ADAPTERS): what they
    show must not hang on .env's DEBUG or on which platforms have an adapter
    yet. Assisted publishing (no adapter) has its own tests."""
    settings.PLATFORM_ADAPTERS = {"*": DRY_RUN_ADAPTER}


@pytest.fixture
def use_adapter(settings):
    def use(name: str):
        settings.PLATFORM_ADAPTERS = {"*": f"tests.engine.adapters.{name}"}

    return use


@pytest.fixture
def due_post(db):
    """A scheduled post with approved content whose time has come."""

    def make(**kwargs):
        sp = f.ScheduledPostFactory(**kwargs)
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE scheduled_posts SET scheduled_at = created_at WHERE id = %s",
                [sp.pk],
            )
        sp.refresh_from_db()
        return sp

    return make


def later(seconds=1):
    return timezone.now() + dt.timedelta(seconds=seconds)
