"""E-mail notifications: at once or in a daily digest, per user, for the
events they chose; the producers' events that reach people."""

import datetime as dt
import smtplib
import zoneinfo

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction

from config.models import UserPreferences
from config.periodic import PERIODIC_TASKS, Every
from logs import events as events_module
from logs.events import emit
from logs.models import Event, Notification
from logs.notifications import SEND_TASK, consume, send_digests, send_notifications
from logs.outbox import dispatch_events
from platforms.services import platform_account_mark_error
from tests import factories as f

pytestmark = pytest.mark.django_db
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


class BrokenBackend(BaseEmailBackend):
    """An SMTP server that refuses everything."""

    def send_messages(self, email_messages):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


def _user(mode, events=None, **prefs):
    user = f.UserFactory()
    UserPreferences.objects.create(
        user=user,
        email_notifications=mode,
        notification_events=events or ["post_failed", "generation_failed"],
        **prefs,
    )
    return user


def _failed(character, error="The platform refused the caption."):
    return emit(
        "post_failed",
        {
            "scheduled_post_id": "7c1c8a52-5f3e-4bd4-9d0e-2b1a7c1f0e11",
            "platform_account_id": "3f6e4c1a-2a57-4a0b-9b16-1a7d2f9e5c21",
            "platform": "instagram",
            "error": error,
        },
        character_id=character.pk,
    )


def test_an_immediate_user_gets_one_email_per_run(character):
    user = _user("immediate")
    _failed(character)
    dispatch_events()
    assert send_notifications() == {"sent": 1}
    [message] = mail.outbox
    assert message.to == [user.email]
    assert message.subject == "[AInfluencer] Post failed"
    assert character.name in message.body
    assert "a post on instagram failed: The platform refused" in message.body
    notification = Notification.objects.get()
    assert notification.status == "sent" and notification.sent_at is not None
    assert send_notifications() == {}  # nothing more to send
    assert len(mail.outbox) == 1

    _failed(character, "Another refusal.")
    emit("generation_failed", {"generation_id": "g1", "error": "GPU gone"})
    dispatch_events()
    send_notifications()
    assert mail.outbox[1].subject == "[AInfluencer] 2 events"
    assert "Another refusal." in mail.outbox[1].body
    assert "GPU gone" in mail.outbox[1].body


def test_who_gets_nothing(character):
    _user("off")
    _user("immediate", events=["backup_failed"])  # not this event
    no_address = _user("immediate")
    no_address.email = ""
    no_address.save()
    gone = _user("immediate")
    gone.is_active = False
    gone.save()
    listening = _user("immediate")
    _failed(character)
    dispatch_events()
    assert list(Notification.objects.values_list("user_id", flat=True)) == [
        listening.pk
    ]


def test_the_same_event_twice_is_one_email(character):
    _user("immediate")
    event = _failed(character)
    dispatch_events()
    Event.objects.filter(pk=event.pk).update(status="pending")
    dispatch_events()
    assert Notification.objects.count() == 1
    send_notifications()
    assert len(mail.outbox) == 1


def test_the_digest_goes_out_once_a_day_at_the_users_hour(character):
    user = _user("digest", digest_hour=8, timezone="Europe/Berlin")
    _failed(character)
    _failed(character, "A second refusal.")
    dispatch_events()
    assert send_notifications() == {}  # digest users wait
    day = dt.datetime(2026, 12, 1, tzinfo=BERLIN)

    assert send_digests(now=day.replace(hour=7, minute=59)) == {}
    assert mail.outbox == []
    assert send_digests(now=day.replace(hour=8, minute=5)) == {"sent": 1}
    [digest] = mail.outbox
    assert digest.to == [user.email]
    assert digest.subject == "[AInfluencer] Daily digest: 2 event(s)"
    assert "A second refusal." in digest.body and "Europe/Berlin" in digest.body
    assert send_digests(now=day.replace(hour=9, minute=5)) == {}

    _failed(character, "Tomorrow's news.")
    dispatch_events()
    next_day = day + dt.timedelta(days=1)
    assert send_digests(now=next_day.replace(hour=8, minute=1)) == {"sent": 1}
    assert "Tomorrow's news." in mail.outbox[1].body
    assert "A second refusal." not in mail.outbox[1].body


def test_a_refused_email_is_tried_again_then_given_up(settings, character):
    settings.EMAIL_BACKEND = f"{__name__}.BrokenBackend"
    settings.NOTIFICATION_MAX_ATTEMPTS = 2
    _user("immediate")
    _failed(character)
    dispatch_events()
    assert send_notifications() == {"retry": 1}
    notification = Notification.objects.get()
    assert notification.status == "pending" and notification.attempt_count == 1
    assert "SMTPServerDisconnected" in notification.error_message
    assert send_notifications() == {"failed": 1}
    assert Notification.objects.get().status == "failed"
    assert send_notifications() == {}


def test_credentials_in_an_error_never_reach_the_email(character):
    _user("immediate")
    _failed(character, "Refused: access_token=EAAB-secret-token-value")
    dispatch_events()
    send_notifications()
    assert "EAAB-secret-token-value" not in mail.outbox[0].body
    assert "[redacted]" in mail.outbox[0].body


def test_a_refused_token_refresh_asks_for_attention_once(account):
    platform_account_mark_error(account_id=account.pk, message="Token refresh failed")
    platform_account_mark_error(account_id=account.pk, message="Token refresh failed")
    [event] = Event.objects.filter(name="account_needs_attention")
    assert event.character_id == account.character_id
    assert event.payload == {
        "platform_account_id": str(account.pk),
        "platform": "instagram",
        "reason": "Token refresh failed",
    }
    account.refresh_from_db()
    assert account.connection_status == "error" and not account.is_connected


def test_the_sender_is_kicked_after_commit_and_beat_runs_the_rest(
    monkeypatch, django_capture_on_commit_callbacks, character
):
    sent = []
    monkeypatch.setattr(
        events_module.celery_app, "send_task", lambda name, **kw: sent.append(name)
    )
    monkeypatch.setattr(events_module, "_task_covered", {})
    events_module._redis().delete(f"kick:{SEND_TASK}", f"kick:{SEND_TASK}:later")
    _user("immediate")
    _user("digest")
    event = _failed(character)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        consume([event])(event)
        assert sent == []
    assert sent == [SEND_TASK]
    schedules = {p.task: p.schedule for p in PERIODIC_TASKS}
    assert schedules[SEND_TASK] == Every(60)
    assert schedules["logs.tasks.send_notification_digests"] == Every(3600)
    assert schedules["logs.tasks.deliver_webhooks"] == Every(60)


def test_what_waited_for_the_digest_goes_out_once_the_user_switches_to_at_once(
    character,
):
    user = _user("digest")
    _failed(character, "Waited for the digest.")
    dispatch_events()
    assert send_notifications() == {}
    UserPreferences.objects.filter(user=user).update(email_notifications="immediate")
    assert send_notifications() == {"sent": 1}
    assert "Waited for the digest." in mail.outbox[0].body
    assert not mail.outbox[0].subject.startswith("[AInfluencer] Daily digest")
