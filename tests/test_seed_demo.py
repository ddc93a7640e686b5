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
