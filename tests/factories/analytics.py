import datetime as dt

import factory
from factory import fuzzy

from analytics.models import Analytics
from tests.factories.characters import CharacterFactory
from tests.factories.platforms import PlatformAccountFactory


class AnalyticsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Analytics

    platform_account = factory.SubFactory(PlatformAccountFactory)
    character = factory.SelfAttribute("platform_account.character")
    platform = factory.SelfAttribute("platform_account.platform")
    metric_date = factory.Sequence(lambda n: dt.date(2026, 1, 1) + dt.timedelta(days=n))
    metric_type = Analytics.MetricType.FOLLOWER_COUNT
    metric_value = fuzzy.FuzzyDecimal(100, 100_000)
    metadata = None

    class Params:
        character_wide = factory.Trait(
            platform_account=None,
            platform=None,
            character=factory.SubFactory(CharacterFactory),
        )
