from rest_framework import viewsets

from config.api import CreatedCursorPagination
from logs.api.serializers import SystemLogSerializer
from logs.filtersets import SystemLogFilterSet
from logs.models import SystemLog


class SystemLogViewSet(viewsets.ReadOnlyModelViewSet):
    """The audit and event log (read-only)."""

    queryset = SystemLog.objects.all()
    serializer_class = SystemLogSerializer
    filterset_class = SystemLogFilterSet
    pagination_class = CreatedCursorPagination
    # explicit: only indexed sorts (and no serializer introspection per request)
    ordering_fields = ["created_at"]
