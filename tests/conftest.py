"""Shared fixtures. Tests run against the real PostgreSQL (and Redis) that
`make test` starts; nothing here substitutes SQLite or a local-memory cache."""

import pytest
from django.core.cache import cache
from django.test import override_settings


@pytest.fixture(autouse=True, scope="session")
def _media_root(tmp_path_factory):
    """A MEDIA_ROOT of the test session's own (factories write files there),
    never the development media folder."""
    with override_settings(MEDIA_ROOT=tmp_path_factory.mktemp("media")):
        yield


@pytest.fixture(autouse=True)
def _clear_cache():
    """Each test starts with an empty Redis cache (throttles, cached reads)."""
    cache.clear()
    yield


DRY_RUN = "platforms.adapters.dryrun.DryRunAdapter"


@pytest.fixture
def dry_run(settings):
    """Every platform publishes through the dry-run adapter. Said explicitly:
    the default adapter follows DEBUG, which only a developer's .env turns on."""
    settings.PLATFORM_ADAPTERS = {"*": DRY_RUN}


@pytest.fixture
def character(db):
    from tests.factories import CharacterFactory

    return CharacterFactory()


@pytest.fixture
def account(db, character):
    from tests.factories import PlatformAccountFactory

    return PlatformAccountFactory(character=character, platform="instagram")
