"""The engine never reads or sends a file outside MEDIA_ROOT: publish, rules, generation."""

import logging
from decimal import Decimal

import pytest
from django.db import connection

from automation import runs
from content.backends import GeneratedImage, GenerationBackend
from content.generation import process_generation_queue
from content.models import Content, ContentGeneration
from platforms.models import Post, ScheduledPost
from platforms.publishing import _request_for, publish_due_posts
from platforms.queues import Refused
from tests import factories as f
from tests.conftest import SECRET_BYTES
from tests.engine.conftest import later
from tests.fakes.telegram import FakeTelegram

pytestmark = pytest.mark.django_db
TOKEN = "123456:media-test-token"


def _sql_path(content, path):
    """Plain SQL: the row never went through validation."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE content SET file_path = %s WHERE id = %s", [path, content.pk]
        )


@pytest.fixture
def telegram(settings):
    with FakeTelegram() as server:
        settings.TELEGRAM_API_BASE = server.url
        settings.PLATFORM_ADAPTERS = {
            "telegram": "platforms.adapters.telegram.TelegramAdapter"
        }
        yield server


def _telegram_photo(due_post, path):
    account = f.PlatformAccountFactory(
        platform="telegram", auth_data={"bot_token": TOKEN, "chat_id": "-1001"}
    )
    content = f.ContentFactory(
        character=account.character,
        content_type="image",
        file_path="ok/real.png",
        approved=True,
    )
    _sql_path(content, path)
    return due_post(platform_account=account, content=content, caption="Look")


@pytest.mark.parametrize(
    "path",
    ["escape.png", "linkdir/secret.png", "../outside/secret.png", "/etc/passwd"],
)
def test_publishing_refuses_a_file_outside_the_root_and_sends_nothing(
    telegram, due_post, media_root, path
):
    sp = _telegram_photo(due_post, path)
    assert publish_due_posts(now=later()) == 0
    assert telegram.calls == []
    sp.refresh_from_db()
    assert sp.status == ScheduledPost.Status.FAILED
    assert "unsafe file path, not sent" in sp.error_message
    assert not Post.objects.exists()


def test_a_safe_file_still_goes_out(telegram, due_post, media_root):
    sp = _telegram_photo(due_post, "ok/real.png")
    assert publish_due_posts(now=later()) == 1
    (call,) = telegram.calls
    assert call["method"] == "sendPhoto"
    assert b"safe image bytes" in call["body"] and SECRET_BYTES not in call["body"]
    sp.refresh_from_db()
    assert sp.status == ScheduledPost.Status.PUBLISHED


def test_the_publish_request_is_built_through_the_resolver(due_post, media_root):
    root, _ = media_root
    sp = due_post(content=f.ContentFactory(file_path="ok/real.png", approved=True))
    assert _request_for(sp).media_path == str(root.resolve() / "ok" / "real.png")
    _sql_path(sp.content, "escape.png")
    sp.refresh_from_db()
    with pytest.raises(Refused, match="unsafe file path, not sent"):
        _request_for(sp)


def test_the_rule_engine_skips_content_whose_file_leaves_the_root(media_root, caplog):
    character = f.CharacterFactory()
    f.PlatformAccountFactory(character=character, platform="instagram")
    common = {
        "character": character,
        "content_type": "image",
        "approved": True,
        "quality_score": Decimal("0.9"),
        "is_nsfw": False,
    }
    # least used: the engine would take this one first
    unsafe = f.ContentFactory(**common, times_used=0)
    _sql_path(unsafe, "escape.png")
    safe = f.ContentFactory(**common, file_path="ok/real.png", times_used=5)
    rule = f.AutomationRuleFactory(
        character=character,
        platforms=["instagram"],
        trigger_type="manual",
        trigger_config={},
        cooldown_minutes=0,
        max_posts_per_day=None,
    )
    with caplog.at_level(logging.WARNING, logger="automation.selectors"):
        result = runs.run_rule(rule.pk)
    assert result.outcome == "scheduled" and result.content_id == safe.pk
    assert not ScheduledPost.objects.filter(content=unsafe).exists()
    assert f"content {unsafe.pk} not scheduled" in caplog.text
    # with only the unsafe row left, nothing is scheduled
    ScheduledPost.objects.all().delete()
    Content.objects.filter(pk=safe.pk).delete()
    assert runs.run_rule(rule.pk).outcome == "nothing"


class EscapingBackend(GenerationBackend):
    """A generator whose answer tries to pick where the file is written."""

    call_timeout = 1.0  # fits the drain's time budget

    def generate_images(self, request):
        return [GeneratedImage(b"not an image", 1, 1, 1, extension="/../../../x")]


def test_a_generation_result_cannot_choose_a_path_outside_the_root(media_root):
    root, _ = media_root
    job = f.ContentGenerationFactory(max_retries=3)
    process_generation_queue(backend=EscapingBackend())
    job.refresh_from_db()
    assert job.status == ContentGeneration.Status.FAILED and job.retry_count == 0
    assert "unusable file extension" in job.error_message
    assert not Content.objects.exists()
    assert sorted(p.name for p in root.parent.iterdir()) == ["media", "outside"]


def test_generated_files_are_stored_under_the_root_with_safe_paths(media_root):
    from content.backends import LocalImageBackend
    from content.media_paths import media_path_problem

    f.ContentGenerationFactory(batch_size=2)
    process_generation_queue(backend=LocalImageBackend())
    paths = list(Content.objects.values_list("file_path", flat=True))
    assert len(paths) == 2
    assert all(media_path_problem(p) is None for p in paths)
