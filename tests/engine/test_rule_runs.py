"""Rule runs happen once: "Run now" once per rule at a time, a slot once."""

import datetime as dt
import threading

import pytest
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from automation.models import AutomationRule, AutomationRun
from automation.runs import run_rule
from automation.services import automation_rules_run_now
from platforms.models import ScheduledPost
from tests import factories as f


@pytest.fixture
def rule(db):
    """An enabled schedule rule with approved content and a connected account."""
    character = f.CharacterFactory()
    f.PlatformAccountFactory(
        character=character, platform="instagram", auto_posting_enabled=True
    )
    f.ContentFactory.create_batch(
        3, character=character, content_type="image", approved=True, quality_score=1
    )
    return f.AutomationRuleFactory(
        character=character,
        trigger_type="schedule",
        trigger_config={"cron": "0 * * * *"},
        platforms=["instagram"],
        content_type="image",
        cooldown_minutes=0,
        max_posts_per_day=None,
        max_posts_per_week=None,
        min_content_quality=0,
    )


def test_a_replayed_slot_creates_nothing(rule):
    slot = timezone.now().replace(minute=0, second=0, microsecond=0)
    first = run_rule(rule.pk, trigger="schedule", scheduled_for=slot)
    assert first.outcome == "scheduled" and len(first.scheduled) == 1
    again = run_rule(rule.pk, trigger="schedule", scheduled_for=slot)
    assert again.outcome == "skipped" and "same slot" in again.reason
    assert ScheduledPost.objects.filter(automation_rule=rule).count() == 1
    run = AutomationRun.objects.get(rule=rule)
    assert (run.status, run.outcome, run.scheduled_count) == ("done", "scheduled", 1)
    # the next slot is a new run
    nxt = run_rule(
        rule.pk, trigger="schedule", scheduled_for=slot + dt.timedelta(hours=1)
    )
    assert nxt.outcome == "scheduled"


def test_a_redelivered_event_creates_nothing(rule):
    AutomationRule.objects.filter(pk=rule.pk).update(
        trigger_type="event", trigger_config={"event": "post_published"}
    )
    event = {
        "event": "post_published",
        "event_id": "0d6c2b8e-5f1a-4c3b-9e7d-2a1b3c4d5e6f",
        "payload": {"post_id": "b5a4f0a2-1c3d-4e5f-8a9b-0c1d2e3f4a5b"},
    }
    assert run_rule(rule.pk, trigger="event", **event).outcome == "scheduled"
    again = run_rule(rule.pk, trigger="event", **event)
    assert again.outcome == "skipped"
    assert ScheduledPost.objects.filter(automation_rule=rule).count() == 1


def test_the_same_payload_in_a_later_event_is_a_new_run(rule):
    """The key is the event, not its payload: content approved, rejected and
    approved again is two approvals."""
    AutomationRule.objects.filter(pk=rule.pk).update(
        trigger_type="event", trigger_config={"event": "content_approved"}
    )
    payload = {"content_ids": []}
    for event_id in (
        "0d6c2b8e-5f1a-4c3b-9e7d-2a1b3c4d5e6f",
        "7e0a1b2c-3d4e-4f5a-8b6c-7d8e9f0a1b2c",
    ):
        result = run_rule(
            rule.pk,
            trigger="event",
            event="content_approved",
            event_id=event_id,
            payload=payload,
        )
        assert result.outcome == "scheduled"
    assert AutomationRun.objects.filter(rule=rule).count() == 2


def test_run_now_answers_409_while_a_run_is_queued_and_the_run_reports_its_outcome(
    rule, client, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr(
        "automation.services.celery_app.send_task",
        lambda name, kwargs: sent.append(kwargs),
    )
    admin = f.UserFactory(is_superuser=True, is_staff=True)
    client.force_login(admin)
    url = reverse("automationrule-run-now", args=[rule.pk])
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url).status_code == 202
        second = client.post(url)
    assert second.status_code == 409
    assert "already queued or running" in second.json()["detail"]
    assert len(sent) == 1
    result = run_rule(rule.pk, **{k: v for k, v in sent[0].items() if k != "rule_id"})
    assert result.outcome == "scheduled"
    run = AutomationRun.objects.get()
    assert (run.status, run.outcome, run.requested_by) == ("done", "scheduled", admin)
    # the same message delivered twice runs once
    again = run_rule(rule.pk, **{k: v for k, v in sent[0].items() if k != "rule_id"})
    assert again.outcome == "skipped"
    assert ScheduledPost.objects.filter(automation_rule=rule).count() == 1
    # done: run now is allowed again
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url).status_code == 202


def test_a_queued_manual_run_that_never_started_stops_blocking_after_15_minutes(rule):
    first = automation_rules_run_now(queryset=AutomationRule.objects.filter(pk=rule.pk))
    assert len(first) == 1
    assert automation_rules_run_now(
        queryset=AutomationRule.objects.filter(pk=rule.pk)
    ).busy == [rule.pk]
    AutomationRun.objects.update(created_at=timezone.now() - dt.timedelta(minutes=16))
    assert (
        len(
            automation_rules_run_now(queryset=AutomationRule.objects.filter(pk=rule.pk))
        )
        == 1
    )
    assert AutomationRun.objects.get(pk=first.queued[0].pk).status == "abandoned"


@pytest.mark.django_db(transaction=True)
def test_concurrent_run_now_calls_queue_one_run():
    rule = f.AutomationRuleFactory()
    barrier = threading.Barrier(4)
    results = []

    def call():
        try:
            barrier.wait()
            results.append(
                automation_rules_run_now(
                    queryset=AutomationRule.objects.filter(pk=rule.pk)
                )
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(len(r.queued) for r in results) == [0, 0, 0, 1]
    assert AutomationRun.objects.filter(rule=rule).count() == 1
