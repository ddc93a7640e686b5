import datetime as dt
import uuid
from collections.abc import Iterable

import django_filters as filters
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django_filters.constants import EMPTY_VALUES
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import action
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.settings import api_settings

from analytics.api.serializers import (
    AnalyticsSerializer,
    SeriesPointSerializer,
    SeriesQuerySerializer,
)
from analytics.filtersets import AnalyticsFilterSet, AnalyticsSeriesFilterSet
from analytics.models import Analytics
from analytics.selectors import metric_series
from config.api import CreatedCursorPagination, ModelViewSet
from config.api_fast import CompiledQuery, build_plan
from config.api_filters import StrictFilterBackend, StrictOrderingFilter

_SERIES_PLAN = build_plan(SeriesPointSerializer())


class AnalyticsCursorPagination(CreatedCursorPagination):
    # idx_analytics_date-style access: newest metric days first.
    ordering = ("-metric_date", "id")


class AnalyticsViewSet(ModelViewSet):
    queryset = Analytics.objects.all()
    serializer_class = AnalyticsSerializer
    filterset_class = AnalyticsFilterSet
    pagination_class = AnalyticsCursorPagination
    ordering_fields = ["metric_date", "created_at"]
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]
    # query parameters besides the filters (config.api_filters); `series` adds bucket
    extra_query_params: tuple = ()

    @extend_schema(
        filters=True,
        parameters=[
            OpenApiParameter(
                "bucket",
                OpenApiTypes.STR,
                enum=["day", "week", "month"],
                description="Bucket width (date_trunc in the database).",
            ),
        ],
        responses={200: SeriesPointSerializer(many=True)},
    )
    @action(
        detail=False,
        methods=["get"],
        filterset_class=AnalyticsSeriesFilterSet,
        pagination_class=None,
        extra_query_params=("bucket",),
    )
    def series(self, request):
        """Time series of one metric for one character, summed per bucket."""
        query = SeriesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        bucket = query.validated_data.get("bucket", "day")
        rows: Iterable[dict] | None = self._compiled_series(request, bucket)
        if rows is None:
            rows = metric_series(
                self.filter_queryset(self.get_queryset()), bucket=bucket
            )
        if _SERIES_PLAN is None:
            return Response(SeriesPointSerializer(rows, many=True).data)
        # the serializer's own fields, built once per process (config.api_fast)
        return Response([_SERIES_PLAN.render(row) for row in rows])

    # (filters given and their types, bucket, time zone) -> the series' SQL
    # compiled with stand-ins (None: that shape keeps the ORM)
    _series_queries: dict[tuple, CompiledQuery | None] = {}

    def _compiled_series(self, request, bucket: str) -> list[dict] | None:
        """The series' rows through its SQL compiled once per shape of query
        (config.api_fast.CompiledQuery): building and compiling the filtered,
        grouped queryset cost more CPU than the database's answer. The query
        is validated as the filter backends validate it (the same 400s); None
        (the ORM's way) for what this does not cover: an ordering parameter,
        other filter backends, a view with its own `get_queryset`, a FilterSet
        with its own `filter_queryset` or `qs`, a value that is not text, a UUID or a date (the account filter's
        model instance)."""
        if _SERIES_PLAN is None or api_settings.ORDERING_PARAM in request.query_params:
            return None
        if list(self.filter_backends) != [StrictFilterBackend, StrictOrderingFilter]:
            return None
        if type(self).get_queryset is not GenericAPIView.get_queryset:
            # a queryset made per request (a user's scope) is not compiled once
            return None
        queryset = self.get_queryset()
        filterset = StrictFilterBackend().validated_filterset(request, queryset, self)
        values = {
            name: value
            for name, value in filterset.form.cleaned_data.items()
            if value not in EMPTY_VALUES
        }
        kind = type(filterset)
        if (
            # a FilterSet that filters its own way is used its own way
            kind.filter_queryset is not filters.FilterSet.filter_queryset
            or kind.qs is not filters.FilterSet.qs
            or not all(
                type(value) in _STAND_INS and _plain(filterset.filters[name], value)
                for name, value in values.items()
            )
        ):
            return None
        shape = (
            tuple(sorted((name, type(value)) for name, value in values.items())),
            bucket,
            timezone.get_current_timezone_name(),
        )
        if shape not in self._series_queries:
            stand_ins = {n: _STAND_INS[type(v)]() for n, v in values.items()}
            for name, stand_in in stand_ins.items():
                queryset = filterset.filters[name].filter(queryset, stand_in)
            try:
                compiled = CompiledQuery(
                    metric_series(queryset, bucket=bucket), stand_ins
                )
            except ImproperlyConfigured:
                compiled = None
            if len(self._series_queries) < 256:
                self._series_queries[shape] = compiled
        else:
            compiled = self._series_queries[shape]
        return None if compiled is None else compiled.rows(values)


def _plain(filter_, value) -> bool:
    """Whether `filter_` filters on `value` whatever it is (a stand-in takes
    the same path): django-filter's own filter or choice filter, no method,
    not the choice filter's null value (which filters on IS NULL)."""
    return (
        type(filter_).filter in (filters.Filter.filter, filters.ChoiceFilter.filter)
        and filter_.method is None
        and value != getattr(filter_, "null_value", None)
    )


# Stand-ins by the type of a filter's cleaned value: new objects each time
# (CompiledQuery finds each by identity among the SQL's parameters).
_STAND_INS = {
    str: lambda: f"stand-in {uuid.uuid4().hex}",
    uuid.UUID: uuid.uuid4,
    dt.date: lambda: dt.date(1, 1, 1),
}
