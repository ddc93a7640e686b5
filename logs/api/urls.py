from config.api import router
from logs.api.views import (
    AuditEventViewSet,
    SystemLogViewSet,
    WebhookDeliveryViewSet,
    WebhookViewSet,
)

router.register("system-logs", SystemLogViewSet, basename="systemlog")
router.register("audit-events", AuditEventViewSet, basename="audit-event")
router.register("webhooks", WebhookViewSet, basename="webhook")
router.register(
    "webhook-deliveries", WebhookDeliveryViewSet, basename="webhookdelivery"
)
