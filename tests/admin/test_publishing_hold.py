"""Publishing holds in the admin: pause, see it on the dashboard, review, lift."""

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from platforms.models import PublishingHold, ScheduledPost
from platforms.services import publishing_hold_place
from tests.admin.test_actions import messages_of, run_action
from tests.factories import ScheduledPostFactory


def due(**kwargs) -> ScheduledPost:
    sp = ScheduledPostFactory(**kwargs)
    ScheduledPost.objects.filter(pk=sp.pk).update(scheduled_at=sp.created_at)
    return sp


def test_staff_pause_publishing_from_the_admin_and_the_dashboard_says_so(
    operator_client, operator
):
    response = operator_client.post(
        reverse("admin:platforms_publishinghold_add"),
        {"kind": "manual", "reason": "Incident on the Telegram bot"},
    )
    assert response.status_code == 302
    hold = PublishingHold.objects.get()
    assert (hold.kind, hold.created_by, hold.lifted_at) == ("manual", operator, None)
    page = operator_client.get(reverse("admin:index")).content.decode()
    assert 'id="dashboard-hold"' in page
    assert "Publishing is on hold" in page and "Incident on the Telegram bot" in page


def test_the_review_page_counts_the_due_posts_and_links_to_them(operator_client):
    due()
    due()
    ScheduledPostFactory(scheduled_at=timezone.now() + dt.timedelta(hours=2))
    hold = publishing_hold_place(kind="restore", reason="restored from a backup")
    page = operator_client.get(
        reverse("admin:platforms_publishinghold_change", args=[hold.pk])
    ).content.decode()
    assert "2 post(s)</a> were due when this hold was placed" in page
    assert "status__in=scheduled%2Cprocessing" in page


def test_lifting_with_cancel_cancels_only_the_posts_that_were_due(operator_client):
    earlier = due()
    later_post = ScheduledPostFactory(
        scheduled_at=timezone.now() + dt.timedelta(hours=2)
    )
    hold = publishing_hold_place(kind="restore", reason="restored")
    response = run_action(operator_client, PublishingHold, "lift_cancel", [hold])
    assert messages_of(response) == ["1 hold(s) lifted. 1 due post(s) cancelled."]
    assert ScheduledPost.objects.get(pk=earlier.pk).status == "cancelled"
    assert ScheduledPost.objects.get(pk=later_post.pk).status == "scheduled"
    hold.refresh_from_db()
    assert hold.lifted_at and hold.lift_note == "1 due post(s) cancelled"
    page = operator_client.get(reverse("admin:index")).content.decode()
    assert 'id="dashboard-hold"' not in page


def test_analysts_cannot_lift_a_hold(analyst_client):
    hold = publishing_hold_place(kind="manual", reason="paused")
    page = analyst_client.get(reverse("admin:platforms_publishinghold_changelist"))
    assert page.status_code == 200 and b"lift_publish" not in page.content
    run_action(analyst_client, PublishingHold, "lift_publish", [hold])
    hold.refresh_from_db()
    assert hold.lifted_at is None
