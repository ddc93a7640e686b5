"""Webhooks in the admin: Administrators only, a write-only secret, a test
action, a read-only delivery log with a retry action; the operator's own
notification settings."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test import Client
from django.urls import reverse

from config.models import UserPreferences
from logs.models import Webhook, WebhookDelivery
from tests import factories as f

SECRET = "whsec-admin-0123456789-SECRET"
TOKEN = "T0K3N-IN-THE-PATH"


@pytest.fixture
def hook(db):
    return f.WebhookFactory(
        name="ops channel",
        url=f"https://93.184.215.14/services/{TOKEN}",
        secret=SECRET,
        events=["post_failed"],
    )


def test_an_administrator_adds_a_webhook_with_a_secret_shown_only_before_saving(
    administrator_client, settings
):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    add_url = reverse("admin:logs_webhook_add")
    page = administrator_client.get(add_url).content.decode()
    assert 'name="new_secret"' in page  # a fresh random secret is offered
    response = administrator_client.post(
        add_url,
        {
            "name": "alerts",
            "url": "http://127.0.0.1:9000/hook",
            "events": ["post_failed", "backup_failed"],
            "new_secret": SECRET,
            "format": "slack",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    hook = Webhook.objects.get(name="alerts")
    assert hook.secret == SECRET and hook.format == "slack"
    assert hook.events == ["post_failed", "backup_failed"]
    change = administrator_client.get(
        reverse("admin:logs_webhook_change", args=[hook.pk])
    ).content.decode()
    assert SECRET not in change
    assert "Leave blank to keep the current secret" in change


def test_a_blank_secret_keeps_it_and_a_short_one_is_refused(administrator_client, hook):
    url = reverse("admin:logs_webhook_change", args=[hook.pk])
    data = {
        "name": "ops channel",
        "url": hook.url,
        "events": ["post_failed"],
        "new_secret": "",
        "format": "generic",
        "is_active": "on",
    }
    assert administrator_client.post(url, data).status_code == 302
    hook.refresh_from_db()
    assert hook.secret == SECRET
    response = administrator_client.post(url, {**data, "new_secret": "short"})
    assert response.status_code == 200
    assert "new_secret" in response.context["adminform"].form.errors


def test_a_bad_url_or_no_event_is_a_form_error(administrator_client, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    response = administrator_client.post(
        reverse("admin:logs_webhook_add"),
        {
            "name": "bad",
            "url": "http://127.0.0.1/hook",
            "new_secret": SECRET,
            "format": "generic",
        },
    )
    errors = response.context["adminform"].form.errors
    assert "private, loopback" in str(errors["url"])
    assert "events" in errors
    assert not Webhook.objects.exists()


def test_no_secret_or_url_token_on_the_webhook_and_delivery_pages(
    administrator_client, hook
):
    delivery = f.WebhookDeliveryFactory(
        webhook=hook, status="failed", error_message="The receiver answered HTTP 500."
    )
    pages = [
        reverse("admin:logs_webhook_changelist"),
        reverse("admin:logs_webhookdelivery_changelist"),
        reverse("admin:logs_webhookdelivery_change", args=[delivery.pk]),
        reverse("admin:logs_webhook_change", args=[hook.pk]),
    ]
    for url in pages:
        page = administrator_client.get(url).content.decode()
        assert SECRET not in page, url
    listing = administrator_client.get(pages[0]).content.decode()
    assert TOKEN not in listing and "https://93.184.215.14/…" in listing


def _logged_in(user):
    # a client of its own: the *_client fixtures share one test client
    client = Client()
    client.force_login(user)
    return client


def test_only_administrators_see_webhooks_others_read_the_delivery_log(
    operator, analyst, hook
):
    f.WebhookDeliveryFactory(webhook=hook)
    for client in (_logged_in(operator), _logged_in(analyst)):
        assert client.get(reverse("admin:logs_webhook_changelist")).status_code == 403
        assert (
            client.get(reverse("admin:logs_webhook_change", args=[hook.pk])).status_code
            == 403
        )
        log = client.get(reverse("admin:logs_webhookdelivery_changelist"))
        assert log.status_code == 200 and b"ops channel" in log.content


def test_send_test_queues_a_delivery_for_each_selected_webhook(
    administrator_client, hook, django_capture_on_commit_callbacks
):
    other = f.WebhookFactory(is_active=False)
    response = administrator_client.post(
        reverse("admin:logs_webhook_changelist"),
        {"action": "send_test", ACTION_CHECKBOX_NAME: [hook.pk, other.pk]},
        follow=True,
    )
    assert "Test queued for 2 webhook(s)" in response.content.decode()
    assert sorted(
        WebhookDelivery.objects.filter(event_name="test").values_list(
            "webhook_id", flat=True
        )
    ) == sorted([hook.pk, other.pk])


def test_retry_sends_failed_deliveries_again(administrator, operator, hook):
    failed = f.WebhookDeliveryFactory(webhook=hook, status="failed", attempt_count=8)
    done = f.WebhookDeliveryFactory(webhook=hook, status="delivered")
    url = reverse("admin:logs_webhookdelivery_changelist")
    data = {"action": "retry", ACTION_CHECKBOX_NAME: [failed.pk, done.pk]}
    # Operators read the log but may not retry
    _logged_in(operator).post(url, data)
    failed.refresh_from_db()
    assert failed.status == "failed"
    response = _logged_in(administrator).post(url, data, follow=True)
    assert "1 webhook delivery queued again. 1 skipped" in response.content.decode()
    failed.refresh_from_db()
    assert failed.status == "pending" and failed.attempt_count == 0


def test_the_delivery_log_costs_the_same_for_2_and_30_rows(
    administrator_client, hook, django_assert_num_queries
):
    from django.test.utils import CaptureQueriesContext

    url = reverse("admin:logs_webhookdelivery_changelist")
    f.WebhookDeliveryFactory.create_batch(2, webhook=hook)
    administrator_client.get(url)
    with CaptureQueriesContext(connection) as few:
        administrator_client.get(url)
    f.WebhookDeliveryFactory.create_batch(28)  # 28 other webhooks too
    with django_assert_num_queries(len(few)):
        page = administrator_client.get(url)
    assert page.content.count(b'<th class="field-created_at') == 30


def test_the_preferences_page_sets_what_reaches_me(administrator_client, administrator):
    url = reverse("operator-preferences")
    page = administrator_client.get(url).content.decode()
    assert "E-mail notifications" in page and administrator.email in page
    response = administrator_client.post(
        url,
        {
            "timezone": "Europe/Berlin",
            "email_notifications": "digest",
            "notification_events": ["post_failed", "backup_failed"],
            "digest_hour": "7",
        },
    )
    assert response.status_code == 302
    prefs = UserPreferences.objects.get(user=administrator)
    assert prefs.email_notifications == "digest" and prefs.digest_hour == 7
    assert prefs.notification_events == ["post_failed", "backup_failed"]

    bad = administrator_client.post(
        url,
        {
            "timezone": "Europe/Berlin",
            "email_notifications": "hourly",
            "notification_events": ["post_exploded"],
        },
    )
    assert bad.status_code == 200
    errors = bad.context["form"].errors
    assert "email_notifications" in errors and "notification_events" in errors
    # a post of the time zone alone keeps the notification settings
    administrator_client.post(url, {"timezone": "Asia/Tokyo"})
    prefs.refresh_from_db()
    assert prefs.timezone == "Asia/Tokyo" and prefs.email_notifications == "digest"
