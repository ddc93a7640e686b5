"""Outgoing webhooks: signed deliveries from a queue, retries with backoff,
a delivery log without secrets, and one delivery per event and webhook."""

import datetime as dt
import json
import logging
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from logs import events as events_module
from logs.events import emit
from logs.models import Event, SystemLog, Webhook, WebhookDelivery
from logs.notifications import consume
from logs.outbox import dispatch_events
from logs.webhook_rules import masked_url, url_problem
from logs.webhooks import (
    DELIVER_TASK,
    Message,
    body_for,
    deliver_webhooks,
    webhook_deliveries_retry,
    webhook_send_test,
)
from tests import factories as f
from tests.fakes.webhook_receiver import WebhookReceiver, closed_port_url, verify

pytestmark = pytest.mark.django_db
SECRET = "whsec-0123456789abcdef-XYZ"
DS = WebhookDelivery.Status


def _failed_post(character):
    return emit(
        "post_failed",
        {
            "scheduled_post_id": "7c1c8a52-5f3e-4bd4-9d0e-2b1a7c1f0e11",
            "platform_account_id": "3f6e4c1a-2a57-4a0b-9b16-1a7d2f9e5c21",
            "platform": "instagram",
            "error": "The platform refused the caption.",
        },
        character_id=character.pk,
    )


def _due_again():
    """The backoff has passed (instead of waiting for it)."""
    WebhookDelivery.objects.filter(status=DS.PENDING).update(
        locked_until=timezone.now() - dt.timedelta(seconds=1)
    )


def test_the_receiver_gets_a_signed_delivery_of_the_event(loopback_webhooks, character):
    with WebhookReceiver(SECRET) as receiver:
        hook = f.WebhookFactory(
            url=f"{receiver.url}/hook", secret=SECRET, events=["post_failed"]
        )
        event = _failed_post(character)
        assert dispatch_events()["done"] == 1
        assert deliver_webhooks() == {"delivered": 1}

    [call] = receiver.calls
    assert call["method"] == "POST" and call["path"] == "/hook"
    assert call["signed"] is True
    delivery = WebhookDelivery.objects.get()
    assert call["headers"]["X-AInfluencer-Event"] == "post_failed"
    assert call["headers"]["X-AInfluencer-Delivery"] == str(delivery.pk)
    body = call["json"]
    assert body["event"] == "post_failed" and body["event_id"] == str(event.pk)
    assert body["character"] == {"id": str(character.pk), "name": character.name}
    assert body["data"]["error"] == "The platform refused the caption."
    assert "a post on instagram failed" in body["text"]
    assert delivery.webhook_id == hook.pk
    assert delivery.status == DS.DELIVERED and delivery.attempt_count == 1
    assert delivery.last_response_code == 200
    assert delivery.response_excerpt == '{"ok": true}'
    assert delivery.duration_ms is not None and delivery.completed_at is not None
    assert delivery.error_message is None


def test_the_signature_fails_with_another_secret_a_changed_body_or_an_old_time(
    loopback_webhooks, character
):
    with WebhookReceiver("not-the-secret-at-all") as receiver:
        f.WebhookFactory(url=receiver.url, secret=SECRET, events=["post_failed"])
        _failed_post(character)
        dispatch_events()
        deliver_webhooks()
    [call] = receiver.calls
    assert call["signed"] is False
    header = call["headers"]["X-AInfluencer-Signature"]
    assert verify(SECRET, header, call["body"]) is True
    assert verify(SECRET, header, call["body"] + b" ") is False
    t, v1 = (part.split("=", 1)[1] for part in header.split(","))
    old = int(t) - 600
    replayed = f"t={old},v1={v1}"
    assert verify(SECRET, replayed, call["body"]) is False


def test_slack_and_discord_receivers_get_their_own_shape(loopback_webhooks, character):
    with WebhookReceiver(SECRET) as receiver:
        f.WebhookFactory(
            url=f"{receiver.url}/slack", secret=SECRET, format=Webhook.Format.SLACK
        )
        f.WebhookFactory(
            url=f"{receiver.url}/discord",
            secret=SECRET,
            format=Webhook.Format.DISCORD,
        )
        _failed_post(character)
        dispatch_events()
        assert deliver_webhooks() == {"delivered": 2}
    bodies = {c["path"]: c["json"] for c in receiver.calls}
    assert set(bodies["/slack"]) == {"text"}
    assert bodies["/slack"]["text"].startswith("*Post failed*: ")
    assert set(bodies["/discord"]) == {"content", "allowed_mentions"}
    assert bodies["/discord"]["content"].startswith("**Post failed**: ")
    assert bodies["/discord"]["allowed_mentions"] == {"parse": []}


def test_a_link_to_the_admin_goes_along_when_the_base_url_is_set(settings):
    settings.NOTIFICATIONS_BASE_URL = "https://office.example.com"
    message = Message(
        event_id=None,
        event_name="account_needs_attention",
        occurred_at=timezone.now(),
        character_id=None,
        character_name="Mia",
        payload={"platform_account_id": "3f6e4c1a-2a57-4a0b-9b16-1a7d2f9e5c21"},
    )
    body = json.loads(body_for(message, "generic"))
    assert body["url"] == (
        "https://office.example.com/admin/platforms/platformaccount/"
        "3f6e4c1a-2a57-4a0b-9b16-1a7d2f9e5c21/change/"
    )


def test_a_receiver_that_is_down_gets_retries_with_backoff_and_a_final_failure(
    loopback_webhooks, character, caplog
):
    loopback_webhooks.WEBHOOK_MAX_ATTEMPTS = 3
    loopback_webhooks.WEBHOOK_RETRY_BASE_SECONDS = 10
    loopback_webhooks.WEBHOOK_RETRY_MAX_SECONDS = 15
    f.WebhookFactory(url=closed_port_url(), secret=SECRET, events=["post_failed"])
    _failed_post(character)
    dispatch_events()

    waits = []
    for attempt in (1, 2):
        before = timezone.now()
        assert deliver_webhooks() == {"retry": 1}
        delivery = WebhookDelivery.objects.get()
        assert delivery.status == DS.PENDING and delivery.attempt_count == attempt
        assert "ConnectionError" in delivery.error_message
        assert delivery.last_response_code is None
        waits.append((delivery.locked_until - before).total_seconds())
        assert deliver_webhooks() == {}  # waiting out its backoff
        _due_again()
    assert 9 <= waits[0] <= 11 and 14 <= waits[1] <= 16  # 10 s, then 20 capped at 15

    with caplog.at_level(logging.WARNING, logger="logs.webhooks"):
        assert deliver_webhooks() == {"failed": 1}
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DS.FAILED and delivery.attempt_count == 3
    assert delivery.completed_at is not None and delivery.locked_until is None
    assert "ConnectionError" in delivery.error_message
    assert "failed for good after 3 attempts" in caplog.text
    assert deliver_webhooks() == {}


def test_an_error_status_is_retried_and_a_later_success_recorded(
    loopback_webhooks, character
):
    with WebhookReceiver(SECRET, statuses=(503, 200)) as receiver:
        f.WebhookFactory(url=receiver.url, secret=SECRET, events=["post_failed"])
        _failed_post(character)
        dispatch_events()
        assert deliver_webhooks() == {"retry": 1}
        first = WebhookDelivery.objects.get()
        assert first.last_response_code == 503
        assert first.error_message == "The receiver answered HTTP 503."
        _due_again()
        assert deliver_webhooks() == {"delivered": 1}
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DS.DELIVERED and delivery.attempt_count == 2
    assert delivery.last_response_code == 200 and delivery.error_message is None
    # the same body both times, each signed afresh
    assert receiver.calls[0]["body"] == receiver.calls[1]["body"]
    assert all(c["signed"] for c in receiver.calls)


def test_redirects_are_not_followed(loopback_webhooks, character):
    with WebhookReceiver(SECRET, statuses=(302,)) as receiver:
        f.WebhookFactory(url=receiver.url, secret=SECRET, events=["post_failed"])
        _failed_post(character)
        dispatch_events()
        assert deliver_webhooks() == {"retry": 1}
    assert len(receiver.calls) == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.last_response_code == 302
    assert "redirects are not followed" in delivery.error_message


def test_a_slow_receiver_times_out(loopback_webhooks, character):
    loopback_webhooks.WEBHOOK_READ_TIMEOUT = 0.3
    with WebhookReceiver(SECRET) as receiver:
        receiver.mode, receiver.slow_seconds = "slow", 1.5
        f.WebhookFactory(url=receiver.url, secret=SECRET, events=["post_failed"])
        _failed_post(character)
        dispatch_events()
        started = time.monotonic()
        assert deliver_webhooks() == {"retry": 1}
        assert time.monotonic() - started < 1.4
    assert "ReadTimeout" in WebhookDelivery.objects.get().error_message


def test_no_secret_in_the_delivery_log_or_the_logs(
    loopback_webhooks, character, caplog
):
    leaky = {"error": "bad signature", "access_token": "tok-SHOULD-NOT-BE-KEPT"}
    with (
        caplog.at_level(logging.DEBUG),
        WebhookReceiver(SECRET, statuses=(500,), answer_body=leaky) as receiver,
    ):
        f.WebhookFactory(
            url=f"{receiver.url}/services/T0K3N-IN-PATH",
            secret=SECRET,
            events=["post_failed"],
        )
        down = f.WebhookFactory(
            url=closed_port_url() + "/services/DOWN-T0K3N",
            secret=SECRET,
            events=["post_failed"],
        )
        _failed_post(character)
        dispatch_events()
        assert deliver_webhooks() == {"retry": 2}
    stored = json.dumps(
        list(WebhookDelivery.objects.values()), default=str
    ) + json.dumps(list(SystemLog.objects.values()), default=str)
    for secret in (SECRET, "tok-SHOULD-NOT-BE-KEPT", "T0K3N-IN-PATH", "DOWN-T0K3N"):
        assert secret not in stored
        assert secret not in caplog.text
    excerpt = WebhookDelivery.objects.exclude(webhook=down).get().response_excerpt
    assert "bad signature" in excerpt and "[redacted]" in excerpt
    # and the secret is not stored in clear
    raw = Webhook.objects.filter(pk=down.pk).values_list("secret", flat=True)
    assert raw[0] == SECRET  # decrypted by the field
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM webhooks WHERE id = %s", [down.pk])
        assert SECRET.encode() not in bytes(cursor.fetchone()[0])


def test_an_event_delivered_twice_makes_one_delivery_per_webhook(character):
    subscribed = f.WebhookFactory.create_batch(2, events=["post_failed"])
    f.WebhookFactory(events=["backup_failed"])  # not subscribed
    f.WebhookFactory(events=["post_failed"], is_active=False)
    event = _failed_post(character)
    for _ in range(2):  # a dispatcher that crashed hands the batch over again
        handle = consume([Event.objects.get(pk=event.pk)])
        handle(event)
    assert sorted(WebhookDelivery.objects.values_list("webhook_id", flat=True)) == (
        sorted(h.pk for h in subscribed)
    )
    # and through the outbox: a second dispatch of the same event adds nothing
    assert dispatch_events()["done"] == 1
    Event.objects.filter(pk=event.pk).update(status="pending")
    assert dispatch_events()["done"] == 1
    assert WebhookDelivery.objects.count() == 2


def test_events_that_reach_nobody_cost_no_query(django_assert_num_queries, character):
    event = emit("content_approved", {"content_ids": []}, character_id=character.pk)
    with django_assert_num_queries(0):
        consume([event])(event)


def test_the_sender_is_kicked_after_commit(
    monkeypatch, django_capture_on_commit_callbacks, character
):
    sent = []
    monkeypatch.setattr(
        events_module.celery_app,
        "send_task",
        lambda name, **kwargs: sent.append(name),
    )
    monkeypatch.setattr(events_module, "_task_covered", {})
    events_module._redis().delete(f"kick:{DELIVER_TASK}", f"kick:{DELIVER_TASK}:later")
    f.WebhookFactory(events=["post_failed"])
    event = _failed_post(character)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        consume([event])(event)
        assert sent == []  # not before the commit
    assert sent == [DELIVER_TASK]


def test_a_switched_off_webhook_gets_nothing_more_but_a_test_goes_out(
    loopback_webhooks, character
):
    with WebhookReceiver(SECRET) as receiver:
        hook = f.WebhookFactory(url=receiver.url, secret=SECRET, events=["post_failed"])
        _failed_post(character)
        dispatch_events()
        Webhook.objects.filter(pk=hook.pk).update(is_active=False)
        assert deliver_webhooks() == {"failed": 1}
        assert receiver.calls == []
        hook.refresh_from_db()
        test = webhook_send_test(webhook=hook)
        assert deliver_webhooks() == {"delivered": 1}
    assert WebhookDelivery.objects.get(pk=test.pk).status == DS.DELIVERED
    [call] = receiver.calls
    assert call["signed"] and call["json"]["event"] == "test"
    assert call["headers"]["X-AInfluencer-Event"] == "test"


def test_failed_deliveries_can_be_sent_again(loopback_webhooks):
    failed = f.WebhookDeliveryFactory(status=DS.FAILED, attempt_count=8)
    delivered = f.WebhookDeliveryFactory(status=DS.DELIVERED, attempt_count=1)
    assert (
        webhook_deliveries_retry(
            queryset=WebhookDelivery.objects.filter(pk__in=[failed.pk, delivered.pk])
        )
        == 1
    )
    failed.refresh_from_db()
    assert failed.status == DS.PENDING and failed.attempt_count == 0
    delivered.refresh_from_db()
    assert delivered.status == DS.DELIVERED


def test_production_refuses_private_addresses_when_saving_and_sending(
    settings, character
):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    for url, why in [
        ("ftp://93.184.215.14/x", "http:// or https://"),
        ("http://127.0.0.1:8000/hook", "private, loopback"),
        ("http://10.0.0.5/hook", "private, loopback"),
        ("http://[::1]/hook", "private, loopback"),
        ("https://user:pw@93.184.215.14/x", "no user name or password"),
        ("javascript:alert(1)", "http:// or https://"),
        ("https://93.184.215.14:99999/x", "port is out of range"),
    ]:
        hook = f.WebhookFactory.build(url=url)
        with pytest.raises(ValidationError) as err:
            hook.full_clean()
        assert why in str(err.value.message_dict["url"]), url
    assert url_problem("https://93.184.215.14/hooks/x") is None

    # a URL saved while allowed is checked again when sending
    with WebhookReceiver(SECRET) as receiver:
        f.WebhookFactory(url=receiver.url, secret=SECRET, events=["post_failed"])
        _failed_post(character)
        dispatch_events()
        assert deliver_webhooks() == {"retry": 1}
    assert receiver.calls == []
    assert "private, loopback" in WebhookDelivery.objects.get().error_message
    settings.WEBHOOK_ALLOW_PRIVATE = True
    assert url_problem("http://127.0.0.1:8000/hook") is None


def test_urls_are_shown_without_their_path():
    assert (
        masked_url("https://hooks.slack.com/services/T0/B0/XXXX")
        == "https://hooks.slack.com/…"
    )
    assert masked_url("http://127.0.0.1:8080/") == "http://127.0.0.1:8080/"
    assert masked_url("http://h.example/?token=x") == "http://h.example/…"
    assert masked_url("http://h.example:99999/x") == "http://h.example/…"


def test_the_readmes_receiver_snippet_verifies_a_real_delivery(
    loopback_webhooks, character
):
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start = readme.index("```python\nimport hashlib, hmac, time")
    code = readme[start + len("```python\n") : readme.index("```\n", start + 10)]
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    with WebhookReceiver(SECRET) as receiver:
        f.WebhookFactory(url=receiver.url, secret=SECRET, events=["post_failed"])
        _failed_post(character)
        dispatch_events()
        deliver_webhooks()
    [call] = receiver.calls
    header = call["headers"]["X-AInfluencer-Signature"]
    assert namespace["verify"](SECRET, header, call["body"]) is True
    assert namespace["verify"]("another-secret-value", header, call["body"]) is False
