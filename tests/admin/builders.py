"""Rows for every admin changelist, built so that more rows never means more
distinct related objects per row than fewer rows do (the point is N+1)."""

import datetime as dt

from django.utils import timezone

from automation.models import AutomationRun
from logs.events import emit_many
from platforms.services import posting_slots_set
from platforms.slots import Slot
from platforms.sync import apply_post_metrics
from tests.factories import (
    AnalyticsFactory,
    AutomationRuleFactory,
    CharacterFactory,
    ContentFactory,
    ContentGenerationFactory,
    EngagementActionFactory,
    NotificationFactory,
    PlatformAccountFactory,
    PostFactory,
    ScheduledPostFactory,
    SystemLogFactory,
    TextGenerationFactory,
    UserFactory,
    WebhookDeliveryFactory,
    WebhookFactory,
)


def _accounts():
    character = CharacterFactory()
    return [
        PlatformAccountFactory(character=character, platform=p)
        for p in ("instagram", "twitter", "telegram")
    ]


def characters(n):
    for _ in range(n):
        account = PlatformAccountFactory(platform="instagram")
        PostFactory(platform_account=account)


def profiles(n):
    CharacterFactory.create_batch(n)


def content(n):
    character = CharacterFactory()
    for i in range(n):
        ContentFactory(
            character=character, content_type=("image", "video", "text", "audio")[i % 4]
        )


def generations(n):
    character = CharacterFactory()
    ContentGenerationFactory.create_batch(n, character=character)


def text_jobs(n):
    character = CharacterFactory()
    TextGenerationFactory.create_batch(n, character=character)


def accounts(n):
    PlatformAccountFactory.create_batch(n, platform="instagram")


def posts(n):
    accts = _accounts()
    for i in range(n):
        PostFactory(platform_account=accts[i % 3])


def scheduled_posts(n):
    accts = _accounts()
    for i in range(n):
        ScheduledPostFactory(
            platform_account=accts[i % 3],
            scheduled_at=timezone.now() + dt.timedelta(hours=i + 1),
        )


def engagement_actions(n):
    accts = _accounts()
    for i in range(n):
        EngagementActionFactory(platform_account=accts[i % 3])


def analytics(n):
    accts = _accounts()
    for i in range(n):
        AnalyticsFactory(platform_account=accts[i % 3])


def rules(n):
    character = CharacterFactory()
    AutomationRuleFactory.create_batch(n, character=character)


def holds(n):
    from platforms.services import publishing_hold_lift, publishing_hold_place

    user = UserFactory()
    for i in range(n):
        hold = publishing_hold_place(kind="manual", reason=f"pause {i}", actor=user)
        publishing_hold_lift(hold=hold, actor=user)


def runs(n):
    rule = AutomationRuleFactory()
    user = UserFactory()
    for i in range(n):
        AutomationRun.objects.create(
            rule=rule,
            trigger="manual",
            key=f"manual:{i}",
            requested_by=user,
            status="done",
            outcome="nothing",
        )


def logs(n):
    character = CharacterFactory()
    SystemLogFactory.create_batch(n, character=character)


def webhooks(n):
    WebhookFactory.create_batch(n)


def webhook_deliveries(n):
    hook = WebhookFactory()
    WebhookDeliveryFactory.create_batch(n, webhook=hook)


def notifications(n):
    user = UserFactory()
    NotificationFactory.create_batch(n, user=user)


def events(n):
    character = CharacterFactory()
    emit_many("post_published", ((character.pk, {"post_id": str(i)}) for i in range(n)))


def slots(n):
    """n slots over accounts of several characters (each one its own list row)."""
    accounts = _accounts()
    for index, account in enumerate(accounts):
        mine = [Slot(i % 7, dt.time(i // 7, 0)) for i in range(index, n, len(accounts))]
        posting_slots_set(account=account, slots=mine)


def post_metrics(n):
    """n synced posts of one account."""
    account = PlatformAccountFactory(platform="instagram")
    now = timezone.now()
    apply_post_metrics(
        [(PostFactory(platform_account=account).pk, i, i, i, i) for i in range(n)],
        now=now,
    )


BUILDERS = {
    "characters.character": characters,
    "characters.characterpersonality": profiles,
    "characters.characterappearance": profiles,
    "content.content": content,
    "content.contentgeneration": generations,
    # added: what the persona writes (issue 15)
    "content.textgeneration": text_jobs,
    "platforms.platformaccount": accounts,
    "platforms.post": posts,
    "platforms.scheduledpost": scheduled_posts,
    "platforms.engagementaction": engagement_actions,
    "analytics.analytics": analytics,
    "automation.automationrule": rules,
    "logs.systemlog": logs,
    # added to the document's twelve: publishing holds and rule runs
    "platforms.publishinghold": holds,
    "automation.automationrun": runs,
    # and the outbox of events
    "logs.event": events,
    # bulk scheduling (issue 16): the accounts' weekly posting slots
    "platforms.postingslot": slots,
    # the numbers the metrics sync brought back (issue 14)
    "platforms.postmetrics": post_metrics,
    # and what reaches people: webhooks, their deliveries, e-mail notifications
    "logs.webhook": webhooks,
    "logs.webhookdelivery": webhook_deliveries,
    "logs.notification": notifications,
}
