"""The persona's voice in the API: captions on demand and their review, voice
previews, text jobs, and the adult-only rules as 400s naming the field."""

from decimal import Decimal

import pytest

from content.models import Content, TextGeneration
from content.textgen import process_text_queue
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def local_text(settings):
    settings.TEXT_BACKEND = "content.text_backends.LocalTextBackend"
    settings.MODERATION_BACKEND = ""


def test_write_caption_is_queued_then_reviewed(operator_api):
    content = f.ContentFactory(content_type="image")
    url = f"/api/v1/content/{content.pk}/"
    response = operator_api.post(
        f"{url}write-caption/", {"platform": "twitter"}, format="json"
    )
    assert response.status_code == 202, response.json()
    job = response.json()
    assert (job["purpose"], job["status"], job["platform"]) == (
        "content_caption",
        "pending",
        "twitter",
    )
    # one at a time per content
    assert operator_api.post(f"{url}write-caption/").status_code == 409
    process_text_queue()

    body = operator_api.get(url).json()
    assert body["caption"] and body["caption_status"] == "pending"
    detail = operator_api.get(f"/api/v1/text-generations/{job['id']}/").json()
    assert detail["system_prompt"].startswith("You are ")
    assert detail["model"] == "local" and detail["total_tokens"] > 0

    approved = operator_api.post(f"{url}approve-caption/")
    assert (
        approved.status_code == 200 and approved.json()["caption_status"] == "approved"
    )
    assert operator_api.post(f"{url}approve-caption/").status_code == 409
    assert (
        operator_api.post(f"{url}reject-caption/", {}, format="json").status_code == 400
    )
    rejected = operator_api.post(
        f"{url}reject-caption/", {"reason": "Off-brand"}, format="json"
    )
    assert rejected.json()["caption_note"] == "Off-brand"


def test_a_bad_platform_is_a_400_naming_the_field(operator_api):
    content = f.ContentFactory()
    response = operator_api.post(
        f"/api/v1/content/{content.pk}/write-caption/",
        {"platform": "myspace"},
        format="json",
    )
    assert response.status_code == 400 and "platform" in response.json()
    assert not TextGeneration.objects.exists()


def test_the_caption_status_is_not_writable(operator_api):
    content = f.ContentFactory(caption="Hi")
    response = operator_api.patch(
        f"/api/v1/content/{content.pk}/",
        {"caption_status": "approved", "caption": "Hello"},
        format="json",
    )
    assert response.status_code == 200
    content.refresh_from_db()
    assert (content.caption, content.caption_status) == ("Hello", "pending")


def test_analysts_cannot_ask_for_text(analyst_api):
    content = f.ContentFactory()
    character = content.character
    assert (
        analyst_api.post(f"/api/v1/content/{content.pk}/write-caption/").status_code
        == 403
    )
    assert (
        analyst_api.post(
            f"/api/v1/characters/{character.pk}/preview-voice/"
        ).status_code
        == 403
    )


def test_preview_voice_answers_202_and_the_samples_follow(operator_api):
    character = f.CharacterFactory()
    response = operator_api.post(f"/api/v1/characters/{character.pk}/preview-voice/")
    assert response.status_code == 202
    process_text_queue()
    job = operator_api.get(f"/api/v1/text-generations/{response.json()['id']}/").json()
    assert job["status"] == "completed" and len(job["samples"]) == 3


def test_held_texts_are_approved_through_the_api(operator_api):
    job = f.TextGenerationFactory(
        status="held", result_text="Words", completed_at="2026-01-01T00:00:00Z"
    )
    Content.objects.filter(pk=job.content_id).update(
        caption="Words", caption_status="flagged"
    )
    url = f"/api/v1/text-generations/{job.pk}/"
    assert operator_api.post(f"{url}approve/").json()["status"] == "completed"
    assert Content.objects.get(pk=job.content_id).caption_status == "approved"
    assert operator_api.post(f"{url}reject/").status_code == 409
    listed = operator_api.get("/api/v1/text-generations/?status=completed").json()
    assert [row["id"] for row in listed["results"]] == [str(job.pk)]


# --- adult-only --------------------------------------------------------------------


def test_nsfw_content_and_jobs_of_a_minor_are_400s(admin_api):
    minor = f.CharacterFactory(age=16)
    content = f.ContentFactory(character=minor)
    response = admin_api.patch(
        f"/api/v1/content/{content.pk}/", {"is_nsfw": True}, format="json"
    )
    assert response.status_code == 400
    assert "age must be 18 or more" in response.json()["is_nsfw"][0]
    response = admin_api.post(
        "/api/v1/generations/",
        {
            "character": str(minor.pk),
            "job_type": "image",
            "prompt": "beach",
            "generation_settings": {},
            "is_nsfw": True,
        },
        format="json",
    )
    assert response.status_code == 400 and "is_nsfw" in response.json()


def test_a_minor_cannot_be_created_flirting(admin_api):
    response = admin_api.post(
        "/api/v1/characters/",
        {"name": "Teen", "age": 16, "personality": {"flirting_style": "playful"}},
        format="json",
    )
    assert response.status_code == 400
    assert "flirting_style" in response.json()["personality"]


def test_the_age_and_the_personality_are_checked_together(admin_api):
    adult = f.CharacterFactory(age=25)
    url = f"/api/v1/characters/{adult.pk}/"
    response = admin_api.patch(
        url,
        {"age": 15, "personality": {"flirtatiousness_level": "0.5"}},
        format="json",
    )
    assert response.status_code == 400
    assert "flirtatiousness_level" in response.json()["personality"]

    adult.personality.flirtatiousness_level = Decimal("0.4")
    adult.personality.save()
    response = admin_api.patch(url, {"age": 15}, format="json")
    assert response.status_code == 400
    assert "a personality that flirts" in response.json()["age"][0]
    adult.refresh_from_db()
    assert adult.age == 25
