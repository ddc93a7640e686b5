"""Filters shared by the FilterSets."""

import datetime as dt

from django_filters import rest_framework as filters


class UTCDateTimeFilter(filters.IsoDateTimeFilter):
    """ISO 8601 date-time, compared in UTC.

    Python accepts offsets up to ±23:59 but PostgreSQL only ±15:59; converting
    to UTC first keeps a valid instant from becoming a database error.
    """

    def filter(self, qs, value):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return super().filter(qs, value)
