from config.api import router
from content.api.views import (
    ContentGenerationViewSet,
    ContentViewSet,
    TextGenerationViewSet,
)

router.register("content", ContentViewSet, basename="content")
router.register("generations", ContentGenerationViewSet, basename="generation")
router.register("text-generations", TextGenerationViewSet, basename="text-generation")
