"""Filters shared by the FilterSets."""

import datetime as dt

from django_filters import rest_framework as filters
from rest_framework.exceptions import ValidationError


def param_name(filter_) -> str:
    """The query parameter `filter_` reads (its name in its FilterSet)."""
    filters_ = getattr(getattr(filter_, "parent", None), "filters", {})
    return next(
        (k for k, f in filters_.items() if f is filter_), filter_.field_name or ""
    )


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
                    {param_name(self): ["This date-time is out of range."]}
                ) from exc
        return super().filter(qs, value)


# django-filter's ModelChoiceFilter's message for an unknown choice
INVALID_CHOICE = (
    "Select a valid choice. That choice is not one of the available choices."
)


class LiveCharacterFilter(filters.UUIDFilter):
    """`character=<id>` of a live character, without a query of its own.

    django-filter's ModelChoiceFilter reads the character (a query, half a
    millisecond of a posts page's four) before the list's own query, only to
    answer 400 for an unknown or deleted one. Here the list's query itself
    keeps to a live character (`character__deleted_at__isnull`, one index
    lookup joined in), and whether the character exists is asked only when
    the page comes back empty (`check_deferred_filters`): a page with rows
    proves it. The answers are the ModelChoiceFilter's, 400s included.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("field_name", "character")
        kwargs.setdefault(
            "help_text", "A live character's id (unknown or deleted: 400)."
        )
        super().__init__(**kwargs)

    # filter() takes the same path whatever the id: a list may compile its
    # query once with a stand-in id (config.api_fast), calling note() for
    # each request's own id
    compiles = True

    def note(self, value) -> None:
        """Ask after an empty page whether `value` names a live character
        (once: a compiled list that falls back to the ORM notes it again)."""
        request = getattr(getattr(self, "parent", None), "request", None)
        if request is not None:
            checks = request.__dict__.setdefault("deferred_filter_checks", [])
            check = (param_name(self), value)
            if check not in checks:
                checks.append(check)

    def filter(self, qs, value):
        if value in (None, ""):
            return qs
        self.note(value)
        return qs.filter(
            **{
                f"{self.field_name}_id": value,
                f"{self.field_name}__deleted_at__isnull": True,
            }
        )


def check_deferred_filters(request) -> None:
    """After an empty page: a 400 for a character filter naming no live
    character, as ModelChoiceFilter would have answered before the query."""
    from characters.models import Character

    for param, value in getattr(request, "deferred_filter_checks", ()):
        if not Character.objects.filter(pk=value).exists():
            raise ValidationError({param: [INVALID_CHOICE]})
