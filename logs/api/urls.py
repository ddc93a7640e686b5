from config.api import router
from logs.api.views import AuditEventViewSet, SystemLogViewSet

router.register("system-logs", SystemLogViewSet, basename="systemlog")
router.register("audit-events", AuditEventViewSet, basename="audit-event")
