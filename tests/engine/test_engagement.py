"""The engagement queue."""

import datetime as dt

import pytest
from django.utils import timezone

from platforms.engagement import process_engagement_queue
from platforms.models import EngagementAction, PlatformAccount
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.mark.usefixtures("dry_run")
def test_pending_actions_complete_oldest_first():
    actions = f.EngagementActionFactory.create_batch(3)
    assert process_engagement_queue() == 3
    for action in actions:
        action.refresh_from_db()
        assert action.status == "completed" and action.completed_at <= timezone.now()


def test_failures_retry_then_fail(settings):
    settings.PLATFORM_ADAPTERS = {"*": "platforms.adapters.UnconfiguredAdapter"}
    action = f.EngagementActionFactory()
    process_engagement_queue()
    action.refresh_from_db()
    assert action.status == "failed" and "not configured" in action.error_message


def test_rate_limited_and_disabled_accounts_are_skipped():
    limited = f.EngagementActionFactory()
    PlatformAccount.objects.filter(pk=limited.platform_account_id).update(
        connection_status="rate_limited",
        rate_limit_reset_at=timezone.now() + dt.timedelta(hours=1),
    )
    off = f.EngagementActionFactory()
    PlatformAccount.objects.filter(pk=off.platform_account_id).update(
        auto_engagement_enabled=False
    )
    assert process_engagement_queue() == 0
    assert set(EngagementAction.objects.values_list("status", flat=True)) == {"pending"}
