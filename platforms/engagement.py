"""The engagement queue: pending actions performed through the adapter, oldest first.

The queue machine (config/workqueue.py) with the same rules as publishing:
claims through idx_engagement_pending on accounts that can take work now
(auto-engagement on, not rate-limited, credentials not failed), nothing while
a publishing hold is on; the attempt journal before each call, so a comment
is never made twice: an action in doubt is reconciled through the adapter's
`engagement_exists` and fails as "outcome unknown" when the platform cannot
tell. Retries back off ("not before" in locked_until); rate limits and
credential failures use no retry.

A comment or reply without text is not taken: the persona's text is written
for it first (content.captions.engagement_texts_request, the text queue), so
no action is performed without its text, and the journal keeps it to once.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from config.workqueue import (
    Claimed,
    WorkQueue,
    durably,
)
from platforms.adapters import (
    PlatformAdapter,
)
from platforms.models import EngagementAction, PublishingHold
from platforms.queues import (
    AccountWork,
    BatchAccounts,
    account_ready_q,
    drain_account_queue,
    publish_backoff,
)

logger = logging.getLogger(__name__)
EA = EngagementAction.Status

# Comment and reply actions still waiting for their text.
AWAITING_TEXT = Q(action_type__in=EngagementAction.TEXT_ACTIONS) & (
    Q(comment_text__isnull=True) | Q(comment_text="")
)

QUEUE = WorkQueue(
    EngagementAction,
    waiting=EA.PENDING,
    processing=EA.PROCESSING,
    order_by=("created_at",),
    lease_seconds=lambda: settings.PUBLISH_LEASE_SECONDS,
    backoff=publish_backoff,
    ready=lambda now: ~AWAITING_TEXT,
    gate=lambda now: (
        Q(platform_account__auto_engagement_enabled=True) & account_ready_q(now)
    ),
)


def claim_engagement_actions(*, limit: int = 50, now=None) -> list[Claimed]:
    if PublishingHold.active():
        return []
    return QUEUE.claim(limit=limit, now=now)


class _Batch:
    def __init__(self, items: list[Claimed], left=None):
        self.rows = {
            a.pk: a
            for a in EngagementAction.objects.select_related("platform_account")
            .defer("platform_account__auth_data")
            .filter(pk__in=[i.id for i in items], status=EA.PROCESSING)
        }
        self.accounts = BatchAccounts(self.rows.values())

    def call_timeout(self, item: Claimed) -> float:
        action = self.rows.get(item.id)
        return self.accounts.call_timeout(action.platform_account) if action else 0.0

    def __call__(self, item: Claimed) -> str:
        action = self.rows.get(item.id)
        if action is None or action.locked_until != item.lease:
            return "skipped"
        action.platform_account = self.accounts.account(action.platform_account)
        return _ActionWork(self.accounts, action, item).run()


class _ActionWork(AccountWork):
    """One engagement action: reconcile, journal, call, record."""

    queue = QUEUE
    noun = "engagement action"

    def run(self) -> str:
        row = self.row
        if (
            row.action_type in EngagementAction.TEXT_ACTIONS
            and not (row.comment_text or "").strip()
            and self.item.in_doubt_since is None
        ):
            # taken back after a lease ran out before its text was written:
            # it waits for the text queue like any other
            return self.wait("Waiting for its text (the persona writes it).")
        return super().run()

    def call(self, adapter: PlatformAdapter, prepared) -> str | None:
        return adapter.perform_engagement(self.row)

    def look_up(self, adapter, since, prepared):
        return adapter.engagement_exists(self.row, since=since)

    def record(self, result) -> str:
        durably(
            lambda: EngagementAction.objects.filter(
                pk=self.row.pk, completed_at__isnull=True
            ).update(
                status=EA.COMPLETED,
                completed_at=timezone.now(),
                locked_until=None,
                attempt_started_at=None,
                error_message=None,
            )
        )
        return "completed"

    def retry(self, message: str) -> str:
        return retry(self.row, self.item, message)


def retry(action: EngagementAction, item: Claimed, message: str) -> str:
    attempt = action.retry_count + 1
    if attempt > settings.ENGAGEMENT_MAX_RETRIES:
        QUEUE.finish(
            item,
            status=EA.FAILED,
            error_message=f"Gave up after {attempt - 1} retries: {message}"[:2000],
        )
        return "failed"
    QUEUE.retry_later(item, attempt=attempt, message=message)
    return "retry"


def process_engagement_queue(
    *, batch: int = 50, time_budget: float | None = None, now=None
) -> int:
    return drain_account_queue(
        QUEUE, _Batch, retry, batch=batch, time_budget=time_budget, now=now
    )["completed"]
