"""GET /api/v1/platform-accounts/{id}/best-times/: the selector's answer."""

import datetime as dt
import zoneinfo

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import CharacterFactory, PlatformAccountFactory, PostFactory


def _posts(account, count, *, hour, engagement, zone="Europe/Berlin"):
    tz = zoneinfo.ZoneInfo(zone)
    today = timezone.now().astimezone(tz).replace(minute=0, second=0, microsecond=0)
    for n in range(count):
        PostFactory(
            platform_account=account,
            content=None,
            published_at=(today - dt.timedelta(days=n + 1)).replace(hour=hour),
            likes_count=engagement,
            comments_count=0,
            shares_count=0,
        )


def test_it_answers_the_best_hours_with_their_evidence(admin_api, db):
    account = PlatformAccountFactory(
        character=CharacterFactory(timezone="Europe/Berlin")
    )
    _posts(account, 12, hour=19, engagement=300)
    _posts(account, 12, hour=8, engagement=100)
    url = f"/api/v1/platform-accounts/{account.pk}/best-times/"

    admin_api.get(url)  # permissions cached
    with CaptureQueriesContext(connection) as ctx:
        response = admin_api.get(url)

    assert response.status_code == 200
    body = response.json()
    assert body["account"] == str(account.pk)
    assert body["timezone"] == "Europe/Berlin"
    assert body["posts"] == 24 and body["minimum"] == 20
    assert body["has_suggestion"] is True and body["reason"] == ""
    assert body["hours"][0] == {
        "value": 19,
        "name": "19:00",
        "posts": 12,
        "average": 300.0,
        "lift": 1.5,
    }
    assert [h["value"] for h in body["hours"]] == [19, 8]
    assert all(w["name"] for w in body["weekdays"])
    # the account, the aggregation (the token: from the process's memory
    # after the first request, config.api_gate)
    assert len(ctx.captured_queries) == 2


def test_too_few_posts_is_an_answer_without_suggestion(analyst_api, db):
    account = PlatformAccountFactory()
    _posts(account, 5, hour=12, engagement=10, zone="UTC")

    body = analyst_api.get(f"/api/v1/platform-accounts/{account.pk}/best-times/").json()

    assert body["has_suggestion"] is False
    assert body["hours"] == [] and body["weekdays"] == []
    assert body["posts"] == 5
    assert "5 in the last 180 days, 20 needed" in body["reason"]


def test_an_unknown_account_is_a_404(admin_api, db):
    response = admin_api.get(
        "/api/v1/platform-accounts/00000000-0000-0000-0000-000000000000/best-times/"
    )
    assert response.status_code == 404
