"""The engagement queue: pending actions performed through the adapter, oldest first.

The queue machine (config/workqueue.py) with the same rules as publishing:
claims through idx_engagement_pending on accounts that can take work now
(auto-engagement on, not rate-limited, credentials not failed), nothing while
a publishing hold is on; the attempt journal before each call, so a comment
is never made twice: an action in doubt is reconciled through the adapter's
`engagement_exists` and fails as "outcome unknown" when the platform cannot
tell. Retries back off ("not before" in locked_until); rate limits and
credential failures use no retry.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from config.workqueue import (
    INTERRUPTS,
    Claimed,
    Drain,
    WorkQueue,
    backoff_seconds,
    durably,
)
from platforms.adapters import (
    AdapterError,
    CredentialsRejected,
    OutcomeUnknown,
    PlatformAdapter,
    RateLimited,
)
from platforms.models import EngagementAction, PublishingHold
from platforms.queues import (
    UNREADABLE_CREDENTIALS_WAIT,
    BatchAccounts,
    CredentialsUnreadable,
    account_credentials_failed,
    account_rate_limited,
    account_ready_q,
    why_account_waits,
)

logger = logging.getLogger(__name__)
EA = EngagementAction.Status

QUEUE = WorkQueue(
    EngagementAction,
    waiting=EA.PENDING,
    processing=EA.PROCESSING,
    order_by=("created_at",),
    lease_seconds=lambda: settings.PUBLISH_LEASE_SECONDS,
    gate=lambda now: (
        Q(platform_account__auto_engagement_enabled=True) & account_ready_q(now)
    ),
)


def claim_engagement_actions(*, limit: int = 50, now=None) -> list[Claimed]:
    if PublishingHold.active():
        return []
    return QUEUE.claim(limit=limit, now=now)


class _Batch:
    def __init__(self, items: list[Claimed]):
        self.rows = {
            a.pk: a
            for a in EngagementAction.objects.select_related("platform_account")
            .defer("platform_account__auth_data")
            .filter(pk__in=[i.id for i in items], status=EA.PROCESSING)
        }
        self.accounts = BatchAccounts()

    def call_timeout(self, item: Claimed) -> float:
        action = self.rows.get(item.id)
        return self.accounts.call_timeout(action.platform_account) if action else 0.0

    def __call__(self, item: Claimed) -> str:
        action = self.rows.get(item.id)
        if action is None or action.locked_until != item.lease:
            return "skipped"
        action.platform_account = self.accounts.account(action.platform_account)
        return _Attempt(self, action, item).run()


class _Attempt:
    def __init__(self, batch: _Batch, action: EngagementAction, item: Claimed):
        self.batch, self.action, self.item = batch, action, item
        self.account = action.platform_account

    def run(self) -> str:
        waits = why_account_waits(self.account, timezone.now())
        if waits:
            QUEUE.put_back(self.item, settled=False, error_message=waits)
            return "waiting"
        try:
            adapter = self.batch.accounts.adapter(self.account)
        except CredentialsUnreadable as exc:
            logger.error("engagement action %s waits: %s", self.action.pk, exc)
            QUEUE.put_back(
                self.item,
                settled=False,
                not_before=timezone.now() + UNREADABLE_CREDENTIALS_WAIT,
                error_message=f"Waiting: {exc}",
            )
            return "waiting"
        if self.item.in_doubt_since is not None:
            outcome = self._reconcile(adapter, self.item.in_doubt_since, None)
            if outcome is not None:
                return outcome
        if not QUEUE.begin(self.item):
            return "skipped"
        started = timezone.now()
        try:
            adapter.perform_engagement(self.action)
        except RateLimited as exc:
            return self._wait(account_rate_limited(self.account, exc))
        except CredentialsRejected as exc:
            return self._wait(account_credentials_failed(self.account, exc))
        except OutcomeUnknown as exc:
            return self._reconcile(adapter, started, exc.message) or retry(
                self.action, self.item, exc.message
            )
        except AdapterError as exc:
            if exc.retryable:
                return retry(self.action, self.item, exc.message)
            return self._fail(exc.message)
        except INTERRUPTS:
            raise  # the drain gives the row back, still in doubt
        except Exception as exc:  # noqa: BLE001 - raised mid-call: it may have happened
            logger.exception("engagement action %s raised", self.action.pk)
            cause = f"{type(exc).__name__}: {exc}"
            return self._reconcile(adapter, started, cause) or retry(
                self.action, self.item, cause
            )
        return self._done()

    def _reconcile(
        self, adapter: PlatformAdapter, started: dt.datetime, cause: str | None
    ) -> str | None:
        """Did the attempt begun at `started` happen? None: it did not."""
        try:
            found = adapter.engagement_exists(self.action, since=started)
        except RateLimited as exc:
            return self._wait(account_rate_limited(self.account, exc), settled=False)
        except CredentialsRejected as exc:
            return self._wait(
                account_credentials_failed(self.account, exc), settled=False
            )
        if found is False:
            return None
        if found is None:
            # a call of this run (cause given) or of a stopped worker
            attempt = self.action.attempt_count + 1 if cause else self.item.attempts
            why = f"{cause}. " if cause else "its worker stopped before recording it; "
            return self._fail(
                f"Outcome unknown: attempt {attempt} began at "
                f"{started:%Y-%m-%d %H:%M:%S} UTC; {why}the platform cannot tell "
                "whether it happened. Check the account, then retry or cancel."
            )
        return self._done()

    def _wait(self, message: str, *, settled: bool = True) -> str:
        QUEUE.put_back(self.item, settled=settled, error_message=message[:2000])
        return "waiting"

    def _fail(self, message: str) -> str:
        QUEUE.finish(self.item, status=EA.FAILED, error_message=message[:2000])
        return "failed"

    def _done(self) -> str:
        durably(
            lambda: EngagementAction.objects.filter(
                pk=self.action.pk, completed_at__isnull=True
            ).update(
                status=EA.COMPLETED,
                completed_at=timezone.now(),
                locked_until=None,
                attempt_started_at=None,
                error_message=None,
            )
        )
        return "completed"


def retry(action: EngagementAction, item: Claimed, message: str) -> str:
    attempt = action.retry_count + 1
    if attempt > settings.ENGAGEMENT_MAX_RETRIES:
        QUEUE.finish(
            item,
            status=EA.FAILED,
            error_message=f"Gave up after {attempt - 1} retries: {message}"[:2000],
        )
        return "failed"
    delay = backoff_seconds(
        attempt,
        base=settings.PUBLISH_RETRY_BASE_SECONDS,
        most=settings.PUBLISH_RETRY_MAX_SECONDS,
    )
    QUEUE.put_back(
        item,
        retry_count=attempt,
        not_before=timezone.now() + dt.timedelta(seconds=delay),
        error_message=f"Attempt {attempt} failed, retrying in {delay} s: {message}"[
            :2000
        ],
    )
    return "retry"


def _on_error(item: Claimed, exc: BaseException) -> str:
    action = EngagementAction.objects.filter(pk=item.id).first()
    if action is None:
        return "skipped"
    cause = f"{type(exc).__name__}: {exc}"
    if action.attempt_started_at is not None:
        QUEUE.put_back(
            item,
            settled=False,
            not_before=timezone.now()
            + dt.timedelta(seconds=settings.PUBLISH_RETRY_BASE_SECONDS),
            error_message=f"Interrupted: {cause}"[:2000],
        )
        return "waiting"
    return retry(action, item, cause)


def process_engagement_queue(
    *, batch: int = 50, time_budget: float = 50.0, now=None
) -> int:
    if PublishingHold.active():
        return 0
    return Drain(
        QUEUE,
        budget=time_budget,
        batch=batch,
        prepare=_Batch,
        on_error=_on_error,
        now=now,
    ).run()["completed"]
