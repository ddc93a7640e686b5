"""The gate (config.api_gate): a token this process knows costs no query and
one Redis round trip, and stops working the moment it is revoked, its user
deactivated or a permission withdrawn."""

import datetime as dt
import time

import pytest
import redis
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient
from rest_framework.throttling import UserRateThrottle

from config import api_gate
from config.api_tokens import api_tokens_revoke
from config.permissions import ANALYSTS, OPERATORS
from tests.factories import CharacterFactory, UserFactory
from tests.factories.users import api_token_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return UserFactory(groups=[Group.objects.get(name=OPERATORS)])


@pytest.fixture
def api(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_for(user)}")
    return client


@pytest.fixture
def round_trips(monkeypatch):
    """Counts what is sent to Redis (one send per command or script call)."""
    sent: list[object] = []
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self, command, check_health=True):
        sent.append(command)
        return original(self, command, check_health)

    monkeypatch.setattr(
        redis.connection.AbstractConnection, "send_packed_command", counting
    )
    return sent


def _commands(sent) -> list[bytes]:
    return [bytes(chunks[0]).split(b"\r\n")[2] for chunks in sent]


def _get(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    return response, len(ctx.captured_queries)


def test_a_known_token_and_a_cached_answer_cost_one_round_trip_and_no_query(
    api, round_trips
):
    detail = f"/api/v1/characters/{CharacterFactory().pk}/"
    first, first_queries = _get(api, detail)  # the token from the database
    assert first.status_code == 200
    assert first_queries >= 1
    api.get(detail)  # (Redis loads the gate's script once)
    round_trips.clear()
    second, queries = _get(api, detail)
    assert second.status_code == 200
    assert second.json() == first.json()
    assert second["ETag"] == first["ETag"]
    # versions, throttle and the cached answer in one script; no SQL at all
    assert queries == 0
    assert _commands(round_trips) == [b"EVALSHA"]


def test_a_list_costs_its_own_queries_only(api, round_trips):
    CharacterFactory.create_batch(2)
    api.get("/api/v1/characters/")
    api.get("/api/v1/characters/")
    round_trips.clear()
    response, queries = _get(api, "/api/v1/characters/")
    assert response.status_code == 200
    assert queries == 2  # COUNT and the page; no token, no permission query
    assert _commands(round_trips) == [b"EVALSHA"]


def test_a_revoked_token_is_refused_on_the_next_request(api, user):
    url = "/api/v1/characters/"
    assert api.get(url).status_code == 200
    assert api.get(url).status_code == 200  # from this process's memory
    api_tokens_revoke(user=user)
    assert api.get(url).status_code == 401


def test_the_revoke_endpoint_refuses_the_token_at_once(api):
    url = "/api/v1/characters/"
    assert api.get(url).status_code == 200
    assert api.get(url).status_code == 200
    assert api.post("/api/v1/auth/revoke/").status_code == 204
    assert api.get(url).status_code == 401


def test_a_deactivated_user_is_refused_on_the_next_request(api, user):
    url = "/api/v1/characters/"
    assert api.get(url).status_code == 200
    assert api.get(url).status_code == 200
    user.is_active = False
    user.save()
    assert api.get(url).status_code == 401


def test_a_withdrawn_permission_is_refused_on_the_next_request(api, user):
    url = "/api/v1/characters/"
    assert api.get(url).status_code == 200
    assert api.get(url).status_code == 200
    user.groups.set([])
    assert api.get(url).status_code == 403
    user.groups.set([Group.objects.get(name=ANALYSTS)])
    assert api.get(url).status_code == 200


def test_a_change_without_signals_counts_within_the_ttl(api, user, settings):
    """A QuerySet.update() sends no signal: the process notices it when its
    entry is older than API_AUTH_CACHE_SECONDS (2 s by default)."""
    settings.API_AUTH_CACHE_SECONDS = 0.5
    url = "/api/v1/characters/"
    assert api.get(url).status_code == 200
    type(user).objects.filter(pk=user.pk).update(is_active=False)
    assert api.get(url).status_code == 200  # within the bound: still known
    time.sleep(0.6)
    assert api.get(url).status_code == 401


def test_a_token_that_expires_is_refused_though_known(api, settings):
    settings.API_AUTH_CACHE_SECONDS = 60  # the expiry, not the TTL, decides
    AuthToken.objects.update(expiry=timezone.now() + dt.timedelta(seconds=1))
    url = "/api/v1/characters/"
    assert api.get(url).status_code == 200
    assert api.get(url).status_code == 200
    time.sleep(1.1)
    assert api.get(url).status_code == 401


def test_the_throttle_counts_in_the_gate(api, monkeypatch, round_trips):
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "3/min"})
    url = "/api/v1/characters/"
    codes = [api.get(url).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    round_trips.clear()
    assert api.get(url).status_code == 429
    assert _commands(round_trips) == [b"EVALSHA"]  # counted once, by the gate


def test_a_flushed_redis_makes_the_process_ask_the_database(api, user):
    url = "/api/v1/characters/"
    assert api.get(url).status_code == 200
    cache.clear()  # a Redis that lost everything: versions start afresh
    _, queries = _get(api, url)
    assert queries >= 3  # token, permissions, and the page again
    api_tokens_revoke(user=user)
    assert api.get(url).status_code == 401


def test_versions_start_from_the_clock_never_from_one(api):
    assert api.get("/api/v1/characters/").status_code == 200
    assert cache.get(api_gate.AUTH_VERSION_KEY) > 10**18
    assert cache.get(api_gate.PERMS_VERSION_KEY) > 10**18
