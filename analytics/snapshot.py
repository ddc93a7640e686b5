"""The daily analytics snapshot: one set-based upsert for every account.

Per platform account of a live character and per day (UTC):
- follower_count, following_count, post_count: the account's counters;
- likes_count, comments_count, shares_count, views_count: totals over the
  account's published posts (lifetime; the day-to-day difference is what the
  day brought), as last synced from the platform (post_metrics);
- engagement_rate: average (likes + comments + shares) per post published in
  the last 30 days, as a percentage of followers (0 without followers or posts).

One INSERT ... SELECT ... ON CONFLICT ON CONSTRAINT unique_metric DO UPDATE,
so running it twice for a day rewrites that day's values instead of adding
rows. In the same transaction, every account whose follower count grew since
its previous snapshot emits a 'follower_milestone' event (one INSERT); each
listening rule's own "every" decides whether it crossed a milestone.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from logs.events import emit_selected

RATE_WINDOW_DAYS = 30
MAX_VALUE = "9999999999.99"  # numeric(12,2)

UPSERT = f"""
WITH own AS (
    -- the posts' own numbers, which the fold keeps equal to the latest synced
    -- ones (post_metrics) apart from what was synced since the last fold
    SELECT p.platform_account_id,
           sum(p.likes_count) AS likes,
           sum(p.comments_count) AS comments,
           sum(p.shares_count) AS shares,
           sum(p.views_count) AS views,
           count(*) FILTER (WHERE p.published_at >= %(since)s) AS recent_posts,
           sum(p.likes_count + p.comments_count + p.shares_count)
               FILTER (WHERE p.published_at >= %(since)s) AS recent_engagement
    FROM posts p
    WHERE p.status = 'published' AND p.published_at < %(until)s
    GROUP BY p.platform_account_id
),
pending AS (
    -- what the sync brought since the last fold: its difference from the
    -- posts' own numbers (the counters of a post are not editable elsewhere)
    SELECT p.platform_account_id,
           sum(m.likes_count - p.likes_count) AS likes,
           sum(m.comments_count - p.comments_count) AS comments,
           sum(m.shares_count - p.shares_count) AS shares,
           sum(m.views_count - p.views_count) AS views,
           sum((m.likes_count + m.comments_count + m.shares_count)
               - (p.likes_count + p.comments_count + p.shares_count))
               FILTER (WHERE p.published_at >= %(since)s) AS recent_engagement
    FROM post_metrics m
    JOIN posts p ON p.id = m.post_id
    WHERE m.fold_pending AND p.status = 'published' AND p.published_at < %(until)s
    GROUP BY p.platform_account_id
),
engagement AS (
    SELECT o.platform_account_id,
           o.likes + coalesce(d.likes, 0) AS likes,
           o.comments + coalesce(d.comments, 0) AS comments,
           o.shares + coalesce(d.shares, 0) AS shares,
           o.views + coalesce(d.views, 0) AS views,
           o.recent_posts,
           o.recent_engagement + coalesce(d.recent_engagement, 0) AS recent_engagement
    FROM own o
    LEFT JOIN pending d ON d.platform_account_id = o.platform_account_id
),
stats AS (
    SELECT a.id AS account_id, a.character_id, a.platform,
           a.follower_count, a.following_count, a.post_count,
           coalesce(e.likes, 0) AS likes, coalesce(e.comments, 0) AS comments,
           coalesce(e.shares, 0) AS shares, coalesce(e.views, 0) AS views,
           CASE WHEN a.follower_count > 0 AND coalesce(e.recent_posts, 0) > 0
                THEN round(100.0 * e.recent_engagement / e.recent_posts
                           / a.follower_count, 2)
                ELSE 0 END AS rate
    FROM platform_accounts a
    JOIN characters c ON c.id = a.character_id AND c.deleted_at IS NULL
    LEFT JOIN engagement e ON e.platform_account_id = a.id
)
INSERT INTO analytics (character_id, platform_account_id, platform, metric_date,
                       metric_type, metric_value, metadata)
SELECT s.character_id, s.account_id, s.platform, %(day)s, m.metric_type,
       least(m.value, {MAX_VALUE}), %(metadata)s::jsonb
FROM stats s
CROSS JOIN LATERAL (VALUES
    ('follower_count', s.follower_count::numeric),
    ('following_count', s.following_count::numeric),
    ('post_count', s.post_count::numeric),
    ('likes_count', s.likes::numeric),
    ('comments_count', s.comments::numeric),
    ('shares_count', s.shares::numeric),
    ('views_count', s.views::numeric),
    ('engagement_rate', s.rate::numeric)
) AS m(metric_type, value)
ON CONFLICT ON CONSTRAINT unique_metric DO UPDATE
    SET metric_value = EXCLUDED.metric_value, metadata = EXCLUDED.metadata
"""

# Each account's previous follower count: first among the last
# MILESTONE_RECENT_DAYS days (a literal bound on metric_date, the partition
# key: two or three months' partitions instead of all of them, a tenth of the
# time), and only for an account without a snapshot there, in every partition
# (coalesce evaluates its second argument only when the first is null).
MILESTONE_RECENT_DAYS = 35
MILESTONES = """
SELECT character_id,
       jsonb_build_object(
           'platform', platform,
           'platform_account_id', id::text,
           'previous', trunc(previous)::bigint,
           'current', follower_count
       )
FROM (
    SELECT a.character_id, a.id, a.platform, a.follower_count,
           coalesce(
               (SELECT metric_value FROM analytics
                 WHERE character_id = a.character_id AND platform_account_id = a.id
                   AND metric_type = 'follower_count' AND metric_date < %(day)s
                   AND metric_date >= %(recent)s
                 ORDER BY metric_date DESC LIMIT 1),
               (SELECT metric_value FROM analytics
                 WHERE character_id = a.character_id AND platform_account_id = a.id
                   AND metric_type = 'follower_count' AND metric_date < %(day)s
                 ORDER BY metric_date DESC LIMIT 1)
           ) AS previous
    FROM platform_accounts a
    JOIN characters c ON c.id = a.character_id AND c.deleted_at IS NULL
) accounts
WHERE follower_count > previous
"""


def daily_snapshot(day: dt.date | None = None) -> int:
    """Upsert the day's metrics for every account; returns the rows written."""
    day = day or timezone.now().date()
    until = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)
    params: dict[str, Any] = {
        "day": day,
        "until": until,
        "since": until - dt.timedelta(days=RATE_WINDOW_DAYS),
        "metadata": json.dumps(
            {"source": "daily_snapshot", "rate_window_days": RATE_WINDOW_DAYS}
        ),
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(UPSERT, params)
        written = cursor.rowcount
        _fire_milestones(day)
    return written


def _fire_milestones(day: dt.date) -> None:
    # one INSERT ... SELECT into the outbox (logs.events.emit_selected)
    recent = day - dt.timedelta(days=MILESTONE_RECENT_DAYS)
    emit_selected("follower_milestone", MILESTONES, {"day": day, "recent": recent})
