"""The API reads a scheduled post's time without an offset on the post's own
clock (its zone, by default its character's) and answers in that zone."""

import datetime as dt

import pytest

from platforms.models import ScheduledPost
from tests.factories import CharacterFactory, ContentFactory, PlatformAccountFactory

BERLIN = "Europe/Berlin"


@pytest.fixture
def berlin_account(db):
    character = CharacterFactory(timezone=BERLIN)
    return PlatformAccountFactory(character=character, platform="telegram")


def test_the_api_reads_a_time_without_offset_in_the_posts_zone(
    admin_api, berlin_account
):
    content = ContentFactory(character=berlin_account.character, approved=True)
    response = admin_api.post(
        "/api/v1/scheduled-posts/",
        {
            "character": str(berlin_account.character_id),
            "platform_account": str(berlin_account.pk),
            "scheduled_at": "2026-12-24T19:00:00",
            "timezone": BERLIN,
            "content": str(content.pk),
            "caption": "Frohe Weihnachten",
            "post_type": "message",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["scheduled_at"] == "2026-12-24T19:00:00+01:00"
    assert body["timezone"] == BERLIN
    assert ScheduledPost.objects.get().scheduled_at == dt.datetime(
        2026, 12, 24, 18, 0, tzinfo=dt.UTC
    )


def test_the_api_defaults_a_posts_zone_to_its_characters(admin_api, berlin_account):
    response = admin_api.post(
        "/api/v1/scheduled-posts/",
        {
            "character": str(berlin_account.character_id),
            "platform_account": str(berlin_account.pk),
            "scheduled_at": "2038-07-01T09:00:00",
            "caption": "Sommer",
            "post_type": "message",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["timezone"] == BERLIN
    assert response.json()["scheduled_at"] == "2038-07-01T09:00:00+02:00"


def test_the_api_refuses_a_skipped_time_naming_the_field(admin_api, berlin_account):
    response = admin_api.post(
        "/api/v1/scheduled-posts/",
        {
            "character": str(berlin_account.character_id),
            "platform_account": str(berlin_account.pk),
            "scheduled_at": "2038-03-28T02:30:00",
            "caption": "x",
            "post_type": "message",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "does not exist" in response.json()["scheduled_at"][0]
