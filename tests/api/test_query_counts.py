"""No N+1: every list and detail costs the same with 2 rows as with 30."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests import factories as f

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    ("characters", f.CharacterFactory),
    ("content", f.ContentFactory),
    ("generations", f.ContentGenerationFactory),
    ("text-generations", f.TextGenerationFactory),
    ("platform-accounts", f.PlatformAccountFactory),
    ("posts", f.PostFactory),
    ("scheduled-posts", f.ScheduledPostFactory),
    ("automation-rules", f.AutomationRuleFactory),
    ("engagement-actions", f.EngagementActionFactory),
    ("analytics", f.AnalyticsFactory),
    ("system-logs", f.SystemLogFactory),
    ("webhooks", f.WebhookFactory),
    # each delivery of its own webhook: the join costs no query per row
    ("webhook-deliveries", f.WebhookDeliveryFactory),
]


def _count(client, url):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(ctx.captured_queries), response.json()


@pytest.mark.parametrize(("resource", "factory"), ENDPOINTS)
def test_list_and_detail_cost_the_same_for_2_and_30_rows(admin_api, resource, factory):
    url = f"/api/v1/{resource}/"
    rows = factory.create_batch(2)
    admin_api.get(url)  # the user's permissions are read once, then cached
    few, body = _count(admin_api, url)
    assert len(body["results"]) >= 2
    detail_few, _ = _count(admin_api, f"{url}{rows[0].pk}/")

    factory.create_batch(28)
    many, body = _count(admin_api, url)
    assert len(body["results"]) >= 30
    # another row: a character's detail is cached after its first read
    detail_many, _ = _count(admin_api, f"{url}{rows[1].pk}/")

    assert many == few
    assert detail_many == detail_few
    # token+user, the rows (+ a COUNT on page-number lists); permissions cached
    assert few <= 3
