"""Numbers back from the platforms: the periodic metrics sync.

1. `claim_accounts_for_sync` takes connected accounts not synced for
   METRICS_SYNC_INTERVAL_MINUTES (never-synced and "mark for re-sync" first)
   whose platform is not rate-limiting them, with SELECT ... FOR UPDATE SKIP
   LOCKED, and leases them (`sync_locked_until`) in one short transaction.
   It is the only place that knows how accounts are claimed, so it can move
   onto the shared queue machine as it is.
2. `fetch_account_metrics` asks each account's adapter for its numbers and its
   recent posts' metrics (published within METRICS_SYNC_POST_DAYS), in the
   batches the adapter's API allows. It writes nothing.
3. `apply_account_stats` and `apply_post_metrics` write a whole batch set-based:
   one UPDATE ... FROM unnest(arrays) per table, never a statement per post.

A rate limit marks the account rate-limited until the platform's reset (the
publisher waits too); refused credentials park it as publishing does; an
adapter that cannot give numbers (dry run, no adapter) is skipped quietly.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from platforms.adapters import (
    AdapterError,
    CredentialsRejected,
    NotConfigured,
    RateLimited,
    get_adapter,
)
from platforms.models import PlatformAccount, Post
from platforms.queues import credentials_failed

logger = logging.getLogger(__name__)
CS = PlatformAccount.ConnectionStatus


@dataclass
class AccountMetrics:
    """What one account's sync brought back."""

    account_id: uuid.UUID
    stats: dict | None = None
    # (platform, platform_post_id, likes, comments, shares, views)
    posts: list[tuple] = field(default_factory=list)
    problem: AdapterError | None = None


def claim_accounts_for_sync(
    *, limit: int = 20, now: dt.datetime | None = None
) -> list[uuid.UUID]:
    """Claim up to `limit` accounts due for a metrics sync; their ids."""
    now = now or timezone.now()
    due = now - dt.timedelta(minutes=settings.METRICS_SYNC_INTERVAL_MINUTES)
    lease = now + dt.timedelta(seconds=settings.METRICS_SYNC_LEASE_SECONDS)
    with transaction.atomic():
        ids = list(
            PlatformAccount.objects.filter(is_connected=True)
            .filter(Q(last_synced_at__isnull=True) | Q(last_synced_at__lt=due))
            .filter(Q(sync_locked_until__isnull=True) | Q(sync_locked_until__lt=now))
            .exclude(connection_status__in=(CS.ERROR, CS.SUSPENDED, CS.DISCONNECTED))
            .exclude(connection_status=CS.RATE_LIMITED, rate_limit_reset_at__gt=now)
            # never synced (or marked for re-sync) first, then the stalest
            .order_by(F("last_synced_at").asc(nulls_first=True), "id")
            .select_for_update(skip_locked=True)
            .values_list("id", flat=True)[:limit]
        )
        if ids:
            PlatformAccount.objects.filter(pk__in=ids).update(sync_locked_until=lease)
    return ids


def fetch_account_metrics(
    account: PlatformAccount, post_ids: list[str]
) -> AccountMetrics:
    """One account's numbers from its platform (no database writes)."""
    result = AccountMetrics(account.pk)
    adapter = get_adapter(account)
    try:
        result.stats = adapter.fetch_stats()
        if post_ids:
            metrics = adapter.fetch_post_metrics(post_ids)
            result.posts = [
                (
                    account.platform,
                    pid,
                    m.get("likes", 0),
                    m.get("comments", 0),
                    m.get("shares", 0),
                    m.get("views", 0),
                )
                for pid, m in metrics.items()
            ]
    except NotConfigured:
        pass  # this adapter has no numbers (dry run, no adapter)
    except AdapterError as exc:
        result.problem = exc
    return result


def apply_account_stats(
    results: list[AccountMetrics], *, now: dt.datetime | None = None
) -> int:
    """One UPDATE for the batch's accounts: numbers (where known), last_synced_at,
    lease released."""
    now = now or timezone.now()
    done = [r for r in results if r.problem is None]
    if not done:
        return 0

    def column(key: str) -> list[Any]:
        return [(r.stats or {}).get(key) for r in done]

    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE platform_accounts a
               SET follower_count = COALESCE(v.followers, a.follower_count),
                   following_count = COALESCE(v.following, a.following_count),
                   post_count = COALESCE(v.posts, a.post_count),
                   last_synced_at = %s,
                   sync_locked_until = NULL
              FROM unnest(%s::uuid[], %s::int[], %s::int[], %s::int[])
                   AS v(id, followers, following, posts)
             WHERE a.id = v.id
            """,
            [
                now,
                [r.account_id for r in done],
                column("follower_count"),
                column("following_count"),
                column("post_count"),
            ],
        )
        return cursor.rowcount


def apply_post_metrics(rows: list[tuple], *, now: dt.datetime | None = None) -> int:
    """One UPDATE ... FROM unnest() for a batch of (platform, platform_post_id,
    likes, comments, shares, views): the join follows the partial unique index
    on (platform, platform_post_id)."""
    if not rows:
        return 0
    now = now or timezone.now()
    platforms, pids, likes, comments, shares, views = (
        list(c) for c in zip(*rows, strict=True)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE posts p
               SET likes_count = v.likes,
                   comments_count = v.comments,
                   shares_count = v.shares,
                   views_count = v.views,
                   last_engagement_sync_at = %s
              FROM unnest(%s::text[], %s::text[], %s::int[], %s::int[], %s::int[], %s::int[])
                   AS v(platform, pid, likes, comments, shares, views)
             WHERE p.platform = v.platform AND p.platform_post_id = v.pid
            """,
            [now, platforms, pids, likes, comments, shares, views],
        )
        return cursor.rowcount


def _recent_post_ids(account_ids: list[Any], *, now: dt.datetime) -> dict:
    since = now - dt.timedelta(days=settings.METRICS_SYNC_POST_DAYS)
    ids: dict = {pk: [] for pk in account_ids}
    rows = Post.objects.filter(
        platform_account_id__in=account_ids,
        status=Post.Status.PUBLISHED,
        published_at__gte=since,
        platform_post_id__isnull=False,
    ).values_list("platform_account_id", "platform_post_id")
    for account_id, pid in rows:
        ids[account_id].append(pid)
    return ids


def _record_problems(
    results: list[AccountMetrics],
    accounts: dict[Any, PlatformAccount],
    *,
    now: dt.datetime,
) -> None:
    for r in results:
        exc = r.problem
        if exc is None:
            continue
        changes: dict = {"sync_locked_until": None}
        if isinstance(exc, RateLimited):
            changes |= {
                "connection_status": CS.RATE_LIMITED,
                "rate_limit_reset_at": now + dt.timedelta(seconds=exc.retry_after),
                "last_rate_limit_hit_at": now,
            }
        elif isinstance(exc, CredentialsRejected):
            account = accounts[r.account_id]
            credentials_failed(
                account.pk,
                character_id=account.character_id,
                platform=account.platform,
                reason=exc.message,
            )
        PlatformAccount.objects.filter(pk=r.account_id).update(**changes)
        logger.warning("metrics sync of account %s: %s", r.account_id, exc.message)


def sync_claimed(
    account_ids: list[uuid.UUID], *, now: dt.datetime | None = None
) -> dict:
    """Fetch and apply the metrics of claimed accounts; counts of what happened."""
    now = now or timezone.now()
    accounts = list(PlatformAccount.objects.filter(pk__in=account_ids))
    post_ids = _recent_post_ids([a.pk for a in accounts], now=now)
    results = [fetch_account_metrics(a, post_ids[a.pk]) for a in accounts]
    posts = [row for r in results for row in r.posts]
    with transaction.atomic():
        synced = apply_account_stats(results, now=now)
        updated = apply_post_metrics(posts, now=now)
    _record_problems(results, {a.pk: a for a in accounts}, now=now)
    return {"accounts": synced, "posts": updated, "problems": len(results) - synced}


def sync_platform_metrics(
    *, batch: int = 20, time_budget: float = 240.0, now: dt.datetime | None = None
) -> dict:
    """Claim and sync due accounts until none are left or the budget is spent."""
    deadline = time.monotonic() + time_budget
    totals = {"accounts": 0, "posts": 0, "problems": 0}
    while time.monotonic() < deadline:
        claimed = claim_accounts_for_sync(limit=batch, now=now)
        if not claimed:
            break
        for key, value in sync_claimed(claimed, now=now).items():
            totals[key] += value
    return totals
