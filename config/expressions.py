"""Query expressions the ORM does not have."""

from django.db.models import IntegerField, Subquery


class CountOf(Subquery):
    """The number of rows of a correlated queryset: ``(SELECT count(*) FROM
    (<queryset>) AS counted)``, 0 when there are none.

    The usual ORM spelling, ``values(fk).annotate(n=Count("*")).values("n")[:1]``
    wrapped in Coalesce, makes PostgreSQL group by the outer key before it
    counts (a GroupAggregate per outer row); this is a plain aggregate over the
    same index scan: on the character list (50 characters, 1,000 posts each) the
    query went from 4.5 to 3.4 ms. PostgreSQL pulls the inner query up, so the
    columns it selects cost nothing.
    """

    template = "(SELECT count(*) FROM (%(subquery)s) AS counted)"
    output_field = IntegerField()

    def __init__(self, queryset, **extra):
        super().__init__(queryset.order_by().values("pk"), **extra)
