"""The generation queue: claims, backends (local files, a fake SD web UI), retries."""

import datetime as dt
import threading
from pathlib import Path

import pytest
from django.db import connection, connections
from django.utils import timezone
from PIL import Image

from content.backends import LocalImageBackend, StableDiffusionWebUIBackend
from content.generation import (
    claim_generations,
    process_generation_queue,
    run_generation,
)
from content.models import Content, ContentGeneration
from content.services import generations_cancel
from tests import factories as f
from tests.fakes.sdwebui import FakeWebUI

S = ContentGeneration.Status


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def webui(settings):
    with FakeWebUI() as server:
        settings.SD_WEBUI_URL = server.url
        settings.SD_WEBUI_TIMEOUT = 1.0
        settings.GENERATION_BACKEND = "content.backends.StableDiffusionWebUIBackend"
        yield server


@pytest.fixture
def styled_character(db):
    character = f.CharacterFactory()
    appearance = character.appearance
    appearance.default_prompt_prefix = "photo of luna, freckles"
    appearance.negative_prompt = "extra fingers"
    appearance.base_model = "juggernautXL_v9"
    appearance.save()
    return character


def backoff_over(job):
    ContentGeneration.objects.filter(pk=job.pk).update(locked_until=timezone.now())


def aged(job, minutes):
    ContentGeneration.objects.filter(pk=job.pk).update(
        created_at=timezone.now() - dt.timedelta(minutes=minutes)
    )
    return job


@pytest.mark.django_db
def test_jobs_are_taken_by_priority_then_oldest_first():
    character = f.CharacterFactory()
    low = aged(f.ContentGenerationFactory(character=character, priority=5), 30)
    urgent_new = aged(f.ContentGenerationFactory(character=character, priority=1), 1)
    urgent_old = aged(f.ContentGenerationFactory(character=character, priority=1), 10)
    f.ContentGenerationFactory(character=character, priority=1, status=S.CANCELLED)

    assert claim_generations(limit=2) == [urgent_old.pk, urgent_new.pk]
    assert claim_generations(limit=5) == [low.pk]
    assert claim_generations(limit=5) == []
    low.refresh_from_db()
    # taken under a lease; started_at is written when its attempt begins
    assert low.status == S.PROCESSING and low.locked_until
    assert low.started_at is None and low.attempt_started_at is None


@pytest.mark.django_db
def test_the_local_backend_writes_real_images_and_content_rows(media, styled_character):
    job = f.ContentGenerationFactory(
        character=styled_character,
        prompt="sunset on the beach",
        batch_size=2,
        generation_settings={"width": 320, "height": 400, "seed": 42, "steps": 12},
    )

    assert process_generation_queue(backend=LocalImageBackend()) == 1

    job.refresh_from_db()
    assert job.status == S.COMPLETED
    assert (job.success_count, job.failure_count) == (2, 0)
    assert job.completed_at >= job.started_at and job.duration_seconds is not None
    rows = Content.objects.filter(pk__in=job.generated_content_ids).order_by("seed")
    assert [c.seed for c in rows] == [42, 43]
    for content in rows:
        path = Path(media) / content.file_path
        with Image.open(path) as img:
            assert img.size == (320, 400)
        assert content.file_size == path.stat().st_size
        assert (content.width, content.height, content.mime_type) == (
            320,
            400,
            "image/png",
        )
        assert content.prompt == "photo of luna, freckles, sunset on the beach"
        assert content.negative_prompt == "extra fingers"
        assert content.generation_settings["steps"] == 12
        assert content.approval_status == "pending"  # a person approves it
        assert content.character_id == styled_character.pk


@pytest.mark.django_db
def test_the_web_ui_gets_the_prompt_appearance_and_settings(
    media, webui, styled_character
):
    job = f.ContentGenerationFactory(
        character=styled_character,
        prompt="coffee in Lisbon",
        negative_prompt="blurry",
        batch_size=3,
        generation_settings={
            "width": 512,
            "height": 768,
            "steps": 25,
            "cfg_scale": 6.5,
            "seed": 77,
            "sampler": "DPM++ 2M",
            "content_category": "travel",
        },
    )

    assert process_generation_queue() == 1

    payload = webui.calls[-1]["payload"]
    assert payload["prompt"] == "photo of luna, freckles, coffee in Lisbon"
    assert payload["negative_prompt"] == "blurry, extra fingers"
    assert (payload["width"], payload["height"]) == (512, 768)
    assert (payload["steps"], payload["cfg_scale"], payload["seed"]) == (25, 6.5, 77)
    assert payload["batch_size"] == 3 and payload["sampler_name"] == "DPM++ 2M"
    # the checkpoint as the server names it (its title)
    assert payload["override_settings"] == {
        "sd_model_checkpoint": "juggernautXL_v9.safetensors [a1b2c3d4e5]"
    }
    job.refresh_from_db()
    assert job.status == S.COMPLETED and job.success_count == 3
    rows = Content.objects.filter(pk__in=job.generated_content_ids)
    assert sorted(c.seed for c in rows) == [77, 78, 79]
    assert {c.content_category for c in rows} == {"travel"}
    assert all((Path(media) / c.file_path).stat().st_size > 0 for c in rows)


@pytest.mark.django_db
@pytest.mark.usefixtures("media")
def test_a_failing_backend_is_retried_then_fails_with_the_reason(webui):
    webui.mode = "500"
    job = f.ContentGenerationFactory(max_retries=2)

    for attempt in (1, 2):
        process_generation_queue()
        job.refresh_from_db()
        assert job.status == S.PENDING and job.retry_count == attempt
        assert "HTTP 500" in job.error_message
        # backoff: not taken again before its time
        assert job.locked_until > timezone.now()
        assert claim_generations() == []
        backoff_over(job)
    process_generation_queue()
    job.refresh_from_db()
    assert job.status == S.FAILED
    assert job.error_message.startswith("Gave up after 2 retries")
    assert job.completed_at and job.failure_count == 1
    assert not Content.objects.exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("media")
def test_a_refused_job_fails_at_once(webui):
    webui.mode = "422"
    job = f.ContentGenerationFactory(max_retries=3)
    process_generation_queue()
    job.refresh_from_db()
    assert job.status == S.FAILED and job.retry_count == 0
    assert "unknown sampler" in job.error_message


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["garbage", "slow"])
@pytest.mark.usefixtures("media")
def test_broken_or_slow_answers_are_retried(webui, mode):
    webui.mode = mode
    job = f.ContentGenerationFactory(max_retries=3)
    process_generation_queue()
    job.refresh_from_db()
    assert job.status == S.PENDING and job.retry_count == 1
    assert not Content.objects.exists()


@pytest.mark.django_db
@pytest.mark.usefixtures("media")
def test_video_jobs_fail_clearly_without_retries():
    job = f.ContentGenerationFactory(job_type="video")
    process_generation_queue(backend=LocalImageBackend())
    job.refresh_from_db()
    assert job.status == S.FAILED and job.retry_count == 0
    assert "No video-capable generation backend" in job.error_message
    assert job.attempt_count == 0  # failed before any attempt began


@pytest.mark.django_db
@pytest.mark.usefixtures("media")
def test_a_cancelled_job_is_never_started(webui):
    job = f.ContentGenerationFactory()
    [claimed] = claim_generations()
    generations_cancel(queryset=ContentGeneration.objects.filter(pk=claimed))

    assert run_generation(claimed) == "skipped"
    assert webui.calls == []
    job.refresh_from_db()
    assert job.status == S.CANCELLED


@pytest.mark.django_db
def test_a_job_cancelled_while_drawing_keeps_nothing(media):
    job = f.ContentGenerationFactory()

    class CancelMidway(LocalImageBackend):
        def generate_images(self, request):
            generations_cancel(queryset=ContentGeneration.objects.filter(pk=job.pk))
            return super().generate_images(request)

    [claimed] = claim_generations()
    assert run_generation(claimed, backend=CancelMidway()) == "skipped"
    assert not Content.objects.exists()
    assert not list(Path(media).rglob("*.png"))


@pytest.mark.django_db
@pytest.mark.usefixtures("media")
def test_a_dead_workers_job_is_taken_again_after_its_lease():
    job = f.ContentGenerationFactory()
    assert claim_generations() == [job.pk]
    assert claim_generations() == []  # leased
    ContentGeneration.objects.filter(pk=job.pk).update(
        locked_until=timezone.now() - dt.timedelta(seconds=1)
    )
    assert process_generation_queue(backend=LocalImageBackend()) == 1
    job.refresh_from_db()
    assert job.status == S.COMPLETED and len(job.generated_content_ids) == 1


def test_the_web_ui_backend_needs_an_address(settings):
    settings.SD_WEBUI_URL = ""
    with pytest.raises(Exception, match="SD_WEBUI_URL is not set"):
        StableDiffusionWebUIBackend()


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_take_the_same_job():
    character = f.CharacterFactory()
    jobs = f.ContentGenerationFactory.create_batch(60, character=character)
    taken: list = []
    errors: list = []

    def worker():
        try:
            while ids := claim_generations(limit=3):
                taken.extend(ids)
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(taken) == sorted(j.pk for j in jobs)
    assert len(set(taken)) == len(taken)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM content_generations WHERE status='pending'"
        )
        assert cursor.fetchone()[0] == 0
