import factory
from factory import fuzzy

from logs.models import SystemLog


class SystemLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SystemLog

    log_level = fuzzy.FuzzyChoice(SystemLog.Level.values)
    component = fuzzy.FuzzyChoice(["publisher", "generator", "engagement", "api"])
    message = factory.Faker("sentence")
    metadata = factory.LazyFunction(dict)
