from decimal import Decimal

import factory
from factory import fuzzy

from characters.models import Character, CharacterAppearance, CharacterPersonality

TIMEZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo", "Europe/Berlin"]
INTERESTS = ["fitness", "travel", "fashion", "food", "tech", "music", "art", "gaming"]


def unit(o=None):
    return Decimal(factory.random.randgen.randint(0, 100)) / 100


class BareCharacterFactory(factory.django.DjangoModelFactory):
    """A character row alone (to test the 1:1 rows themselves)."""

    class Meta:
        model = Character
        skip_postgeneration_save = True

    name = factory.Faker("name")
    bio = factory.Faker("paragraph", nb_sentences=2)
    age = fuzzy.FuzzyInteger(18, 45)
    location = factory.Faker("city")
    timezone = fuzzy.FuzzyChoice(TIMEZONES)
    interests = factory.LazyFunction(
        lambda: factory.random.randgen.sample(INTERESTS, 3)
    )
    status = Character.Status.ACTIVE
    is_active = True


class CharacterFactory(BareCharacterFactory):
    """A character with its personality and appearance, as the service creates them."""

    personality = factory.RelatedFactory(
        "tests.factories.characters.CharacterPersonalityFactory",
        factory_related_name="character",
    )
    appearance = factory.RelatedFactory(
        "tests.factories.characters.CharacterAppearanceFactory",
        factory_related_name="character",
    )


class CharacterPersonalityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CharacterPersonality

    character = factory.SubFactory(BareCharacterFactory)
    extroversion = factory.LazyFunction(unit)
    creativity = factory.LazyFunction(unit)
    humor = factory.LazyFunction(unit)
    professionalism = factory.LazyFunction(unit)
    authenticity = factory.LazyFunction(unit)
    energy_level = factory.LazyFunction(unit)
    communication_style = fuzzy.FuzzyChoice(
        CharacterPersonality.CommunicationStyle.values
    )
    content_tone = fuzzy.FuzzyChoice(CharacterPersonality.ContentTone.values)
    emoji_usage = fuzzy.FuzzyChoice(CharacterPersonality.EmojiUsage.values)
    preferred_topics = factory.LazyFunction(
        lambda: factory.random.randgen.sample(INTERESTS, 2)
    )


class CharacterAppearanceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CharacterAppearance

    character = factory.SubFactory(BareCharacterFactory)
    face_consistency_method = fuzzy.FuzzyChoice(
        CharacterAppearance.FaceConsistencyMethod.values
    )
    face_consistency_weight = factory.LazyFunction(unit)
    hair_color = fuzzy.FuzzyChoice(["blonde", "brown", "black", "red", "silver"])
    eye_color = fuzzy.FuzzyChoice(["blue", "green", "brown", "hazel"])
    style_keywords = factory.LazyFunction(lambda: ["photorealistic", "soft light"])
    default_prompt_prefix = "portrait photo of a young woman,"
    negative_prompt = "blurry, deformed, watermark"
