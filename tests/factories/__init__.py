"""factory-boy factories for every model, one module per app."""

from tests.factories.analytics import AnalyticsFactory
from tests.factories.automation import AutomationRuleFactory
from tests.factories.characters import (
    BareCharacterFactory,
    CharacterAppearanceFactory,
    CharacterFactory,
    CharacterPersonalityFactory,
)
from tests.factories.content import (
    ContentFactory,
    ContentGenerationFactory,
    TextGenerationFactory,
)
from tests.factories.logs import (
    NotificationFactory,
    SystemLogFactory,
    WebhookDeliveryFactory,
    WebhookFactory,
)
from tests.factories.platforms import (
    EngagementActionFactory,
    PlatformAccountFactory,
    PostFactory,
    ScheduledPostFactory,
)
from tests.factories.users import UserFactory

__all__ = [
    "BareCharacterFactory",
    "AnalyticsFactory",
    "AutomationRuleFactory",
    "CharacterAppearanceFactory",
    "CharacterFactory",
    "CharacterPersonalityFactory",
    "ContentFactory",
    "ContentGenerationFactory",
    "EngagementActionFactory",
    "NotificationFactory",
    "PlatformAccountFactory",
    "PostFactory",
    "ScheduledPostFactory",
    "SystemLogFactory",
    "TextGenerationFactory",
    "UserFactory",
    "WebhookDeliveryFactory",
    "WebhookFactory",
]
