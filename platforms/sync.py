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
   one statement per table (accounts: UPDATE ... FROM unnest(arrays); posts:
   UPDATE ... FROM a scratch table filled by COPY), never one per post.
   Post numbers go to the narrow post_metrics table; `post_metrics_fold`
   (a task of its own, queued by each sync that brought numbers and periodic
   as a safety net, METRICS_FOLD_INTERVAL_MINUTES) copies those that changed
   into the posts' cached columns.

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

from analytics.models import AnalyticsMetricType
from analytics.snapshot import MAX_VALUE
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
METRIC_TYPES = frozenset(AnalyticsMetricType.values)


@dataclass
class AccountMetrics:
    """What one account's sync brought back."""

    account_id: uuid.UUID
    stats: dict | None = None
    # (post id, likes, comments, shares, views)
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


# posts' and post_metrics' counters are the schema's INTEGER columns
COUNT_MAX = 2**31 - 1


def _count(value: Any) -> int:
    """A platform's counter as the columns can hold it: missing is 0, a number
    over INTEGER's range (a video with billions of views) is held at its top
    instead of failing the whole batch's write."""
    return min(max(int(value or 0), 0), COUNT_MAX)


def fetch_account_metrics(
    account: PlatformAccount, post_ids: dict[str, uuid.UUID]
) -> AccountMetrics:
    """One account's numbers from its platform (no database writes).

    `post_ids` maps the platform's ids of the account's recent posts to our
    posts' ids; numbers for an id we did not ask about are dropped."""
    result = AccountMetrics(account.pk)
    adapter = get_adapter(account)
    try:
        result.stats = adapter.fetch_stats()
        if post_ids:
            metrics = adapter.fetch_post_metrics(list(post_ids))
            result.posts = [
                (
                    post_ids[pid],
                    _count(m.get("likes")),
                    _count(m.get("comments")),
                    _count(m.get("shares")),
                    _count(m.get("views")),
                )
                for pid, m in metrics.items()
                if pid in post_ids
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


# The batch's values travel by COPY into a scratch table (psycopg adapting
# 100,000 UUIDs into a uuid[] parameter took longer than the UPDATE itself), then
# one UPDATE: it finds each row through post_metrics' primary key and changes
# no indexed column, so it is a HOT update (the table's fillfactor leaves room
# on each page, migration 0014); when it left rows of the batch, rows for posts
# synced for the first time are inserted by a second statement, only for posts
# that still exist (a post deleted since the sync read its id is skipped, not
# an error).
#
# The join is pinned to one plan (the SET LOCALs below, undone with the drop):
# each batch row probes post_metrics' primary key, a nested loop whose cost
# follows the batch, not the table. Left to the planner, the plan flipped with
# post_metrics' statistics: after an autovacuum's ANALYZE it chose a merge join
# that read the whole primary key in its order (1M entries in random heap
# order: 1.3-1.5 s for a batch of 100,000, against 0.6 s), and its other
# choice, a hash join, reads the whole table too, a cost that grows with every
# post ever synced (BENCHMARKS.md, "Metrics apply").
BATCH_TABLE = """
CREATE TEMP TABLE post_metrics_batch (
    post_id uuid, likes bigint, comments bigint, shares bigint, views bigint
) ON COMMIT DROP;
SET LOCAL enable_hashjoin = off;
SET LOCAL enable_mergejoin = off
"""
# dropped now, not at commit: a caller may apply several batches in one
# transaction, and its later statements get the planner as it was
BATCH_DONE = """
DROP TABLE post_metrics_batch;
RESET enable_hashjoin;
RESET enable_mergejoin
"""
# COPY's binary format, written by psycopg's C dumpers row by row: 100,000
# rows go in a third of the time the text format took to build and parse
# (text: the UUIDs formatted by Python, then parsed again by the server). The
# numbers travel as int8: the binary int4 dumper wraps a number over 2**31
# around instead of refusing it, while int8 reaches the server, whose cast into
# post_metrics' integer columns refuses it ("integer out of range").
BATCH_TYPES = ("uuid", "int8", "int8", "int8", "int8")
UPDATE_POST_METRICS = """
UPDATE post_metrics m
   SET likes_count = v.likes, comments_count = v.comments,
       shares_count = v.shares, views_count = v.views, synced_at = %(now)s,
       fold_pending = true
  -- in key order, successive probes walk neighbouring index pages
  -- (8-20 per cent faster for 100,000 rows than the batch's arrival order)
  FROM (SELECT * FROM post_metrics_batch ORDER BY post_id) v
 WHERE m.post_id = v.post_id
"""
# Run only when the UPDATE left rows of the batch (posts synced for the first
# time): the usual sync skips this anti-join. A RETURNING of the UPDATE with
# this INSERT in one statement cost a tenth of the apply (100,000 ids kept
# for the count).
INSERT_POST_METRICS = """
INSERT INTO post_metrics (post_id, likes_count, comments_count, shares_count,
                          views_count, synced_at)
SELECT v.post_id, v.likes, v.comments, v.shares, v.views, %(now)s
  FROM post_metrics_batch v
 WHERE NOT EXISTS (SELECT 1 FROM post_metrics m WHERE m.post_id = v.post_id)
   AND EXISTS (SELECT 1 FROM posts p WHERE p.id = v.post_id)
    ON CONFLICT (post_id) DO NOTHING
"""


def apply_post_metrics(rows: list[tuple], *, now: dt.datetime | None = None) -> int:
    """Record a batch of (post id, likes, comments, shares, views) in
    post_metrics: four statements whatever the batch's size (scratch table,
    COPY, one UPDATE, drop), five when it holds posts synced for the first
    time (their INSERT); the number of posts recorded. The posts' own columns
    follow with `post_metrics_fold`."""
    if not rows:
        return 0
    now = now or timezone.now()
    # no savepoint inside a caller's transaction: an error fails the batch
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(BATCH_TABLE)
        with cursor.cursor.copy(
            "COPY post_metrics_batch FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(BATCH_TYPES)
            for row in rows:
                copy.write_row(row)
        cursor.execute(UPDATE_POST_METRICS, {"now": now})
        recorded = cursor.rowcount
        if recorded < len(rows):
            cursor.execute(INSERT_POST_METRICS, {"now": now})
            recorded += cursor.rowcount
        cursor.execute(BATCH_DONE)
    return recorded


# A platform's own number of a day (stats["daily"]: {metric type: (day,
# value)}, e.g. a Facebook Page's views as impressions) kept as that day's
# analytics row of the account, one statement for the batch; a later sync
# of the same day replaces it.
DAILY_METRICS = f"""
INSERT INTO analytics (character_id, platform_account_id, platform, metric_date,
                       metric_type, metric_value, metadata)
SELECT a.character_id, a.id, a.platform, v.day, v.metric,
       least(v.value, {MAX_VALUE}), '{{"source": "platform"}}'::jsonb
  FROM unnest(%s::uuid[], %s::date[], %s::text[], %s::numeric[])
       AS v(account_id, day, metric, value)
  JOIN platform_accounts a ON a.id = v.account_id
ON CONFLICT ON CONSTRAINT unique_metric DO UPDATE
    SET metric_value = EXCLUDED.metric_value, metadata = EXCLUDED.metadata
"""


def apply_daily_metrics(results: list[AccountMetrics]) -> int:
    """The batch's daily numbers (stats["daily"]) into analytics; how many."""
    rows = [
        (r.account_id, day, metric, value)
        for r in results
        if r.problem is None
        for metric, (day, value) in ((r.stats or {}).get("daily") or {}).items()
        if metric in METRIC_TYPES and value is not None and value >= 0
    ]
    if not rows:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            DAILY_METRICS, [list(column) for column in zip(*rows, strict=True)]
        )
        return cursor.rowcount


# A chunk of post_metrics' pages (a TID range scan: the heap in its order) whose
# rows the sync changed since the last fold (`fold_pending`), folded into posts
# where a number differs: posts gets a new row version (and an entry in each of
# its indexes) only for posts whose numbers moved. A row synced again while the
# chunk runs keeps its flag (the synced_at check), so the next fold takes it.
FOLD_CHUNK = """
WITH chunk AS (
    SELECT post_id, likes_count, comments_count, shares_count, views_count,
           synced_at
      FROM post_metrics
     WHERE ctid >= %(lo)s::tid AND ctid < %(hi)s::tid AND fold_pending
       -- rows a running apply holds stay pending for the next fold: the fold
       -- never waits, so it cannot deadlock with a sync locking in its order
       FOR UPDATE SKIP LOCKED
),
folded AS (
    UPDATE posts p
       SET likes_count = c.likes_count, comments_count = c.comments_count,
           shares_count = c.shares_count, views_count = c.views_count,
           last_engagement_sync_at = c.synced_at
      FROM chunk c
     WHERE p.id = c.post_id
       AND (p.likes_count, p.comments_count, p.shares_count, p.views_count)
           IS DISTINCT FROM
           (c.likes_count, c.comments_count, c.shares_count, c.views_count)
 RETURNING 1
),
done AS (
    UPDATE post_metrics m
       SET fold_pending = false
      FROM chunk c
     WHERE m.post_id = c.post_id AND m.synced_at = c.synced_at
)
SELECT count(*) FROM folded
"""


def post_metrics_fold(*, chunk_pages: int = 500) -> int:
    """Copy the synced numbers that changed from post_metrics into the posts'
    cached columns (the ones the engagement sorts' indexes cover), one short
    transaction per chunk of pages; the number of posts changed."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_relation_size('post_metrics') "
            "/ current_setting('block_size')::int"
        )
        (pages,) = cursor.fetchone()
    folded = 0
    for lo in range(0, pages, chunk_pages):
        # one transaction per chunk (no savepoint when the caller has one open)
        with transaction.atomic(savepoint=False), connection.cursor() as cursor:
            cursor.execute(
                FOLD_CHUNK, {"lo": f"({lo},0)", "hi": f"({lo + chunk_pages},0)"}
            )
            folded += cursor.fetchone()[0]
    return folded


def _recent_post_ids(account_ids: list[Any], *, now: dt.datetime) -> dict:
    """Per account, {platform post id: post id} of its recent published posts."""
    since = now - dt.timedelta(days=settings.METRICS_SYNC_POST_DAYS)
    ids: dict = {pk: {} for pk in account_ids}
    rows = Post.objects.filter(
        platform_account_id__in=account_ids,
        status=Post.Status.PUBLISHED,
        published_at__gte=since,
        platform_post_id__isnull=False,
    ).values_list("platform_account_id", "platform_post_id", "id")
    for account_id, pid, post_id in rows:
        ids[account_id][pid] = post_id
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
        apply_daily_metrics(results)
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
