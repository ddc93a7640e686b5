import factory

from automation.models import AutomationRule
from tests.factories.characters import CharacterFactory


class AutomationRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AutomationRule

    character = factory.SubFactory(CharacterFactory)
    name = factory.Sequence(lambda n: f"Daily post {n}")
    trigger_type = AutomationRule.TriggerType.SCHEDULE
    trigger_config = factory.LazyFunction(lambda: {"cron": "0 9 * * *"})
    platforms = factory.LazyFunction(lambda: ["instagram"])
    content_type = AutomationRule.ContentType.IMAGE
    caption_template = "{name} says hi from {location}"
    hashtag_strategy = AutomationRule.HashtagStrategy.AUTO
    max_posts_per_day = 3
