from collections.abc import Iterable

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from analytics.api.serializers import (
    AnalyticsSerializer,
    SeriesPointSerializer,
    SeriesQuerySerializer,
)
from analytics.filtersets import AnalyticsFilterSet, AnalyticsSeriesFilterSet
from analytics.models import Analytics
from analytics.selectors import metric_series
from config.api import CreatedCursorPagination, ModelViewSet
from config.api_fast import CompiledFilterQueries, build_plan

_SERIES_PLAN = build_plan(SeriesPointSerializer())
_SERIES_QUERIES = CompiledFilterQueries(
    lambda queryset, bucket: metric_series(queryset, bucket=bucket)
)


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
        # its SQL compiled once per shape of query: building and compiling the
        # filtered, grouped queryset cost more CPU than the database's answer
        rows: Iterable[dict] | None = _SERIES_QUERIES.rows(self, request, (bucket,))
        if rows is None:
            rows = metric_series(
                self.filter_queryset(self.get_queryset()), bucket=bucket
            )
        if _SERIES_PLAN is None:
            return Response(SeriesPointSerializer(rows, many=True).data)
        # the serializer's own fields, built once per process (config.api_fast)
        return Response(_SERIES_PLAN.render_all(rows))
