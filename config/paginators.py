"""A paginator for the admin's big tables that never counts the whole table.

Django's changelist asks its paginator for `count`, which is a
`SELECT COUNT(*)` over the (filtered) queryset: a sequential scan of millions
of rows on posts, analytics or system_logs. Here:

- an unfiltered queryset takes PostgreSQL's own estimate, `pg_class.reltuples`
  (kept fresh by autovacuum's ANALYZE); a small or never-analysed table
  (reltuples is -1 until the first ANALYZE) is counted for real, which is cheap;
- a filtered queryset is counted for real under a short statement_timeout, and
  when that runs out, the planner's row estimate for the same query is used.

The admin shows the number in "N results" and in the page links only, so an
estimate is good enough; `show_full_result_count = False` on the ModelAdmin
removes the other full COUNT(*) the changelist would run.
"""

import json

from django.core.paginator import Paginator
from django.db import DatabaseError, connections, transaction
from django.db.models import Model, QuerySet
from django.utils.functional import cached_property

# Below this many (estimated) rows a real COUNT(*) is fast and exact.
EXACT_COUNT_BELOW = 10_000
# How long a filtered COUNT(*) may take before the planner's estimate is used.
COUNT_TIMEOUT_MS = 200


# A partitioned table (analytics, system_logs: config/ops/partitions.py) holds no
# rows itself and autovacuum never analyses it: its estimate is the sum over
# its partitions, which autovacuum does keep fresh.
ESTIMATE_SQL = """
SELECT CASE WHEN bool_and(c.reltuples < 0) THEN -1
            ELSE sum(greatest(c.reltuples, 0)) END::bigint
FROM pg_class c
WHERE (c.oid = %(table)s::regclass AND c.relkind <> 'p')
   OR c.oid IN (SELECT relid FROM pg_partition_tree(%(table)s::regclass) WHERE isleaf)
"""


def estimated_table_rows(model: type[Model], using: str = "default") -> int:
    """pg_class.reltuples for the model's table (summed over its partitions):
    -1 when never analysed."""
    with connections[using].cursor() as cursor:
        cursor.execute(ESTIMATE_SQL, {"table": model._meta.db_table})
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None else -1


def planner_row_estimate(queryset: QuerySet) -> int:
    """The planner's estimated row count for the queryset (EXPLAIN, no execution)."""
    plan = json.loads(queryset.order_by().explain(format="json"))
    return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    """Paginator whose `count` avoids a full COUNT(*) on big tables."""

    @cached_property
    def count(self) -> int:
        qs = self.object_list
        if not isinstance(qs, QuerySet):
            return super().count
        if not qs.query.where:
            estimate = estimated_table_rows(qs.model, qs.db)
            if estimate >= EXACT_COUNT_BELOW:
                return estimate
            return qs.count()
        return self._bounded_count(qs)

    @staticmethod
    def _bounded_count(qs: QuerySet) -> int:
        try:
            # The savepoint confines both the timeout (set_config(..., true) is
            # SET LOCAL) and a cancelled statement to this block.
            with transaction.atomic(using=qs.db):
                with connections[qs.db].cursor() as cursor:
                    cursor.execute(
                        "SELECT current_setting('statement_timeout'), "
                        "set_config('statement_timeout', %s, true)",
                        [str(COUNT_TIMEOUT_MS)],
                    )
                    previous = cursor.fetchone()[0]
                count = qs.count()
                with connections[qs.db].cursor() as cursor:
                    # SET LOCAL would otherwise outlive a released savepoint.
                    cursor.execute(
                        "SELECT set_config('statement_timeout', %s, true)", [previous]
                    )
                return count
        except DatabaseError:
            return planner_row_estimate(qs)
