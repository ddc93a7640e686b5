"""The engagement queue: pending actions performed through the adapter, oldest first.

Same rules as publishing: SKIP LOCKED claims through idx_engagement_pending, a
lease on 'processing' rows, retries with backoff (a pending row's locked_until
means "not before"), rate limits that use no retry, credential failures that
park the account.
"""

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from platforms.adapters import (
    AdapterError,
    CredentialsRejected,
    RateLimited,
    assisted_platforms,
    get_adapter,
)
from platforms.models import EngagementAction, PlatformAccount
from platforms.publishing import WAITING_STATUSES

logger = logging.getLogger(__name__)
EA = EngagementAction.Status
CS = PlatformAccount.ConnectionStatus


def claim_engagement_actions(*, limit: int = 50, now=None) -> list:
    now = now or timezone.now()
    lease = dt.timedelta(seconds=settings.PUBLISH_LEASE_SECONDS)
    ready = (
        Q(status=EA.PENDING) & (Q(locked_until__isnull=True) | Q(locked_until__lte=now))
    ) | Q(status=EA.PROCESSING, locked_until__lt=now)
    with transaction.atomic():
        ids = list(
            EngagementAction.objects.filter(ready)
            .filter(platform_account__auto_engagement_enabled=True)
            .exclude(platform_account__connection_status__in=WAITING_STATUSES)
            # no adapter: a person performs these (assisted engagement)
            .exclude(platform_account__platform__in=assisted_platforms())
            .exclude(
                platform_account__connection_status=CS.RATE_LIMITED,
                platform_account__rate_limit_reset_at__gt=now,
            )
            .order_by("created_at")
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("id", flat=True)[:limit]
        )
        if ids:
            EngagementAction.objects.filter(pk__in=ids).update(
                status=EA.PROCESSING, locked_until=now + lease
            )
    return ids


def perform_engagement_action(action_id) -> str:
    action = (
        EngagementAction.objects.select_related("platform_account")
        .filter(pk=action_id, status=EA.PROCESSING)
        .first()
    )
    if action is None:
        return "skipped"
    account = action.platform_account
    try:
        get_adapter(account).perform_engagement(action)
    except RateLimited as exc:
        now = timezone.now()
        PlatformAccount.objects.filter(pk=account.pk).update(
            connection_status=CS.RATE_LIMITED,
            rate_limit_reset_at=now + dt.timedelta(seconds=exc.retry_after),
            last_rate_limit_hit_at=now,
        )
        _update(action, status=EA.PENDING, locked_until=None, error_message=exc.message)
        return "waiting"
    except CredentialsRejected as exc:
        PlatformAccount.objects.filter(pk=account.pk).update(
            connection_status=CS.ERROR, is_connected=False
        )
        _update(action, status=EA.PENDING, locked_until=None, error_message=exc.message)
        return "waiting"
    except AdapterError as exc:
        attempt = action.retry_count + 1
        if not exc.retryable or attempt > settings.ENGAGEMENT_MAX_RETRIES:
            _update(
                action,
                status=EA.FAILED,
                locked_until=None,
                error_message=exc.message[:2000],
            )
            return "failed"
        delay = settings.PUBLISH_RETRY_BASE_SECONDS * 2 ** (attempt - 1)
        _update(
            action,
            status=EA.PENDING,
            retry_count=attempt,
            locked_until=timezone.now() + dt.timedelta(seconds=delay),
            error_message=f"Attempt {attempt} failed, retrying in {delay} s: {exc.message}"[
                :2000
            ],
        )
        return "retry"
    _update(
        action,
        status=EA.COMPLETED,
        completed_at=timezone.now(),
        locked_until=None,
        error_message=None,
    )
    return "completed"


def _update(action, **changes) -> None:
    EngagementAction.objects.filter(pk=action.pk).update(**changes)


def process_engagement_queue(*, batch: int = 50, time_budget: float = 50.0) -> int:
    import time

    deadline = time.monotonic() + time_budget
    done = 0
    while time.monotonic() < deadline:
        ids = claim_engagement_actions(limit=batch)
        if not ids:
            break
        done += sum(perform_engagement_action(pk) == "completed" for pk in ids)
    return done
