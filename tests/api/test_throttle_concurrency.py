"""The throttle holds under concurrency: a burst from many threads gets exactly the limit."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from rest_framework.throttling import UserRateThrottle

from tests.factories import UserFactory
from tests.factories.users import api_token_for

pytestmark = pytest.mark.django_db(transaction=True)
LIMIT = 40


def test_concurrent_clients_get_exactly_the_limit(live_server, monkeypatch):
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": f"{LIMIT}/min"})
    token = api_token_for(UserFactory(username="burst-bert", is_superuser=True))
    url = f"{live_server.url}/api/v1/"

    def client(_):
        with requests.Session() as session:
            session.headers["Authorization"] = f"Token {token}"
            return [session.get(url, timeout=30).status_code for _ in range(15)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = [code for batch in pool.map(client, range(8)) for code in batch]
    assert len(codes) == 120
    assert codes.count(200) == LIMIT
    assert codes.count(429) == 120 - LIMIT
