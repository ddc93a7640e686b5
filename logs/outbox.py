"""The event dispatcher: drains the outbox (`events`) on the queue machine.

1. The claim takes pending events, oldest first (idx_events_pending), plus
   'processing' ones whose lease ran out (a dispatcher died), in batches of
   EVENT_DISPATCH_BATCH.
2. Each batch is handed to every consumer in settings.EVENT_CONSUMERS (dotted
   paths of `consume(events) -> handle(event)`): `consume` prepares the batch
   (who listens: a query per batch, not per event), `handle` is called per
   event. Then the event is 'done'.
3. Consumers are idempotent per event: an event whose dispatcher crashed is
   delivered again, to every consumer. An event whose handling raised is
   retried after a backoff and, after EVENT_MAX_ATTEMPTS, left 'failed' with
   the error (one bad event never holds the others up).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string

from config.transitions import transition
from config.workqueue import Claimed, Drain, WorkQueue, backoff_seconds
from logs.models import Event

logger = logging.getLogger(__name__)
ES = Event.Status
Handler = Callable[[Event], None]
Consumer = Callable[[Sequence[Event]], Handler]

QUEUE = WorkQueue(
    Event,
    waiting=ES.PENDING,
    processing=ES.PROCESSING,
    order_by=("created_at",),
    lease_seconds=lambda: settings.EVENT_LEASE_SECONDS,
)


def consumers() -> list[Consumer]:
    return [import_string(path) for path in settings.EVENT_CONSUMERS]


class _Batch:
    """The events of one claimed batch, prepared by every consumer at once."""

    def __init__(self, items: list[Claimed]) -> None:
        self.events = {
            event.pk: event
            for event in Event.objects.filter(
                pk__in=[i.id for i in items], status=ES.PROCESSING
            )
        }
        batch = sorted(self.events.values(), key=lambda e: e.created_at)
        self.handlers = [consume(batch) for consume in consumers()]

    def __call__(self, item: Claimed) -> str:
        event = self.events.get(item.id)
        if event is None or event.locked_until != item.lease:
            return "skipped"  # taken over meanwhile
        if not QUEUE.begin(item):
            return "skipped"
        for handle in self.handlers:
            handle(event)
        QUEUE.finish(item, status=ES.DONE, error_message=None)
        return "done"

    def call_timeout(self, item: Claimed) -> float:
        return settings.EVENT_HANDLER_TIMEOUT


def _on_error(item: Claimed, exc: BaseException) -> str:
    """A consumer raised on this event: try it again later, or give up."""
    event = Event.objects.filter(pk=item.id).only("attempt_count").first()
    if event is None:
        return "skipped"
    cause = f"{type(exc).__name__}: {exc}"[:2000]
    if event.attempt_count >= settings.EVENT_MAX_ATTEMPTS:
        QUEUE.finish(item, status=ES.FAILED, error_message=cause)
        logger.error("event %s failed for good: %s", item.id, cause)
        return "failed"
    delay = backoff_seconds(
        event.attempt_count, base=settings.EVENT_RETRY_BASE_SECONDS, most=3600
    )
    QUEUE.put_back(
        item,
        not_before=timezone.now() + dt.timedelta(seconds=delay),
        error_message=cause,
    )
    return "retry"


def dispatch_events(
    *, batch: int | None = None, time_budget: float | None = None
) -> Counter:
    """Hand pending events to the consumers until none are left or the
    budget is spent; returns the outcomes (done, retry, failed ...)."""
    return Drain(
        QUEUE,
        budget=time_budget or settings.EVENT_DISPATCH_BUDGET,
        batch=batch or settings.EVENT_DISPATCH_BATCH,
        prepare=_Batch,
        on_error=_on_error,
    ).run()


def events_retry(*, queryset: QuerySet[Event], actor: Any = None) -> int:
    """Failed events back in the outbox with fresh attempts (audited)."""
    return transition(
        queryset=queryset,
        allowed_from=[ES.FAILED],
        changes={
            "status": ES.PENDING,
            "locked_until": None,
            "attempt_count": 0,
            "error_message": None,
        },
        actor=actor,
        component="events",
        message="Failed event queued again",
    )
