"""Reads over daily metrics that aggregate."""

from typing import Any, Literal

from django.db.models import Count, DateField, QuerySet, Sum
from django.db.models.functions import Cast, Trunc

from analytics.models import Analytics

Bucket = Literal["day", "week", "month"]


def analytics_series(
    queryset: QuerySet[Analytics], *, bucket: Bucket = "day"
) -> QuerySet[Any]:
    """The rows of `queryset` summed per bucket (date_trunc in the database):
    dicts of bucket (a date), total and samples, oldest bucket first."""
    return (
        queryset.order_by()
        .annotate(bucket=Cast(Trunc("metric_date", bucket), output_field=DateField()))
        .values("bucket")
        .annotate(total=Sum("metric_value"), samples=Count("id"))
        .order_by("bucket")
    )
