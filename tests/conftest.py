"""Shared fixtures. Tests run against the real PostgreSQL (and Redis) that
`make test` starts; nothing here substitutes SQLite or a local-memory cache."""

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.core.cache import cache, caches
from django.test import override_settings

# --- pytest-xdist (`make test` runs two workers) ------------------------------
# pytest-django gives each worker its own test database (test_..._gw0, _gw1);
# Redis is shared, so each worker also gets its own Redis database: one
# worker's cache.clear(), throttle counters, heartbeats and Celery queues never
# meet the other's. Database 0 stays the application's (and a plain `pytest`
# run's), 2 is `make bench`'s.
XDIST_FIRST_REDIS_DB = 10
REDIS_DATABASES = 16  # Redis's default `databases`


def _redis_url_for_worker(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


def _own_redis_database_per_xdist_worker() -> None:
    """Point this worker's cache, broker and result backend, and the processes
    its tests start (they inherit os.environ), at the worker's Redis database.

    Runs when this conftest is imported: after pytest-django loaded the
    settings, before anything opened a cache connection or read Celery's
    configuration (both are lazy); it says so loudly if that ever changes."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    db = XDIST_FIRST_REDIS_DB + int(worker.removeprefix("gw"))
    if db >= REDIS_DATABASES:
        raise pytest.UsageError(
            f"xdist worker {worker} would need Redis database {db}: "
            f"run at most {REDIS_DATABASES - XDIST_FIRST_REDIS_DB} workers"
        )
    from config.celery import app

    if app.configured or hasattr(caches._connections, "default"):
        raise pytest.UsageError(
            "the cache or Celery was set up before tests/conftest.py could give "
            f"xdist worker {worker} its own Redis database"
        )
    shared = settings.REDIS_URL
    own = _redis_url_for_worker(shared, db)
    settings.REDIS_URL = own
    os.environ["REDIS_URL"] = own
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        if getattr(settings, name) == shared:
            setattr(settings, name, own)
            os.environ.pop(name, None)  # follows REDIS_URL in subprocesses
    for alias in settings.CACHES.values():
        if alias.get("LOCATION") == shared:
            alias["LOCATION"] = own
            os.environ.pop("CACHE_URL", None)


_own_redis_database_per_xdist_worker()


# Tests that must share one worker, with --dist loadgroup: each group's tests
# run one after the other on one worker, so an expensive module- or
# package-scoped fixture is built once (the PITR drill's clusters, Chromium)
# and the run's heaviest real-process tests do not fight each other for the
# two cores.
XDIST_GROUPS = {
    "tests/browser/": "browser",
    "tests/ops/test_pitr.py": "pitr",
}


def pytest_collection_modifyitems(config, items):
    root = Path(str(config.rootpath))
    for item in items:
        path = Path(str(item.path)).relative_to(root).as_posix()
        for prefix, group in XDIST_GROUPS.items():
            if path.startswith(prefix):
                item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(autouse=True, scope="session")
def _media_root(tmp_path_factory):
    """A MEDIA_ROOT of the test session's own (factories write files there),
    never the development media folder."""
    with override_settings(MEDIA_ROOT=tmp_path_factory.mktemp("media")):
        yield


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hasher():
    """Test users get a cheap password hash: the default PBKDF2's million
    rounds cost about 0.4 s of CPU per user, and the suite makes hundreds.
    Logging in still checks the password (the browser tests type it); the
    project's own hashers follow, so a hash made by another process (a
    manage.py the tests start) still checks."""
    fast = "django.contrib.auth.hashers.MD5PasswordHasher"
    with override_settings(PASSWORD_HASHERS=[fast, *settings.PASSWORD_HASHERS]):
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
def telegram_fake(settings):
    """A loopback fake of the Telegram Bot API (tests/fakes/telegram.py), with
    the Telegram adapter configured and pointed at it."""
    from tests.fakes.telegram import FakeTelegram

    with FakeTelegram() as server:
        settings.TELEGRAM_API_BASE = server.url
        settings.PLATFORM_ADAPTERS = {
            "telegram": "platforms.adapters.telegram.TelegramAdapter"
        }
        yield server


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
