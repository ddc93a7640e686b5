"""`manage.py seed_demo` builds a demo world once."""

import pytest
from django.core.management import call_command

from analytics.models import Analytics
from characters.models import Character
from content.models import Content
from platforms.models import PlatformAccount, Post, ScheduledPost


@pytest.mark.django_db
def test_seed_demo_creates_a_world_and_is_idempotent(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path
    call_command("seed_demo", days=10, verbosity=0)
    counts = {
        m.__name__: m._base_manager.count()
        for m in (Character, Content, PlatformAccount, Post, ScheduledPost, Analytics)
    }
    assert counts["Character"] == 6
    assert counts["Post"] > 6 * 15
    assert counts["Analytics"] >= 6 * 2 * 10 * 4
    assert set(Content.objects.values_list("content_type", flat=True)) == {
        "image",
        "video",
        "text",
        "audio",
    }
    images = Content.objects.filter(content_type="image")
    assert all((tmp_path / c.file_path).is_file() for c in images)
    for character in Character.objects.all():
        character.personality, character.appearance  # noqa: B018 (both exist)

    call_command("seed_demo", days=10, verbosity=0)
    call_command("seed_demo", "--if-empty", verbosity=0)
    assert Character.objects.count() == 6
    assert Post.objects.count() == counts["Post"]


@pytest.mark.django_db
def test_demo_personas_write_in_voices_that_differ(tmp_path, settings):
    """The local text backend writes each persona's captions from its
    personality: emoji use, style and energy show in the text."""
    from content.text_backends import EMOJI

    settings.MEDIA_ROOT = tmp_path
    settings.MODERATION_BACKEND = ""
    call_command("seed_demo", days=2, verbosity=0)

    def captions(name):
        rows = Content.objects.filter(
            character__name=name, caption_status="approved", content_type="image"
        ).values_list("caption", flat=True)
        assert rows, name
        return list(rows)

    noah, zara, kai = (
        captions("Noah Brooks"),
        captions("Zara Quinn"),
        captions("Kai Nakamura"),
    )
    assert all(not EMOJI.findall(c) for c in noah)  # emoji: none
    assert all(5 <= len(EMOJI.findall(c)) <= 7 for c in zara)  # emoji: heavy
    assert all(len(EMOJI.findall(c)) <= 1 for c in kai)  # emoji: minimal
    assert all("!" in c for c in zara) and all("!" not in c for c in noah)
    assert all(
        c.startswith(("Reminder:", "Believe it:", "Here's to growth:")) for c in noah
    )
    # the demo's posts read in the same voices
    assert Post.objects.filter(character__name="Zara Quinn", caption__in=zara).exists()
