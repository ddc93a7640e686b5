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


CALLBACK = "/admin/platforms/platformaccount/oauth/callback/"


@pytest.fixture
def fake_oauth(settings):
    """A loopback fake of the platforms' authorization servers and identity
    endpoints (tests/fakes/oauth.py), with the settings pointing at it and the
    test client's callback registered."""
    from tests.fakes.oauth import FakeOAuth

    with FakeOAuth() as server:
        for name, value in server.settings().items():
            setattr(settings, name, value)
        settings.OAUTH_REDIRECT_URI = f"http://testserver{CALLBACK}"
        server.redirect_uri = settings.OAUTH_REDIRECT_URI
        yield server


@pytest.fixture
def oauth_account(fake_oauth, db):
    """connect(platform, **account fields): an account connected through the
    fake with the real flow (authorize, consent, code exchange, identity)."""
    from urllib.parse import parse_qs, urlsplit

    from platforms import oauth
    from platforms.services import platform_account_connect
    from tests.factories import PlatformAccountFactory

    def connect(platform: str, **fields):
        account = PlatformAccountFactory(
            platform=platform, auth_data=None, auth_type=None, **fields
        )
        provider = oauth.provider_for(platform)
        started = oauth.begin(provider)
        back = parse_qs(urlsplit(fake_oauth.approve(started.url)).query)
        done = oauth.complete(
            provider, code=back["code"][0], code_verifier=started.code_verifier
        )
        return platform_account_connect(
            account=account, auth_data=done.auth_data, identity=done.identity
        )

    return connect
