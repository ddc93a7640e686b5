"""With Redis stopped, the API and the admin keep answering reads.

A real redis-server of the test's own is started, used, then stopped (its
process ends and its port refuses connections), and real requests go through
the whole stack: throttle, permission cache, character cache, dashboard.
"""

import logging

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from rest_framework.test import APIClient

from config.cache import outage
from config.permissions import OPERATORS
from tests.factories import CharacterFactory, UserFactory
from tests.factories.users import api_token_for
from tests.fakes.redis_server import ThrowawayRedis

pytestmark = pytest.mark.django_db
OUTAGE = "Redis is unreachable"


@pytest.fixture
def redis_server(tmp_path, settings):
    server = ThrowawayRedis(tmp_path)
    server.start()
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": server.url}
    }
    settings.REDIS_OUTAGE_RETRY_SECONDS = 0  # try Redis on every call: no wait
    outage.reset()
    yield server
    server.stop()
    outage.reset()


@pytest.fixture
def operator_api():
    user = UserFactory(groups=[Group.objects.get(name=OPERATORS)])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_for(user)}")
    return client


def _outage_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if OUTAGE in r.getMessage()]


def test_api_reads_keep_answering_while_redis_is_stopped(
    redis_server, operator_api, caplog
):
    character = CharacterFactory(name="Still Here")
    detail = f"/api/v1/characters/{character.pk}/"
    assert operator_api.get(detail).status_code == 200  # cached in Redis now
    assert cache.get(f"character:{character.pk}:api") is not None

    redis_server.stop()
    with caplog.at_level(logging.WARNING, logger="config.cache"):
        for _ in range(5):
            response = operator_api.get(detail)
            assert response.status_code == 200
            assert response.json()["name"] == "Still Here"
            listing = operator_api.get("/api/v1/characters/")
            assert listing.status_code == 200
            assert listing.json()["count"] == 1
    # one warning for the whole outage in this process, not one per request
    assert len(_outage_lines(caplog)) == 1

    redis_server.start()
    with caplog.at_level(logging.INFO, logger="config.cache"):
        assert operator_api.get(detail).status_code == 200
    assert any("answers again" in r.getMessage() for r in caplog.records)
    assert not outage.active


def test_the_throttle_fails_open_and_counts_again_when_redis_is_back(
    redis_server, operator_api, monkeypatch
):
    from rest_framework.throttling import UserRateThrottle

    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "2/min"})
    codes = [operator_api.get("/api/v1/characters/").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    redis_server.stop()
    # without Redis nothing can count: requests pass instead of failing
    codes = [operator_api.get("/api/v1/characters/").status_code for _ in range(4)]
    assert codes == [200] * 4
    redis_server.start()  # a fresh server: the counters start again
    codes = [operator_api.get("/api/v1/characters/").status_code for _ in range(3)]
    assert codes == [200, 200, 429]


def test_the_admin_and_its_dashboard_answer_with_the_engine_unknown(
    redis_server, client, caplog
):
    client.force_login(UserFactory(username="dash-dora", is_superuser=True))
    before = client.get("/admin/")
    assert before.status_code == 200
    assert b"unknown (Redis unreachable)" not in before.content

    redis_server.stop()
    with caplog.at_level(logging.WARNING, logger="config.cache"):
        for url in ("/admin/", "/admin/characters/character/", "/admin/"):
            response = client.get(url)
            assert response.status_code == 200, url
    assert b"unknown (Redis unreachable)" in response.content
    assert b"never ran" not in response.content
    assert len(_outage_lines(caplog)) == 1


def test_a_black_holed_redis_costs_one_timeout_per_retry_window(settings, caplog):
    """After a failure the process leaves Redis alone for the retry window."""
    from tests.fakes.redis_server import free_port

    settings.CACHES = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens
        }
    }
    settings.REDIS_OUTAGE_RETRY_SECONDS = 60
    outage.reset()
    calls = []
    try:
        from django.core.cache.backends.redis import RedisCache

        original = RedisCache.get

        def counting(self, *args, **kwargs):
            calls.append(1)
            return original(self, *args, **kwargs)

        RedisCache.get = counting
        assert [cache.get("k", "fallback") for _ in range(10)] == ["fallback"] * 10
    finally:
        RedisCache.get = original
        outage.reset()
    assert len(calls) == 1
