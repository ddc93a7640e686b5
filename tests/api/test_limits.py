"""Throttling and the body size limit answer with JSON errors, never 500."""

import pytest
from rest_framework.throttling import UserRateThrottle

pytestmark = pytest.mark.django_db


def test_authenticated_users_are_throttled(admin_api, monkeypatch):
    monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", {"user": "3/min"})
    codes = [admin_api.get("/api/v1/characters/").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    response = admin_api.get("/api/v1/characters/")
    assert "detail" in response.json()
    assert "Retry-After" in response.headers


def test_a_body_over_the_limit_is_refused(admin_api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = admin_api.post(
        "/api/v1/characters/", {"name": "x" * 5000}, format="json"
    )
    assert response.status_code in (400, 413)


def test_malformed_json_is_400(admin_api):
    response = admin_api.post(
        "/api/v1/characters/", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_an_integrity_error_that_reaches_the_database_is_409_not_500():
    from django.db import IntegrityError

    from config.api import exception_handler

    response = exception_handler(IntegrityError("duplicate key"), {})
    assert response.status_code == 409
    assert response.data["code"] == "integrity_error"
