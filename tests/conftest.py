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
def _clear_cache(settings):
    """Each test starts with an empty Redis cache (throttles, cached reads)
    and nothing of an API token kept in this process (config.api_gate),
    which keeps what it learns for the whole test: query counts must not
    depend on how long a slow machine takes between two requests (the
    tests of the bound itself set it)."""
    from config.api_gate import forget_all

    cache.clear()
    forget_all()
    settings.API_AUTH_CACHE_SECONDS = 600
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


SECRET_BYTES = b"SECRET-outside-media-root"


@pytest.fixture
def media_root(tmp_path, settings):
    """A MEDIA_ROOT with a safe image, and ways out of it to be refused.

    Outside the root: `outside/secret.png` (SECRET_BYTES). Inside: `ok/real.png`,
    `escape.png` (a symlink to the secret), `linkdir` (a symlink to `outside`).
    Returns (root, secret path).
    """
    root = tmp_path / "media"
    (root / "ok").mkdir(parents=True)
    (root / "ok" / "real.png").write_bytes(b"\x89PNG safe image bytes")
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.png"
    secret.write_bytes(SECRET_BYTES)
    (root / "escape.png").symlink_to(secret)
    (root / "linkdir").symlink_to(outside, target_is_directory=True)
    settings.MEDIA_ROOT = root
    return root, secret


# Every way a stored path could leave MEDIA_ROOT (with the fixture above).
UNSAFE_MEDIA_PATHS = [
    "../outside/secret.png",
    "ok/../../outside/secret.png",
    "/etc/passwd",
    "escape.png",
    "linkdir/secret.png",
    "ok/real.png\x00.txt",
    "ok\\..\\..\\outside\\secret.png",
    "~/secret.png",
]


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
