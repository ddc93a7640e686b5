from characters.api.views import CharacterViewSet
from config.api import router

router.register("characters", CharacterViewSet, basename="character")
