"""A publishing worker keeps several calls in flight (PUBLISH_CALLS_IN_FLIGHT):
lanes, each a thread with its own connection, claims, journal and records."""

import pghistory
import pytest
from django.apps import apps

from logs.audit import door_of
from platforms.models import ScheduledPost
from platforms.publishing import QUEUE, publish_due_posts
from tests import factories as f
from tests.engine import adapters
from tests.engine.conftest import later

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def lanes(settings):
    settings.PUBLISH_CALLS_IN_FLIGHT = 3
    adapters.LANES.clear()
    return settings


def test_three_lanes_publish_every_post_exactly_once(lanes, due_post, use_adapter):
    use_adapter("LaneSenderAdapter")
    accounts = [f.PlatformAccountFactory() for _ in range(4)]
    posts = [
        due_post(platform_account=accounts[n % 4], content=None) for n in range(40)
    ]
    assert publish_due_posts(now=later(), batch=12) == 40
    assert len(adapters.LANES) > 1  # the calls went out from several lanes
    assert sorted(adapters.SENT) == sorted(str(p.pk) for p in posts)
    rows = ScheduledPost.objects.filter(pk__in=[p.pk for p in posts])
    assert {(r.status, r.attempt_count) for r in rows} == {("published", 1)}


def test_each_lane_claims_a_whole_batch(lanes, due_post, use_adapter, monkeypatch):
    """A batch's claim and load cost about the same for a few posts as for
    many: a lane claims as many as a worker of its own would."""
    use_adapter("LaneSenderAdapter")
    limits = []
    claim = QUEUE.claim

    def counted(*, limit, now=None):
        limits.append(limit)
        return claim(limit=limit, now=now)

    monkeypatch.setattr(QUEUE, "claim", counted)
    account = f.PlatformAccountFactory()
    for _ in range(5):
        due_post(platform_account=account, content=None)
    assert publish_due_posts(now=later(), batch=12) == 5
    assert limits and set(limits) == {12}


def test_a_lane_records_its_changes_through_the_callers_audit_door(
    lanes, due_post, use_adapter
):
    use_adapter("BadCredentialsAdapter")
    account = f.PlatformAccountFactory()
    due_post(platform_account=account, content=None)
    with pghistory.context(door="task", task="platforms.tasks.publish_due_posts"):
        publish_due_posts(now=later())
    event = (
        apps.get_model("logs", "PlatformAccountEvent")
        .objects.filter(pgh_obj_id=account.pk, connection_status="error")
        .get()
    )
    assert door_of(event) == "task"
    assert event.pgh_context["task"] == "platforms.tasks.publish_due_posts"
