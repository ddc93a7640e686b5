import uuid

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination

from config.api import CreatedCursorPagination, GenericViewSet, ReadOnlyModelViewSet
from logs.api.serializers import AuditEventSerializer, SystemLogSerializer
from logs.audit import event_models
from logs.filtersets import SystemLogFilterSet
from logs.models import SystemLog


class SystemLogViewSet(ReadOnlyModelViewSet):
    """The audit and event log (read-only)."""

    queryset = SystemLog.objects.all()
    serializer_class = SystemLogSerializer
    filterset_class = SystemLogFilterSet
    pagination_class = CreatedCursorPagination


class ReadAuditTrail(permissions.BasePermission):
    def has_permission(self, request, view):
        return request.user.has_perm("logs.read_audit_trail")


class AuditCursorPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = ("-pgh_id",)


DOORS = ("admin", "api", "web", "command", "task", "sql")


@extend_schema(
    parameters=[
        OpenApiParameter(
            "object_type",
            OpenApiTypes.STR,
            required=True,
            description="characters.character, characters.characterpersonality, "
            "characters.characterappearance, platforms.platformaccount, "
            "automation.automationrule, content.content, platforms.scheduledpost",
        ),
        OpenApiParameter("object_id", OpenApiTypes.UUID),
        OpenApiParameter("door", OpenApiTypes.STR, enum=list(DOORS)),
        OpenApiParameter("label", OpenApiTypes.STR),
    ]
)
class AuditEventViewSet(mixins.ListModelMixin, GenericViewSet):
    """The audit trail of one kind of row (or one row): Administrators only."""

    serializer_class = AuditEventSerializer
    permission_classes = [permissions.IsAuthenticated, ReadAuditTrail]
    pagination_class = AuditCursorPagination
    filter_backends: list = []
    validates_query_params = True  # 400 naming a bad parameter (schema)
    PARAMS = {"object_type", "object_id", "door", "label", "cursor", "page_size"}

    def get_queryset(self):
        params = self.request.query_params
        unknown = sorted(set(params) - self.PARAMS)
        if unknown:
            raise ValidationError(
                {name: ["Unknown query parameter."] for name in unknown}
            )
        models = event_models()
        kind = params.get("object_type", "")
        if kind not in models:
            raise ValidationError(
                {"object_type": [f"One of: {', '.join(sorted(models))}."]}
            )
        qs = models[kind].objects.all()
        if "object_id" in params:
            qs = qs.filter(pgh_obj_id=self._uuid(params["object_id"]))
        door = params.get("door")
        if door is not None:
            if door not in DOORS:
                raise ValidationError({"door": [f"One of: {', '.join(DOORS)}."]})
            qs = (
                qs.filter(pgh_context__isnull=True)
                if door == "sql"
                else qs.filter(pgh_context__door=door)
            )
        if "label" in params:
            qs = qs.filter(pgh_label=params["label"])
        return qs

    @staticmethod
    def _uuid(value):
        try:
            return uuid.UUID(value)
        except ValueError:
            raise ValidationError({"object_id": ["Not a UUID."]}) from None
