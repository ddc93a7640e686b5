"""Events that reach people: the notifications consumer (settings.
EVENT_CONSUMERS) and the e-mails it leads to.

`consume(events)` prepares a batch with three queries (active webhooks, the
users who get e-mail, the characters' names), only when the batch holds a
notifiable event (logs.event_names.NOTIFIABLE); `handle(event)` then writes,
in one transaction, one webhook delivery per subscribed webhook
(logs.webhooks) and one notification per subscribed user. Both are unique
per event, so an event dispatched again (a crashed dispatcher) adds nothing.

E-mail goes through Django's mail settings (EMAIL_URL) to the user's
address, per the user's preference (config.models.UserPreferences): at once
(`send_notifications`, kicked after commit and run every minute: one e-mail
per user and run with what is waiting) or in a daily digest
(`send_digests`, hourly: a user's digest goes out at their digest hour in
their own zone). A send that fails is tried again next run, and after
NOTIFICATION_MAX_ATTEMPTS the notifications are marked failed.
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from characters.models import Character
from config.models import EmailNotifications, UserPreferences
from config.timezones import zone
from logs.event_names import NOTIFIABLE
from logs.events import kick_task_after_commit
from logs.messages import label
from logs.models import Event, Notification, Webhook
from logs.webhooks import Message, deliveries_queue

logger = logging.getLogger(__name__)
NS = Notification.Status
ND = Notification.Delivery
SEND_TASK = "logs.tasks.send_notifications"
PER_EMAIL = 200  # notifications in one e-mail at most (the rest: next run)


def _recipients() -> list[tuple[int, str, list[str]]]:
    """(user id, mode, events) of the active staff who get e-mail."""
    return list(
        UserPreferences.objects.filter(user__is_active=True, user__is_staff=True)
        .exclude(email_notifications=EmailNotifications.OFF)
        .exclude(user__email="")
        .values_list("user_id", "email_notifications", "notification_events")
    )


def consume(events: Sequence[Event]) -> Callable[[Event], None]:
    """Prepare a batch; returns what handles each of its events."""
    wanted = [e for e in events if e.name in NOTIFIABLE]
    if not wanted:
        return lambda event: None
    # the secret stays encrypted here: only the sender needs it
    webhooks = list(
        Webhook.objects.filter(is_active=True).only("id", "events", "format")
    )
    recipients = _recipients()
    names = dict(
        Character.all_objects.filter(
            pk__in={e.character_id for e in wanted if e.character_id}
        ).values_list("pk", "name")
    )

    def handle(event: Event) -> None:
        if event.name not in NOTIFIABLE:
            return
        message = Message(
            event_id=event.pk,
            event_name=event.name,
            occurred_at=event.created_at,
            character_id=event.character_id,
            character_name=names.get(event.character_id),
            payload=event.payload,
        )
        hooks = [h for h in webhooks if event.name in h.events]
        users = [(pk, mode) for pk, mode, names_ in recipients if event.name in names_]
        with transaction.atomic():
            deliveries_queue(message=message, webhooks=hooks)
            notifications_queue(message=message, users=users)

    return handle


def notifications_queue(*, message: Message, users: Sequence[tuple[int, str]]) -> int:
    """One notification per user for this event (none twice)."""
    if not users or message.event_id is None:
        return 0
    text = message.text
    url = message.link
    summary = f"{text}\n{url}" if url else text
    rows = [
        Notification(
            user_id=user_id,
            event_id=message.event_id,
            event_name=message.event_name,
            character_id=message.character_id,
            summary=summary,
            occurred_at=message.occurred_at,
            delivery=ND.DIGEST if mode == EmailNotifications.DIGEST else ND.IMMEDIATE,
        )
        for user_id, mode in users
    ]
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    if any(r.delivery == ND.IMMEDIATE for r in rows):
        kick_task_after_commit(SEND_TASK)
    return len(rows)


# --- e-mail ------------------------------------------------------------------------


def _email(
    user: Any, rows: Sequence[Notification], tz_name: str, *, digest: bool
) -> EmailMessage:
    tz = zone(tz_name)
    if digest:
        subject = f"[AInfluencer] Daily digest: {len(rows)} event(s)"
    elif len(rows) == 1:
        subject = f"[AInfluencer] {label(rows[0].event_name)}"
    else:
        subject = f"[AInfluencer] {len(rows)} events"
    lines = [
        f"{r.occurred_at.astimezone(tz):%Y-%m-%d %H:%M %Z}  {label(r.event_name)}\n"
        f"  {r.summary.replace(chr(10), chr(10) + '  ')}"
        for r in rows
    ]
    body = (
        ("Your daily digest" if digest else "What happened")
        + f" (times in {tz_name}):\n\n"
        + "\n\n".join(lines)
        + "\n\nChange what you receive under 'Your preferences' in the back-office."
    )
    return EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
    )


def _send_to(prefs: UserPreferences, deliveries: Sequence[str]) -> str:
    """One e-mail with the user's waiting notifications of these deliveries."""
    with transaction.atomic():
        # Locked while the e-mail goes out, so that a second sender skips
        # them; if this process dies after sending and before the commit,
        # they go out again (e-mail is at least once).
        rows = list(
            Notification.objects.select_for_update(skip_locked=True)
            .filter(user_id=prefs.user_id, delivery__in=deliveries, status=NS.PENDING)
            .order_by("created_at")[:PER_EMAIL]
        )
        if not rows:
            return "nothing"
        ids = [r.pk for r in rows]
        digest = list(deliveries) == [ND.DIGEST]
        message = _email(prefs.user, rows, prefs.timezone, digest=digest)
        try:
            message.send()
        except (smtplib.SMTPException, OSError) as exc:
            cause = f"{type(exc).__name__}: {exc}"[:500]
            Notification.objects.filter(pk__in=ids).update(
                attempt_count=F("attempt_count") + 1, error_message=cause
            )
            failed = Notification.objects.filter(
                pk__in=ids, attempt_count__gte=settings.NOTIFICATION_MAX_ATTEMPTS
            ).update(status=NS.FAILED)
            logger.warning(
                "e-mail to user %s failed (%d notification(s) given up): %s",
                prefs.user_id,
                failed,
                cause,
            )
            return "failed" if failed else "retry"
        Notification.objects.filter(pk__in=ids).update(
            status=NS.SENT,
            sent_at=timezone.now(),
            attempt_count=F("attempt_count") + 1,
            error_message=None,
        )
    return "sent"


def send_notifications() -> Counter:
    """E-mail every user their waiting 'at once' notifications (and, for a
    user who switched from the digest to 'at once', what waited for it)."""
    switched = UserPreferences.objects.filter(
        email_notifications=EmailNotifications.IMMEDIATE
    ).values("user_id")
    user_ids = (
        Notification.objects.filter(
            Q(delivery=ND.IMMEDIATE) | Q(delivery=ND.DIGEST, user_id__in=switched),
            status=NS.PENDING,
        )
        .values_list("user_id", flat=True)
        .distinct()
    )
    outcomes: Counter = Counter()
    for prefs in UserPreferences.objects.filter(
        user_id__in=user_ids, user__is_active=True
    ).select_related("user"):
        deliveries = (
            [ND.IMMEDIATE, ND.DIGEST]
            if prefs.email_notifications == EmailNotifications.IMMEDIATE
            else [ND.IMMEDIATE]
        )
        outcomes[_send_to(prefs, deliveries)] += 1
    return outcomes


def digest_due(prefs: UserPreferences, now: dt.datetime) -> bool:
    """Whether the user's digest hour has come today (in their zone) and no
    digest went out since."""
    local = now.astimezone(zone(prefs.timezone))
    if local.hour < prefs.digest_hour:
        return False
    since = local.replace(hour=prefs.digest_hour, minute=0, second=0, microsecond=0)
    return prefs.last_digest_at is None or prefs.last_digest_at < since


def send_digests(*, now: dt.datetime | None = None) -> Counter:
    """Hourly: each digest user whose hour has come gets one e-mail with
    what waited since their last digest (none when nothing happened)."""
    now = now or timezone.now()
    outcomes: Counter = Counter()
    for prefs in UserPreferences.objects.filter(
        email_notifications=EmailNotifications.DIGEST,
        user__is_active=True,
        user__is_staff=True,
    ).select_related("user"):
        if not digest_due(prefs, now):
            continue
        outcome = _send_to(prefs, [ND.DIGEST]) if prefs.user.email else "nothing"
        outcomes[outcome] += 1
        if outcome != "retry":
            UserPreferences.objects.filter(pk=prefs.pk).update(last_digest_at=now)
    return outcomes


def purge_old_notifications(*, now: dt.datetime | None = None) -> int:
    """Delete notifications older than the deliveries' retention."""
    cutoff = (now or timezone.now()) - dt.timedelta(
        days=settings.WEBHOOK_DELIVERY_RETENTION_DAYS
    )
    deleted, _ = Notification.objects.filter(created_at__lt=cutoff).delete()
    return deleted
