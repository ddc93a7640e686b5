"""Unknown filters and orderings are 400s naming the parameter; every API URL 404s in JSON."""

import pytest

from tests.factories import ScheduledPostFactory

pytestmark = pytest.mark.django_db


def test_an_unknown_filter_name_is_400_naming_it(admin_api):
    ScheduledPostFactory(status="scheduled")
    response = admin_api.get("/api/v1/scheduled-posts/", {"stauts": "failed"})
    assert response.status_code == 400
    body = response.json()
    assert list(body) == ["stauts"]
    assert "Unknown query parameter" in body["stauts"][0]
    assert "status" in body["stauts"][0]


def test_known_filters_lookups_and_pagination_still_work(admin_api):
    ScheduledPostFactory(status="scheduled")
    for params in (
        {"status": "scheduled"},
        {"page": 1, "page_size": 10},
        {"ordering": "-scheduled_at"},
        {"format": "json"},
    ):
        response = admin_api.get("/api/v1/scheduled-posts/", params)
        assert response.status_code == 200, (params, response.content)
    cursor = admin_api.get("/api/v1/posts/", {"page_size": 1})
    assert cursor.status_code == 200


def test_an_unknown_ordering_is_400_naming_the_allowed_ones(admin_api):
    response = admin_api.get("/api/v1/scheduled-posts/", {"ordering": "-password"})
    assert response.status_code == 400
    message = response.json()["ordering"][0]
    assert "-password" in message and "scheduled_at" in message


def test_the_series_action_takes_its_bucket_parameter(admin_api, character):
    response = admin_api.get(
        "/api/v1/analytics/series/",
        {
            "character": str(character.pk),
            "metric_type": "follower_count",
            "bucket": "week",
        },
    )
    assert response.status_code == 200, response.content
    bad = admin_api.get(
        "/api/v1/analytics/series/",
        {
            "character": str(character.pk),
            "metric_type": "follower_count",
            "buckett": "week",
        },
    )
    assert bad.status_code == 400 and "buckett" in bad.json()


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/content/0.5/approve/",
        "/api/v1/content/not-a-uuid/",
        "/api/v1/no-such-resource/",
        "/api/v1/characters/0.5/",
        "/api/nothing-here",
    ],
)
def test_every_unknown_api_url_is_a_json_404(admin_api, url):
    response = admin_api.get(url)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["detail"]


def test_a_json_404_also_without_credentials(client):
    response = client.get("/api/v1/content/0.5/approve/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_series_refuses_a_query_without_its_required_filters(admin_api, character):
    # the strict backend binds only the filters a query names; the required
    # ones are bound anyway: without them the series summed every character's
    # metrics of every type (all of `analytics`)
    for params, missing in (
        ({"metric_type": "follower_count"}, ["character"]),
        ({"character": str(character.pk)}, ["metric_type"]),
        ({}, ["character", "metric_type"]),
    ):
        response = admin_api.get("/api/v1/analytics/series/", params)
        assert response.status_code == 400, (params, response.content)
        body = response.json()
        assert sorted(body) == missing
        assert all(body[name] == ["This field is required."] for name in missing)
