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
