from config.api import router
from content.api.views import ContentGenerationViewSet, ContentViewSet

router.register("content", ContentViewSet, basename="content")
router.register("generations", ContentGenerationViewSet, basename="generation")
