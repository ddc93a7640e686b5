"""Webhooks through the API: Administrators only, secret and URL write-only;
the delivery log is read-only, with a retry for failed deliveries."""

import pytest

from logs.models import Webhook, WebhookDelivery
from tests import factories as f

pytestmark = pytest.mark.django_db
SECRET = "whsec-api-0123456789-SECRET"
TOKEN = "T0K3N-IN-THE-PATH"
URL = "/api/v1/webhooks/"
DELIVERIES = "/api/v1/webhook-deliveries/"


def _new(**overrides):
    return {
        "name": "alerts",
        "url": f"https://93.184.215.14/services/{TOKEN}",
        "events": ["post_failed", "backup_failed"],
        "secret": SECRET,
        "format": "discord",
        **overrides,
    }


def test_an_administrator_creates_a_webhook_and_never_reads_its_secret(admin_api):
    response = admin_api.post(URL, _new(), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert "secret" not in body and "url" not in body
    assert body["url_display"] == "https://93.184.215.14/…"
    hook = Webhook.objects.get()
    assert hook.secret == SECRET and hook.url.endswith(TOKEN)
    for answer in (admin_api.get(URL), admin_api.get(f"{URL}{hook.pk}/")):
        assert SECRET not in answer.content.decode()
        assert TOKEN not in answer.content.decode()


def test_a_patch_without_a_secret_keeps_it_and_with_one_replaces_it(admin_api):
    hook = f.WebhookFactory(secret=SECRET)
    response = admin_api.patch(f"{URL}{hook.pk}/", {"is_active": False}, format="json")
    assert response.status_code == 200, response.json()
    hook.refresh_from_db()
    assert hook.secret == SECRET and hook.is_active is False
    admin_api.patch(f"{URL}{hook.pk}/", {"secret": "n" * 20}, format="json")
    hook.refresh_from_db()
    assert hook.secret == "n" * 20


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"secret": None}, "secret"),
        ({"secret": "short"}, "secret"),
        ({"url": "ftp://93.184.215.14/x"}, "url"),
        ({"url": "http://127.0.0.1:8000/hook"}, "url"),
        ({"events": []}, "events"),
        ({"events": ["post_exploded"]}, "events"),
        ({"format": "teams"}, "format"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(admin_api, settings, change, field):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    data = {k: v for k, v in _new(**change).items() if v is not None}
    response = admin_api.post(URL, data, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Webhook.objects.exists()


def test_only_administrators_manage_webhooks(operator_api, analyst_api):
    hook = f.WebhookFactory()
    for client in (operator_api, analyst_api):
        assert client.get(URL).status_code == 403
        assert client.get(f"{URL}{hook.pk}/").status_code == 403
        assert client.post(URL, _new(), format="json").status_code == 403
        assert client.post(f"{URL}{hook.pk}/send-test/").status_code == 403
    assert Webhook.objects.count() == 1


def test_send_test_queues_a_delivery(admin_api):
    hook = f.WebhookFactory()
    response = admin_api.post(f"{URL}{hook.pk}/send-test/")
    assert response.status_code == 202
    delivery = WebhookDelivery.objects.get(pk=response.json()["delivery_id"])
    assert delivery.webhook_id == hook.pk and delivery.event_name == "test"


def test_the_delivery_log_is_readable_and_holds_no_secret(operator_api, admin_api):
    hook = f.WebhookFactory(secret=SECRET, url=f"https://93.184.215.14/{TOKEN}")
    failed = f.WebhookDeliveryFactory(webhook=hook, status="failed")
    f.WebhookDeliveryFactory(webhook=hook, status="delivered")
    listing = operator_api.get(DELIVERIES)
    assert listing.status_code == 200
    rows = listing.json()["results"]
    assert len(rows) == 2 and rows[0]["webhook"] == {
        "id": str(hook.pk),
        "name": hook.name,
    }
    assert SECRET not in listing.content.decode()
    assert TOKEN not in listing.content.decode()
    only_failed = operator_api.get(f"{DELIVERIES}?status=failed&webhook={hook.pk}")
    assert [r["id"] for r in only_failed.json()["results"]] == [str(failed.pk)]
    assert admin_api.post(DELIVERIES, {}, format="json").status_code == 405
    assert operator_api.post(f"{DELIVERIES}{failed.pk}/retry/").status_code == 403


def test_retry_answers_409_unless_the_delivery_failed(admin_api):
    failed = f.WebhookDeliveryFactory(status="failed", attempt_count=8)
    done = f.WebhookDeliveryFactory(status="delivered")
    response = admin_api.post(f"{DELIVERIES}{failed.pk}/retry/")
    assert response.status_code == 200
    assert response.json()["status"] == "pending"
    assert response.json()["attempt_count"] == 0
    conflict = admin_api.post(f"{DELIVERIES}{done.pk}/retry/")
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "invalid_transition"
