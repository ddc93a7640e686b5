from config.api import router
from logs.api.views import SystemLogViewSet

router.register("system-logs", SystemLogViewSet, basename="systemlog")
