import secrets
import uuid

import factory
from django.utils import timezone
from factory import fuzzy

from logs.models import Notification, SystemLog, Webhook, WebhookDelivery
from tests.factories.users import UserFactory


class SystemLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SystemLog

    log_level = fuzzy.FuzzyChoice(SystemLog.Level.values)
    component = fuzzy.FuzzyChoice(["publisher", "generator", "engagement", "api"])
    message = factory.Faker("sentence")
    metadata = factory.LazyFunction(dict)


class WebhookFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Webhook

    name = factory.Sequence(lambda n: f"hook {n}")
    # a literal public address: valid whatever WEBHOOK_ALLOW_PRIVATE says,
    # and never called by a factory
    url = factory.Sequence(lambda n: f"https://93.184.215.14/hooks/{n}/T0K3N")
    events = factory.LazyFunction(lambda: ["post_failed", "backup_failed"])
    secret = factory.LazyFunction(lambda: secrets.token_hex(16))
    format = Webhook.Format.GENERIC
    is_active = True


class WebhookDeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WebhookDelivery

    webhook = factory.SubFactory(WebhookFactory)
    event_id = factory.LazyFunction(uuid.uuid4)
    event_name = "post_failed"
    body = '{"event": "post_failed"}'


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    user = factory.SubFactory(UserFactory)
    event_id = factory.LazyFunction(uuid.uuid4)
    event_name = "post_failed"
    summary = factory.Faker("sentence")
    occurred_at = factory.LazyFunction(timezone.now)
    delivery = Notification.Delivery.IMMEDIATE
