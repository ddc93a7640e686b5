from pathlib import Path

import factory
from django.conf import settings
from factory import fuzzy

from content.models import Content, ContentGeneration, TextGeneration
from tests.factories.characters import CharacterFactory, unit

MIME = {
    "image": ("image/png", "png"),
    "video": ("video/mp4", "mp4"),
    "text": ("text/plain", "txt"),
    "audio": ("audio/mpeg", "mp3"),
}


def extension(content_type: str) -> str:
    return MIME.get(content_type, ("application/octet-stream", "bin"))[1]


class ContentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Content
        skip_postgeneration_save = True

    character = factory.SubFactory(CharacterFactory)
    content_type = fuzzy.FuzzyChoice(Content.ContentType.values)
    content_category = fuzzy.FuzzyChoice(["post", "story", "reel", "short"])
    file_path = factory.LazyAttributeSequence(
        lambda o, n: f"content/{o.character.pk}/{n:06d}.{extension(o.content_type)}"
    )
    mime_type = factory.LazyAttribute(
        lambda o: MIME.get(o.content_type, ("application/octet-stream",))[0]
    )
    file_size = fuzzy.FuzzyInteger(10_000, 5_000_000)
    width = factory.LazyAttribute(
        lambda o: 1024 if o.content_type in ("image", "video") else None
    )
    height = factory.LazyAttribute(
        lambda o: 1280 if o.content_type in ("image", "video") else None
    )
    duration = factory.LazyAttribute(
        lambda o: 30 if o.content_type in ("video", "audio") else None
    )
    prompt = factory.Faker("sentence", nb_words=10)
    generation_settings = factory.LazyFunction(
        lambda: {"steps": 30, "cfg_scale": 7, "sampler": "DPM++ 2M"}
    )
    seed = fuzzy.FuzzyInteger(1, 2**31 - 1)
    quality_score = factory.LazyFunction(unit)
    approval_status = Content.ApprovalStatus.PENDING
    is_approved = factory.LazyAttribute(lambda o: o.approval_status == "approved")
    tags = factory.LazyFunction(lambda: ["demo"])

    class Params:
        approved = factory.Trait(approval_status=Content.ApprovalStatus.APPROVED)

    @factory.post_generation
    def media_file(obj, create, extracted, **kwargs):
        """The file the row names exists under MEDIA_ROOT (publishing reads it),
        unless the test passes media_file=False."""
        if not create or extracted is False or not obj.file_path:
            return
        path = Path(settings.MEDIA_ROOT) / obj.file_path
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"test media " + str(obj.pk).encode())


class ContentGenerationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContentGeneration

    character = factory.SubFactory(CharacterFactory)
    job_type = ContentGeneration.JobType.IMAGE
    prompt = factory.Faker("sentence", nb_words=8)
    generation_settings = factory.LazyFunction(
        lambda: {"steps": 20, "cfg_scale": 7, "width": 512, "height": 512}
    )
    priority = fuzzy.FuzzyInteger(1, 10)
    batch_size = 1


class TextGenerationFactory(factory.django.DjangoModelFactory):
    """A caption job for a content of the character (waiting in the queue)."""

    class Meta:
        model = TextGeneration

    character = factory.SubFactory(CharacterFactory)
    purpose = TextGeneration.Purpose.CONTENT_CAPTION
    content = factory.SubFactory(
        ContentFactory,
        character=factory.SelfAttribute("..character"),
        content_type="image",
    )
    platform = "instagram"
