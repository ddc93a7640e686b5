"""Reads on characters that join or aggregate."""

import datetime as dt
import uuid
from typing import Any

from django.db import models
from django.db.models import Count, OuterRef, QuerySet

from characters.models import Character
from config.expressions import CountOf
from platforms.models import PlatformAccount, Post

CharacterId = uuid.UUID | str


def _count_subquery(model: type[models.Model], **filters: Any) -> CountOf:
    # count(*): an index-only scan of the FK index
    return CountOf(
        model._default_manager.filter(character_id=OuterRef("pk"), **filters)
    )


def characters_with_stats(
    queryset: QuerySet[Character] | None = None,
) -> QuerySet[Character]:
    """Characters with personality, appearance, post_count and platform_count.

    The document's query pattern 1 in one query. Counts are correlated
    subqueries rather than the document's double LEFT JOIN + COUNT(DISTINCT):
    that join multiplies posts by accounts before grouping, which is quadratic
    for a busy character; each subquery is one index scan
    (idx_posts_character, idx_plat_accounts_character).
    """
    queryset = Character.objects.all() if queryset is None else queryset
    return queryset.select_related("personality", "appearance").annotate(
        post_count=_count_subquery(Post),
        platform_count=_count_subquery(PlatformAccount),
    )


def character_with_stats(character_id: CharacterId) -> Character:
    """One character as `characters_with_stats` gives it (raises DoesNotExist)."""
    return characters_with_stats().get(pk=character_id)


# --- The document's cache (section 7.3) ----------------------------------------
# Character reads go through Django's cache (Redis) for five minutes and are
# invalidated whenever the character, its personality or its appearance
# changes (characters/signals.py and the services that use queryset.update()).

CHARACTER_CACHE_TTL = 300


def character_cache_key(character_id: CharacterId) -> str:
    return f"character:{character_id}"


def character_with_stats_cached(character_id: CharacterId) -> Character:
    """`character_with_stats`, cached; raises Character.DoesNotExist."""
    from django.core.cache import cache

    key = character_cache_key(character_id)
    character = cache.get(key)
    if character is None:
        character = character_with_stats(character_id)
        cache.set(key, character, CHARACTER_CACHE_TTL)
    return character


def character_api_cache_key(character_id: CharacterId) -> str:
    """The API's serialized detail (serializing costs more than the query)."""
    return f"character:{character_id}:api"


def character_cache_invalidate(*character_ids: CharacterId | None) -> None:
    from django.core.cache import cache

    cache.delete_many(
        [
            key
            for pk in character_ids
            if pk
            for key in (character_cache_key(pk), character_api_cache_key(pk))
        ]
    )


def characters_count_by_status() -> dict[str, int]:
    """{status: count} over every character, soft-deleted ones included."""
    rows = (
        Character.all_objects.order_by().values_list("status").annotate(n=Count("pk"))
    )
    return dict(rows)


CHART_METRICS = ("follower_count", "engagement_rate")


# The charts first look for the latest day among the last SERIES_RECENT_DAYS:
# a constant bound on metric_date, the partition key, lets the planner drop
# the older months' partitions (planning all fifteen was half the read).
SERIES_RECENT_DAYS = 35


def character_metric_series(
    *,
    character_id: CharacterId,
    metrics: tuple[str, ...] = CHART_METRICS,
    days: int = 90,
) -> dict[str, dict[str, list[tuple[dt.date, float]]]]:
    """{metric: {platform: [(date, value), ...]}} for a character's charts.

    The `days` days up to the character's latest recorded day (not up to
    today, so that a character whose sync stopped still shows its last curve),
    on idx_analytics_character_date. Rows without a platform (character-wide)
    come under "all". One query when the character has numbers from the last
    SERIES_RECENT_DAYS days (its latest day is then among them, and so are
    the rows: the same answer over the recent partitions only); a second one
    over every partition otherwise.
    """
    from django.utils import timezone

    since = timezone.now().date() - dt.timedelta(days=SERIES_RECENT_DAYS)
    result = _metric_series(character_id, metrics, days, since=since)
    if not any(result.values()):
        result = _metric_series(character_id, metrics, days, since=None)
    return result


# One statement, written out: the ORM built the same query (a subquery for
# the latest day, a Coalesce, an alias) in about 2 ms of CPU, every page.
# Each bound on metric_date is a constant when `since` is given (the
# partition key: the planner prunes on it); `latest - days` is a date.
_SERIES_SQL = """
SELECT metric_type, coalesce(platform, 'all'), metric_date, metric_value::float8
FROM analytics
WHERE character_id = %(character)s AND metric_type = ANY(%(metrics)s){recent}
  AND metric_date > (
      SELECT max(metric_date) FROM analytics
      WHERE character_id = %(character)s AND metric_type = ANY(%(metrics)s){latest}
  ) - %(days)s
ORDER BY 1, 2, 3
"""
_SERIES_RECENT = _SERIES_SQL.format(
    recent=" AND metric_date > %(oldest)s", latest=" AND metric_date >= %(since)s"
)
_SERIES_ALL = _SERIES_SQL.format(recent="", latest="")


def _metric_series(
    character_id: CharacterId,
    metrics: tuple[str, ...],
    days: int,
    *,
    since: dt.date | None,
) -> dict[str, dict[str, list[tuple[dt.date, float]]]]:
    from django.db import connection

    params: dict[str, Any] = {
        "character": character_id,
        "metrics": list(metrics),
        "days": days,
    }
    if since is not None:
        # the latest day is since or later, so every row shown is after
        # since - days: both bounds are constants the planner prunes with
        params |= {"since": since, "oldest": since - dt.timedelta(days=days)}
    result: dict[str, dict[str, list[tuple[dt.date, float]]]] = {m: {} for m in metrics}
    with connection.cursor() as cursor:
        cursor.execute(_SERIES_ALL if since is None else _SERIES_RECENT, params)
        for metric, series, day, value in cursor.fetchall():
            result[metric].setdefault(series, []).append((day, value))
    return result
