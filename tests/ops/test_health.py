"""/health/: 200 when PostgreSQL and the broker answer, 503 with details when not."""

import pytest
from django.db import connections

pytestmark = pytest.mark.django_db


def test_healthy(client):
    response = client.get("/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"]["ok"] is True
    assert response["Cache-Control"].startswith("max-age=0")


def test_broker_down_gives_503_without_leaking_the_url(client, settings):
    settings.CELERY_BROKER_URL = "redis://:hunter2-broker-password@127.0.0.1:1/0"
    response = client.get("/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"] == {"ok": False, "error": "ConnectionError"}
    assert b"hunter2" not in response.content
    assert b"127.0.0.1" not in response.content


def test_database_down_gives_503(client, monkeypatch):
    def broken_cursor(*args, **kwargs):
        from django.db import OperationalError

        raise OperationalError("connection to server at 10.0.0.5 failed: password")

    monkeypatch.setattr(connections["default"], "cursor", broken_cursor)
    response = client.get("/health/")
    assert response.status_code == 503
    assert response.json()["checks"]["database"] == {
        "ok": False,
        "error": "OperationalError",
    }
    assert b"10.0.0.5" not in response.content


def test_no_login_and_exempt_from_the_ssl_redirect(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/health/").status_code == 200
    assert client.get("/admin/").status_code == 301
