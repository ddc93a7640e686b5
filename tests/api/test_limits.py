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


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_a_body_nested_a_thousand_levels_deep_is_400(admin_api):
    response = admin_api.post(
        "/api/v1/characters/", _nested(1000), content_type="application/json"
    )
    assert response.status_code == 400
    assert "nested more than 32 levels" in response.json()["detail"]


def test_a_json_field_nested_deep_inside_a_body_is_400(admin_api, character):
    head = f'{{"character": "{character.pk}", "job_type": "image", "prompt": "x", '
    body = head + '"generation_settings": {"a": ' + _nested(5000) + "}}"
    response = admin_api.post(
        "/api/v1/generations/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_just_over_the_depth_limit_is_400_and_under_it_is_parsed(admin_api, settings):
    settings.JSON_MAX_DEPTH = 5
    over = admin_api.post(
        "/api/v1/characters/", _nested(6), content_type="application/json"
    )
    assert over.status_code == 400 and "5 levels" in over.json()["detail"]
    # parsed, then refused by the serializer for what it is (not JSON trouble)
    under = admin_api.post(
        "/api/v1/characters/", _nested(5), content_type="application/json"
    )
    assert under.status_code == 400 and under.json().get("code") != "parse_error"


def test_the_parser_refuses_an_oversized_stream_without_a_length(settings):
    """Django checks bodies with a Content-Length; a chunked one reaches the
    parser as a stream, which reads no more than the limit."""
    import io

    from config.api_parsers import LimitedJSONParser, PayloadTooLarge

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    stream = io.BytesIO(b'{"name": "%s"}' % (b"x" * 5000))
    with pytest.raises(PayloadTooLarge):
        LimitedJSONParser().parse(stream)
    assert LimitedJSONParser().parse(io.BytesIO(b'{"a": [1]}')) == {"a": [1]}
