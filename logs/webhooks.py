"""Outgoing webhooks: the delivery queue (on the queue machine) and the sender.

1. The notifications consumer (logs.notifications) writes one delivery per
   event and subscribed webhook (webhook_deliveries_once_per_event: an event
   dispatched twice is queued once), with the body it will send, and kicks
   `logs.tasks.deliver_webhooks` after commit; beat runs it every minute too.
2. The drain claims pending deliveries (and expired leases) with a lease,
   journals the attempt (`WorkQueue.begin`), POSTs the body signed with the
   webhook's secret (logs.webhook_rules: `t=<unix>,v1=<hmac>` over
   `<t>.<body>`), with connect and read timeouts and no redirects followed.
3. A 2xx answer is 'delivered'. Anything else (a non-2xx status, a redirect,
   a timeout, a refused connection) is tried again after a backoff
   (WEBHOOK_RETRY_BASE_SECONDS, doubling, at most WEBHOOK_RETRY_MAX_SECONDS);
   after WEBHOOK_MAX_ATTEMPTS the delivery is 'failed'. Each attempt records
   the status code, a scrubbed excerpt of the answer, the duration and the
   error. Delivery is at least once: a sender that dies mid-request leaves the
   row in doubt and the next one sends it again (receivers deduplicate on the
   X-AInfluencer-Delivery header).

The secret is decrypted only here, in memory, for the signature; it is never
logged, stored elsewhere or shown. URLs appear in logs and errors masked
(webhook_rules.masked_url): Slack's and Discord's carry a token in the path.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from config.transitions import transition
from config.workqueue import Claimed, Drain, WorkQueue, backoff_seconds
from logs.events import kick_task_after_commit
from logs.messages import describe, label, link
from logs.models import Webhook, WebhookDelivery
from logs.scrub import scrub_text
from logs.webhook_rules import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SIGNATURE_HEADER,
    masked_url,
    public_host,
    signature_header,
)

logger = logging.getLogger(__name__)
DS = WebhookDelivery.Status
DELIVER_TASK = "logs.tasks.deliver_webhooks"
EXCERPT_BYTES = 2048
EXCERPT_CHARS = 500
USER_AGENT = "AInfluencer-Webhooks/1"

QUEUE = WorkQueue(
    WebhookDelivery,
    waiting=DS.PENDING,
    processing=DS.PROCESSING,
    order_by=("created_at",),
    lease_seconds=lambda: settings.WEBHOOK_LEASE_SECONDS,
)


@dataclass(frozen=True)
class Message:
    """What happened, ready for any payload format."""

    event_id: uuid.UUID | None
    event_name: str
    occurred_at: dt.datetime
    character_id: uuid.UUID | None
    character_name: str | None
    payload: dict[str, Any]

    @property
    def text(self) -> str:
        return describe(self.event_name, self.payload, self.character_name)

    @property
    def link(self) -> str | None:
        return link(self.event_name, self.payload)


def body_for(message: Message, fmt: str) -> str:
    """The JSON a webhook of this format receives."""
    text = message.text
    url = message.link
    if fmt == Webhook.Format.SLACK:
        # Slack incoming webhooks: `text` (mrkdwn); a link as <url|label>
        more = f" <{url}|Open>" if url else ""
        data: dict[str, Any] = {"text": f"*{label(message.event_name)}*: {text}{more}"}
    elif fmt == Webhook.Format.DISCORD:
        # Discord webhooks: `content` up to 2000 characters; no @mentions
        more = f" {url}" if url else ""
        data = {
            "content": f"**{label(message.event_name)}**: {text}{more}"[:2000],
            "allowed_mentions": {"parse": []},
        }
    else:
        data = {
            "event_id": str(message.event_id) if message.event_id else None,
            "event": message.event_name,
            "label": label(message.event_name),
            "occurred_at": message.occurred_at.isoformat(),
            "character": (
                {"id": str(message.character_id), "name": message.character_name}
                if message.character_id
                else None
            ),
            "text": text,
            "url": url,
            "data": message.payload,
        }
    return json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)


def deliveries_queue(
    *, message: Message, webhooks: Sequence[Webhook]
) -> list[WebhookDelivery]:
    """One delivery per webhook for this event (none twice: an event handled
    again adds nothing); the sender is kicked after commit."""
    bodies: dict[str, str] = {}
    rows = [
        WebhookDelivery(
            webhook_id=hook.pk,
            event_id=message.event_id,
            event_name=message.event_name,
            body=bodies.setdefault(hook.format, body_for(message, hook.format)),
        )
        for hook in webhooks
    ]
    if rows:
        WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
        kick_task_after_commit(DELIVER_TASK)
    return rows


def webhook_send_test(*, webhook: Webhook) -> WebhookDelivery:
    """Queue a test delivery (sent even while the webhook is inactive, so it
    can be tried before it is switched on)."""
    message = Message(
        event_id=None,
        event_name="test",
        occurred_at=timezone.now(),
        character_id=None,
        character_name=None,
        payload={"webhook": webhook.name},
    )
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(
            webhook_id=webhook.pk,
            event_name="test",
            body=body_for(message, webhook.format),
        )
        kick_task_after_commit(DELIVER_TASK)
    return delivery


def webhook_deliveries_retry(
    *, queryset: QuerySet[WebhookDelivery], actor: Any = None
) -> int:
    """Failed deliveries back in the queue with fresh attempts (audited)."""
    with transaction.atomic():
        changed = transition(
            queryset=queryset,
            allowed_from=[DS.FAILED],
            changes={
                "status": DS.PENDING,
                "locked_until": None,
                "attempt_count": 0,
                "attempt_started_at": None,
                "completed_at": None,
            },
            actor=actor,
            component="webhooks",
            message="Failed webhook delivery queued again",
        )
        if changed:
            kick_task_after_commit(DELIVER_TASK)
    return changed


# --- the sender --------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What one attempt got."""

    ok: bool
    status: int | None = None
    excerpt: str | None = None
    duration_ms: int = 0
    error: str | None = None


def _safe_error(exc: BaseException, url: str) -> str:
    """The exception's text without the URL's path (a token for Slack/Discord)."""
    text = f"{type(exc).__name__}: {exc}"
    parts = urlsplit(url)
    for secret_part in (url, parts.path, parts.query):
        if secret_part and secret_part != "/":
            text = text.replace(secret_part, "/…")
    return scrub_text(text)[:EXCERPT_CHARS]


def _excerpt(response: requests.Response) -> str:
    data = b""
    for chunk in response.iter_content(512):
        data += chunk
        if len(data) >= EXCERPT_BYTES:
            break
    text = data[:EXCERPT_BYTES].decode("utf-8", errors="replace")
    return scrub_text(text)[:EXCERPT_CHARS]


def send(webhook: Webhook, delivery: WebhookDelivery) -> Answer:
    """POST the delivery's body to the webhook once (timeouts, no redirects)."""
    url = webhook.url
    host = urlsplit(url).hostname or ""
    if not settings.WEBHOOK_ALLOW_PRIVATE and not public_host(host):
        # checked again at send time: a name may resolve elsewhere by now
        return Answer(
            ok=False,
            error="The URL resolves to a private, loopback or unknown address.",
        )
    body = delivery.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: delivery.event_name,
        DELIVERY_HEADER: str(delivery.pk),
        SIGNATURE_HEADER: signature_header(webhook.secret, body),
    }
    started = time.monotonic()
    try:
        with requests.post(
            url,
            data=body,
            headers=headers,
            timeout=(settings.WEBHOOK_CONNECT_TIMEOUT, settings.WEBHOOK_READ_TIMEOUT),
            allow_redirects=False,
            stream=True,
        ) as response:
            excerpt = _excerpt(response)
            status = response.status_code
    except requests.RequestException as exc:
        return Answer(
            ok=False,
            duration_ms=round((time.monotonic() - started) * 1000),
            error=_safe_error(exc, url),
        )
    duration = round((time.monotonic() - started) * 1000)
    if 200 <= status < 300:
        return Answer(ok=True, status=status, excerpt=excerpt, duration_ms=duration)
    error = f"The receiver answered HTTP {status}."
    if 300 <= status < 400:
        error = f"The receiver answered HTTP {status} (redirects are not followed)."
    return Answer(
        ok=False, status=status, excerpt=excerpt, duration_ms=duration, error=error
    )


def _settle(item: Claimed, attempts: int, answer: Answer) -> str:
    """Record an attempt: delivered, tried again after a backoff, or failed."""
    now = timezone.now()
    record: dict[str, Any] = {
        "last_response_code": answer.status,
        "response_excerpt": answer.excerpt,
        "duration_ms": answer.duration_ms,
        "error_message": answer.error,
    }
    if answer.ok:
        QUEUE.finish(item, status=DS.DELIVERED, completed_at=now, **record)
        return "delivered"
    if attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        QUEUE.finish(item, status=DS.FAILED, completed_at=now, **record)
        logger.warning(
            "webhook delivery %s failed for good after %d attempts: %s",
            item.id,
            attempts,
            answer.error,
        )
        return "failed"
    delay = backoff_seconds(
        max(1, attempts),
        base=settings.WEBHOOK_RETRY_BASE_SECONDS,
        most=settings.WEBHOOK_RETRY_MAX_SECONDS,
    )
    QUEUE.put_back(item, not_before=now + dt.timedelta(seconds=delay), **record)
    return "retry"


class _Batch:
    """The deliveries of one claimed batch, loaded with their webhooks."""

    def __init__(self, items: list[Claimed]) -> None:
        self.rows = {
            d.pk: d
            for d in WebhookDelivery.objects.filter(
                pk__in=[i.id for i in items], status=DS.PROCESSING
            ).select_related("webhook")
        }

    def __call__(self, item: Claimed) -> str:
        delivery = self.rows.get(item.id)
        if delivery is None or delivery.locked_until != item.lease:
            return "skipped"  # taken over meanwhile
        webhook = delivery.webhook
        if not webhook.is_active and delivery.event_id is not None:
            QUEUE.finish(
                item,
                status=DS.FAILED,
                completed_at=timezone.now(),
                error_message="The webhook was switched off before this was sent.",
            )
            return "failed"
        if not QUEUE.begin(item):
            return "skipped"
        answer = send(webhook, delivery)
        if not answer.ok:
            logger.info(
                "webhook %s (%s): delivery %s attempt %d: %s",
                webhook.pk,
                masked_url(webhook.url),
                delivery.pk,
                item.attempts + 1,
                answer.error,
            )
        return _settle(item, item.attempts + 1, answer)

    def call_timeout(self, item: Claimed) -> float:
        return settings.WEBHOOK_CONNECT_TIMEOUT + settings.WEBHOOK_READ_TIMEOUT + 1


def _on_error(item: Claimed, exc: BaseException) -> str:
    """An unexpected exception (a bug): this delivery only, cause kept."""
    row = WebhookDelivery.objects.filter(pk=item.id).only("attempt_count").first()
    if row is None:
        return "skipped"
    return _settle(
        item,
        max(row.attempt_count, 1),
        Answer(ok=False, error=scrub_text(f"{type(exc).__name__}: {exc}")[:500]),
    )


def deliver_webhooks(
    *, batch: int | None = None, time_budget: float | None = None
) -> Counter:
    """Send pending deliveries until none are left or the budget is spent."""
    return Drain(
        QUEUE,
        budget=time_budget or settings.WEBHOOK_BUDGET,
        batch=batch or settings.WEBHOOK_BATCH,
        prepare=_Batch,
        on_error=_on_error,
    ).run()


def purge_old_deliveries(*, now: dt.datetime | None = None) -> int:
    """Delete delivered and failed deliveries older than the retention."""
    cutoff = (now or timezone.now()) - dt.timedelta(
        days=settings.WEBHOOK_DELIVERY_RETENTION_DAYS
    )
    deleted, _ = WebhookDelivery.objects.filter(
        created_at__lt=cutoff, status__in=[DS.DELIVERED, DS.FAILED]
    ).delete()
    return deleted
