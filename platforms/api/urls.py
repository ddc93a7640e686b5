from config.api import router
from platforms.api.views import (
    EngagementActionViewSet,
    PlatformAccountViewSet,
    PostViewSet,
    ScheduledPostViewSet,
)

router.register("platform-accounts", PlatformAccountViewSet, basename="platformaccount")
router.register("posts", PostViewSet, basename="post")
router.register("scheduled-posts", ScheduledPostViewSet, basename="scheduledpost")
router.register(
    "engagement-actions", EngagementActionViewSet, basename="engagementaction"
)
