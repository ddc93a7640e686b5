import uuid

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    inline_serializer,
)
from rest_framework import mixins, permissions, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from config.api import (
    CreatedCursorPagination,
    GenericViewSet,
    ModelPermissions,
    ModelViewSet,
    ReadOnlyModelViewSet,
    state_action,
)
from logs.api.serializers import (
    AuditEventSerializer,
    SystemLogSerializer,
    WebhookDeliverySerializer,
    WebhookSerializer,
)
from logs.audit import event_models
from logs.filtersets import (
    SystemLogFilterSet,
    WebhookDeliveryFilterSet,
    WebhookFilterSet,
)
from logs.models import SystemLog, Webhook, WebhookDelivery
from logs.webhooks import webhook_deliveries_retry, webhook_send_test


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


class ManageWebhooks(permissions.BasePermission):
    """Webhooks, read or written: Administrators only (their URLs and
    secrets are credentials), as with platform accounts' credentials."""

    def has_permission(self, request, view):
        return request.user.has_perm("logs.change_webhook")


class WebhookViewSet(ModelViewSet):
    """Outgoing webhooks. `secret` and `url` are write-only."""

    # the secret is never decrypted to answer (a write sets it)
    queryset = Webhook.objects.defer("secret")
    serializer_class = WebhookSerializer
    filterset_class = WebhookFilterSet
    permission_classes = [permissions.IsAuthenticated, ModelPermissions, ManageWebhooks]
    ordering_fields = ["name", "created_at"]
    ordering = ["name"]

    @extend_schema(
        request=None,
        responses={
            202: inline_serializer(
                "WebhookTestQueued", {"delivery_id": serializers.UUIDField()}
            )
        },
        description="Queues a signed test delivery (see webhook-deliveries).",
    )
    @action(detail=True, methods=["post"], url_path="send-test")
    def send_test(self, request, pk=None):
        delivery = webhook_send_test(webhook=self.get_object())
        return Response({"delivery_id": delivery.pk}, status=status.HTTP_202_ACCEPTED)


class RetryDeliveries(permissions.BasePermission):
    def has_permission(self, request, view):
        return request.user.has_perm("logs.change_webhookdelivery")


class WebhookDeliveryViewSet(ReadOnlyModelViewSet):
    """The webhook delivery log (read-only); a failed one can be retried."""

    # the webhook's id and name only (never its secret or URL)
    queryset = WebhookDelivery.objects.select_related("webhook").defer(
        "webhook__secret", "webhook__url"
    )
    serializer_class = WebhookDeliverySerializer
    filterset_class = WebhookDeliveryFilterSet
    pagination_class = CreatedCursorPagination
    ordering_fields = ["created_at"]

    @state_action(
        WebhookDeliverySerializer,
        description="Queues a failed delivery again with fresh attempts.",
        permission_classes=[permissions.IsAuthenticated, RetryDeliveries],
    )
    def retry(self, request, pk=None):
        return self.changed(
            webhook_deliveries_retry(queryset=self.the_row(), actor=request.user),
            "Only a failed delivery can be sent again.",
        )
