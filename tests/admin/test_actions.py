"""Admin actions call the services, change rows in bulk and say how many."""

import datetime as dt

from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from automation.models import AutomationRule, AutomationRun
from content.models import Content, ContentGeneration
from logs.models import SystemLog
from platforms.models import EngagementAction, PlatformAccount, ScheduledPost
from tests.factories import (
    AutomationRuleFactory,
    ContentFactory,
    ContentGenerationFactory,
    EngagementActionFactory,
    PlatformAccountFactory,
    ScheduledPostFactory,
)


def changelist(model) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")


def run_action(client, model, action, objs, **extra):
    data = {"action": action, "_selected_action": [str(o.pk) for o in objs], **extra}
    return client.post(changelist(model), data)


def messages_of(response) -> list[str]:
    """The messages added while handling this request (not older ones)."""
    return [str(m) for m in get_messages(response.wsgi_request)._queued_messages]


def test_approve_changes_pending_rows_and_reports_the_count(
    administrator_client, character
):
    pending = ContentFactory.create_batch(3, character=character)
    already = ContentFactory(character=character, approved=True)

    response = run_action(administrator_client, Content, "approve", [*pending, already])

    assert response.status_code == 302
    assert Content.objects.filter(approval_status="approved").count() == 4
    assert all(c.is_approved for c in Content.objects.all())
    assert messages_of(response) == [
        "3 content approved. 1 skipped (not in a state that allows it)."
    ]
    audit = SystemLog.objects.filter(component="content_service")
    assert audit.count() == 3
    assert {a.metadata["by"]["actor"] for a in audit} == {"admin-ann"}


def test_approve_runs_a_constant_number_of_queries(administrator_client, character):
    few = ContentFactory.create_batch(2, character=character)
    many = ContentFactory.create_batch(20, character=character)
    run_action(
        administrator_client,
        Content,
        "mark_nsfw",
        [ContentFactory(character=character)],
    )

    with CaptureQueriesContext(connection) as small:
        run_action(administrator_client, Content, "approve", few)
    with CaptureQueriesContext(connection) as big:
        run_action(administrator_client, Content, "approve", many)
    assert len(big) == len(small)


def test_reject_asks_for_a_reason_first(administrator_client, character):
    rows = ContentFactory.create_batch(2, character=character)

    page = run_action(administrator_client, Content, "reject", rows)
    assert page.status_code == 200
    assert b'name="reason"' in page.content
    assert page.content.count(b'name="_selected_action"') == 2
    assert not Content.objects.filter(approval_status="rejected").exists()

    empty = run_action(
        administrator_client, Content, "reject", rows, apply="Reject", reason=" "
    )
    assert empty.status_code == 200
    assert b"errorlist" in empty.content
    assert not Content.objects.filter(approval_status="rejected").exists()

    done = run_action(
        administrator_client,
        Content,
        "reject",
        rows,
        apply="Reject",
        reason="Blurry face",
    )
    assert done.status_code == 302
    assert messages_of(done) == ["2 content rejected."]
    assert set(Content.objects.values_list("rejection_reason", flat=True)) == {
        "Blurry face"
    }


def test_mark_nsfw(administrator_client, character):
    rows = ContentFactory.create_batch(2, character=character)
    response = run_action(administrator_client, Content, "mark_nsfw", rows)
    assert Content.objects.filter(is_nsfw=True).count() == 2
    assert messages_of(response) == ["2 content marked NSFW."]


def test_generations_cancel_and_retry(administrator_client, character):
    jobs = ContentGenerationFactory.create_batch(2, character=character)
    done = ContentGenerationFactory(character=character, status="completed")

    response = run_action(
        administrator_client, ContentGeneration, "cancel", [*jobs, done]
    )
    assert messages_of(response)[0].startswith("2 content generations cancelled.")
    assert ContentGeneration.objects.filter(status="cancelled").count() == 2

    response = run_action(administrator_client, ContentGeneration, "retry", jobs)
    assert messages_of(response) == ["2 content generations queued again."]
    assert ContentGeneration.objects.filter(status="pending").count() == 2


def test_scheduled_post_actions(administrator_client, account):
    posts = ScheduledPostFactory.create_batch(3, platform_account=account)
    failed = ScheduledPostFactory(platform_account=account, status="failed")

    response = run_action(administrator_client, ScheduledPost, "publish_now", posts[:1])
    assert messages_of(response) == ["1 scheduled post set to publish now."]
    posts[0].refresh_from_db()
    assert posts[0].scheduled_at <= timezone.now()

    response = run_action(
        administrator_client, ScheduledPost, "retry_failed", [failed, posts[1]]
    )
    assert messages_of(response)[0].startswith("1 scheduled post queued again.")
    failed.refresh_from_db()
    assert failed.status == "scheduled"

    response = run_action(administrator_client, ScheduledPost, "cancel", posts[1:])
    assert messages_of(response) == ["2 scheduled posts cancelled."]
    assert ScheduledPost.objects.filter(status="cancelled").count() == 2


def test_reschedule_takes_a_future_time_from_a_form(administrator_client, account):
    posts = ScheduledPostFactory.create_batch(2, platform_account=account)

    form = run_action(administrator_client, ScheduledPost, "reschedule", posts)
    assert form.status_code == 200 and b'type="datetime-local"' in form.content

    past = run_action(
        administrator_client,
        ScheduledPost,
        "reschedule",
        posts,
        apply="1",
        scheduled_at="2020-01-01T10:00",
    )
    assert past.status_code == 200 and b"Choose a time in the future" in past.content

    garbage = run_action(
        administrator_client,
        ScheduledPost,
        "reschedule",
        posts,
        apply="1",
        scheduled_at="soon",
    )
    assert garbage.status_code == 200 and b"errorlist" in garbage.content

    when = (timezone.now() + dt.timedelta(days=3)).replace(second=0, microsecond=0)
    done = run_action(
        administrator_client,
        ScheduledPost,
        "reschedule",
        posts,
        apply="1",
        scheduled_at=when.strftime("%Y-%m-%dT%H:%M"),
    )
    assert done.status_code == 302
    assert messages_of(done) == ["2 scheduled posts rescheduled."]
    assert set(ScheduledPost.objects.values_list("scheduled_at", flat=True)) == {when}


def test_engagement_cancel_and_retry(administrator_client, account):
    actions = EngagementActionFactory.create_batch(2, platform_account=account)
    response = run_action(administrator_client, EngagementAction, "cancel", actions)
    assert messages_of(response) == ["2 engagement actions cancelled."]
    response = run_action(administrator_client, EngagementAction, "retry", actions)
    assert messages_of(response) == ["2 engagement actions queued again."]
    assert EngagementAction.objects.filter(status="pending").count() == 2


def test_account_disconnect_and_resync(administrator_client, account):
    other = PlatformAccountFactory(character=account.character, platform="twitter")
    other.last_synced_at = timezone.now()
    PlatformAccount.objects.filter(pk=other.pk).update(last_synced_at=timezone.now())

    response = run_action(
        administrator_client, PlatformAccount, "disconnect", [account]
    )
    assert messages_of(response) == ["1 platform account disconnected."]
    account.refresh_from_db()
    assert not account.is_connected and account.connection_status == "disconnected"

    response = run_action(administrator_client, PlatformAccount, "mark_resync", [other])
    assert messages_of(response) == ["1 platform account marked for re-sync."]
    other.refresh_from_db()
    assert other.last_synced_at is None


def test_resume_publishing_after_reconnecting(administrator_client, account):
    PlatformAccount.objects.filter(pk=account.pk).update(
        connection_status="error", is_connected=False
    )
    waiting = ScheduledPostFactory(
        platform_account=account, error_message="Waiting: the account's credentials"
    )
    failed = ScheduledPostFactory(
        platform_account=account,
        status="failed",
        error_message="The account is disconnected; connect it, then retry the post.",
    )
    unknown = ScheduledPostFactory(
        platform_account=account,
        status="failed",
        error_message="Outcome unknown: a worker stopped while publishing",
    )

    response = run_action(
        administrator_client, PlatformAccount, "resume_publishing", [account]
    )

    assert messages_of(response) == ["1 platform account resumed."]
    account.refresh_from_db()
    assert (account.connection_status, account.is_connected) == ("connected", True)
    states = {
        sp.pk: (sp.status, sp.error_message)
        for sp in ScheduledPost.objects.filter(platform_account=account)
    }
    assert states[waiting.pk] == ("scheduled", None)
    assert states[failed.pk] == ("scheduled", None)
    assert states[unknown.pk][0] == "failed"  # never resent without a person


def test_rule_enable_disable_and_run_now(
    administrator_client, character, monkeypatch, django_capture_on_commit_callbacks
):
    sent = []
    monkeypatch.setattr(
        "automation.services.celery_app.send_task",
        lambda name, kwargs: sent.append((name, kwargs)),
    )
    rules = AutomationRuleFactory.create_batch(2, character=character)

    response = run_action(administrator_client, AutomationRule, "disable", rules)
    assert messages_of(response) == ["2 automation rules disabled."]
    response = run_action(administrator_client, AutomationRule, "enable", rules[:1])
    assert messages_of(response) == ["1 automation rule enabled."]

    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(administrator_client, AutomationRule, "run_now", rules)
    run = AutomationRun.objects.get()
    rule_page = reverse("admin:automation_automationrule_change", args=[rules[0].pk])
    assert messages_of(response) == [
        "Run queued. Its outcome (posts scheduled, or why not) appears under "
        f'<a href="{rule_page}#runs">the rule\'s latest runs</a> when a worker has '
        "run it, usually within a minute. 1 disabled (enable them first)."
    ]
    assert (run.rule_id, run.trigger, run.status) == (rules[0].pk, "manual", "queued")
    assert sent == [
        (
            "automation.tasks.run_rule",
            {"rule_id": str(rules[0].pk), "trigger": "manual", "run_id": str(run.pk)},
        )
    ]
    # a second "Run now" while that run is queued leaves the rule alone
    response = run_action(administrator_client, AutomationRule, "run_now", rules[:1])
    assert messages_of(response) == [
        "No run queued. 1 already had a run queued or running (left alone)."
    ]
    assert AutomationRun.objects.count() == 1 and len(sent) == 1


def test_bulk_delete_on_a_big_table_refuses_select_across(administrator_client):
    from logs.models import SystemLog as Log
    from tests.factories import SystemLogFactory

    logs = SystemLogFactory.create_batch(3)
    across = administrator_client.post(
        changelist(Log),
        {
            "action": "delete_selected",
            "select_across": "1",
            "index": "0",
            # The page's own boxes are ticked too, as the admin's script does.
            "_selected_action": [str(x.pk) for x in logs],
        },
    )
    assert across.status_code == 302
    assert "not on every matching row" in messages_of(across)[0]
    assert Log.objects.count() == 3

    confirm = administrator_client.post(
        changelist(Log),
        {"action": "delete_selected", "_selected_action": [str(logs[0].pk)]},
    )
    assert confirm.status_code == 200 and b"Are you sure" in confirm.content
    done = administrator_client.post(
        changelist(Log),
        {
            "action": "delete_selected",
            "_selected_action": [str(logs[0].pk)],
            "post": "yes",
        },
    )
    assert done.status_code == 302
    assert Log.objects.count() == 2
