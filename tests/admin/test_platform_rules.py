"""The scheduled post form shows the platform's rule as a form error."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from platforms.models import ScheduledPost
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_the_admin_form_shows_the_platform_rule(administrator_client):
    account = f.PlatformAccountFactory(platform="instagram")
    response = administrator_client.post(
        reverse("admin:platforms_scheduledpost_add"),
        {
            "character": str(account.character_id),
            "platform_account": str(account.pk),
            "scheduled_at_0": (timezone.now() + dt.timedelta(days=1)).strftime(
                "%Y-%m-%d"
            ),
            "scheduled_at_1": "12:00:00",
            "timezone": "UTC",
            "caption": "only words",
            "post_type": "post",
            "max_retries": 3,
        },
    )
    assert response.status_code == 200
    assert "text-only posts are refused" in response.content.decode()
    assert not ScheduledPost.objects.exists()
