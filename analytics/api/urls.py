from analytics.api.views import AnalyticsViewSet
from config.api import router

router.register("analytics", AnalyticsViewSet, basename="analytics")
