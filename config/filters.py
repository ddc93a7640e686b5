"""Filters shared by the FilterSets."""

import datetime as dt

from django_filters import rest_framework as filters
from rest_framework.exceptions import ValidationError


class UTCDateTimeFilter(filters.IsoDateTimeFilter):
    """ISO 8601 date-time, compared in UTC.

    Python accepts offsets up to ±23:59 but PostgreSQL only ±15:59; converting
    to UTC first keeps a valid instant from becoming a database error.
    """

    def filter(self, qs, value):
        if value is not None and value.tzinfo is not None:
            try:
                value = value.astimezone(dt.UTC)
            except OverflowError as exc:  # 0001-01-01T00:00+01:00 is year 0 in UTC
                raise ValidationError(
                    {self._param(): ["This date-time is out of range."]}
                ) from exc
        return super().filter(qs, value)

    def _param(self) -> str:
        """The query parameter this filter reads (its name in the FilterSet)."""
        filters_ = getattr(getattr(self, "parent", None), "filters", {})
        return next(
            (k for k, f in filters_.items() if f is self), self.field_name or ""
        )
