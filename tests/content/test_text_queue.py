"""The text queue against a loopback OpenAI-compatible server: what is sent,
what is recorded, retries with backoff, permanent errors, the journal."""

import datetime as dt

import pytest
from django.utils import timezone

from content.models import Content, TextGeneration
from content.services import character_voice_preview, content_captions_request
from content.textgen import QUEUE, claim_text_jobs, process_text_queue
from tests import factories as f
from tests.fakes.chat import KEY_ERROR

pytestmark = pytest.mark.django_db
S = TextGeneration.Status


def backoff_over(job):
    TextGeneration.objects.filter(pk=job.pk).update(locked_until=timezone.now())


@pytest.fixture
def caption_job():
    character = f.CharacterFactory(name="Kai Nakamura", age=29, location="Tokyo")
    content = f.ContentFactory(
        character=character,
        content_type="image",
        prompt="portrait photo of a young woman, neon street at night",
        tags=["nightlife"],
    )
    [job] = content_captions_request(
        queryset=Content.objects.filter(pk=content.pk), platform="twitter"
    )
    return job


def test_a_caption_is_written_through_chat_completions_and_recorded(chat, caption_job):
    outcomes = process_text_queue()
    assert outcomes["completed"] == 1

    [request] = chat.completions
    assert request["model"] == "gpt-test" and request["temperature"] == 0.7
    system, user = request["messages"]
    assert system["role"] == "system" and system["content"].startswith(
        "You are Kai Nakamura, 29 years old, living in Tokyo."
    )
    assert "neon street at night" in user["content"] and "on X" in user["content"]
    assert chat.calls[0]["authorization"] == "Bearer sk-test-key-for-the-fake"

    caption_job.refresh_from_db()
    assert caption_job.status == S.COMPLETED
    # the rendered prompt is kept with what it produced
    assert caption_job.system_prompt == system["content"]
    assert caption_job.user_prompt == user["content"]
    assert caption_job.model == "gpt-test-2026-01-01"
    assert caption_job.backend == "Chat Completions (gpt-test)"
    assert caption_job.prompt_tokens > 0 and caption_job.completion_tokens > 0
    assert caption_job.duration_ms is not None and caption_job.completed_at
    assert caption_job.attempt_count == 1 and caption_job.attempt_started_at is None
    content = Content.objects.get(pk=caption_job.content_id)
    assert content.caption == "Golden light and good coffee, says Kai Nakamura."
    # X takes two hashtags from the persona
    assert content.hashtags == ["sunset", "coffee"]
    assert content.caption_status == "pending"  # a person approves it


def test_a_caption_fits_the_platforms_limit(chat, caption_job):
    chat.reply = lambda request: ("word " * 200).strip() + "\nHashtags: #a #b #c #d"
    process_text_queue()
    content = Content.objects.get(pk=caption_job.content_id)
    # X: 280 weighted characters for caption, blank line and hashtags
    assert len(content.caption) + len("\n\n#a #b") <= 280
    assert content.caption.endswith("…") and content.hashtags == ["a", "b"]


@pytest.mark.parametrize(
    "mode,expected",
    [
        ("429", "rate limiting us (HTTP 429)"),
        ("500", "failed (HTTP 500)"),
        ("slow", "did not answer within 1 s"),
        ("empty", "answered without any text"),
    ],
)
def test_transient_failures_retry_with_backoff_then_give_up(
    chat, caption_job, settings, mode, expected
):
    chat.mode, chat.slow_seconds = mode, 1.5
    settings.TEXT_RETRY_BASE_SECONDS = 2
    TextGeneration.objects.filter(pk=caption_job.pk).update(max_retries=2)
    for attempt in (1, 2):
        before = timezone.now()
        process_text_queue()
        caption_job.refresh_from_db()
        assert caption_job.status == S.PENDING and caption_job.retry_count == attempt
        assert expected in caption_job.error_message
        delay = caption_job.locked_until - before
        if mode == "429":  # the server's Retry-After (7 s) beats the backoff
            assert delay >= dt.timedelta(seconds=7)
        else:
            assert delay >= dt.timedelta(seconds=2 * 2 ** (attempt - 1))
        assert claim_text_jobs() == []  # not before its time
        backoff_over(caption_job)
    process_text_queue()
    caption_job.refresh_from_db()
    assert caption_job.status == S.FAILED
    assert caption_job.error_message.startswith("Gave up after 2 retries")
    assert Content.objects.get(pk=caption_job.content_id).caption is None


def test_a_4xx_is_a_permanent_error_with_the_servers_reason(chat, caption_job):
    chat.mode = "400"
    process_text_queue()
    caption_job.refresh_from_db()
    assert caption_job.status == S.FAILED and caption_job.retry_count == 0
    assert "refused the request (HTTP 400)" in caption_job.error_message
    assert "maximum context length" in caption_job.error_message


def test_a_refused_key_is_permanent_and_never_quoted(chat, caption_job, caplog):
    chat.mode = "401"
    process_text_queue()
    caption_job.refresh_from_db()
    assert caption_job.status == S.FAILED
    assert "refused the API key (HTTP 401)" in caption_job.error_message
    assert "sk-" not in caption_job.error_message and "sk-" not in caplog.text
    assert KEY_ERROR not in caplog.text


def test_a_job_in_doubt_counts_as_an_attempt(chat, caption_job):
    [item] = QUEUE.claim(limit=1)
    assert QUEUE.begin(item)  # the worker died right after journaling
    TextGeneration.objects.filter(pk=caption_job.pk).update(
        locked_until=timezone.now() - dt.timedelta(seconds=1)
    )
    process_text_queue()
    caption_job.refresh_from_db()
    assert caption_job.status == S.PENDING and caption_job.retry_count == 1
    assert "its worker stopped before saving the text" in caption_job.error_message
    assert chat.completions == []


def test_jobs_are_taken_by_priority_then_age_and_leased(caption_job):
    preview = character_voice_preview(character=caption_job.character)
    assert claim_text_jobs(limit=1) == [preview.pk]  # someone is looking at it
    assert claim_text_jobs(limit=5) == [caption_job.pk]
    assert claim_text_jobs(limit=5) == []
    caption_job.refresh_from_db()
    assert caption_job.status == S.PROCESSING and caption_job.locked_until


def test_a_cancelled_job_is_never_written(chat, caption_job):
    [item] = QUEUE.claim(limit=1)
    TextGeneration.objects.filter(pk=item.id).update(status=S.CANCELLED)
    QUEUE.release([item])
    assert process_text_queue()["completed"] == 0
    assert chat.completions == []


def test_a_voice_preview_writes_three_samples(chat):
    character = f.CharacterFactory(name="Maya Laurent")
    answers = iter(["One.", "Two.", "Three."])
    chat.reply = lambda request: next(answers)
    job = character_voice_preview(character=character)
    process_text_queue()
    job.refresh_from_db()
    assert job.status == S.COMPLETED and len(chat.completions) == 3
    assert [s["caption"] for s in job.samples] == ["One.", "Two.", "Three."]
    assert job.prompt_tokens == sum(
        len(m["content"].split()) for r in chat.completions for m in r["messages"]
    )


def test_nothing_runs_unscreened_when_moderation_is_misconfigured(
    chat, caption_job, settings
):
    settings.MODERATION_BACKEND = "content.moderation.ModerationEndpoint"
    settings.MODERATION_API_BASE_URL = ""
    settings.TEXT_API_BASE_URL = ""
    assert process_text_queue() == {"not_configured": 1}
    caption_job.refresh_from_db()
    assert caption_job.status == S.PENDING
