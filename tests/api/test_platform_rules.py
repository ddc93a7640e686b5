"""Platform rules answer 400 naming the field when a post is scheduled."""

import datetime as dt

import pytest
from django.utils import timezone

from tests import factories as f

pytestmark = pytest.mark.django_db


def test_the_api_answers_400_naming_the_field(admin_api):
    account = f.PlatformAccountFactory(platform="twitter")
    response = admin_api.post(
        "/api/v1/scheduled-posts/",
        {
            "character": str(account.character_id),
            "platform_account": str(account.pk),
            "scheduled_at": (timezone.now() + dt.timedelta(hours=1)).isoformat(),
            "caption": "語" * 150,
            "post_type": "tweet",
        },
        format="json",
    )
    assert response.status_code == 400
    assert "280 weighted characters" in response.json()["caption"][0]


def test_a_post_created_through_the_api_meets_the_scheduling_rules(admin_api):
    account = f.PlatformAccountFactory(platform="instagram")
    body = {
        "character": str(account.character_id),
        "platform_account": str(account.pk),
        "content": str(
            f.ContentFactory(
                character=account.character, approved=True, content_type="image"
            ).pk
        ),
        "caption": "hello",
        "post_type": "post",
    }
    past = (timezone.now() - dt.timedelta(hours=2)).isoformat()
    refused = admin_api.post(
        "/api/v1/scheduled-posts/", {**body, "scheduled_at": past}, format="json"
    )
    assert refused.status_code == 400, refused.json()
    assert refused.json()["scheduled_at"] == ["Choose a time in the future."]
    # "now", a few seconds old on arrival: scheduled (not a database conflict)
    just_now = (timezone.now() - dt.timedelta(seconds=20)).isoformat()
    created = admin_api.post(
        "/api/v1/scheduled-posts/", {**body, "scheduled_at": just_now}, format="json"
    )
    assert created.status_code == 201, created.json()
    assert created.json()["status"] == "scheduled"
    other = f.ContentFactory(approved=True, content_type="image")
    refused = admin_api.post(
        "/api/v1/scheduled-posts/",
        {**body, "content": str(other.pk), "scheduled_at": just_now},
        format="json",
    )
    assert refused.status_code == 400
    assert "another character" in refused.json()["content"][0]
