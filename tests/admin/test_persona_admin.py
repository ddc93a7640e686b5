"""The persona's voice in the admin: Preview voice, Write caption (one or in
bulk), the caption's approval next to the media's, held texts, and the
adult-only rules as form errors."""

from decimal import Decimal

from django.contrib.messages import get_messages
from django.urls import reverse

from content.models import Content, TextGeneration
from content.textgen import process_text_queue
from platforms.models import ScheduledPost
from tests.admin.test_characters import add_form
from tests.factories import (
    CharacterFactory,
    ContentFactory,
    ScheduledPostFactory,
    TextGenerationFactory,
)


def change_url(obj):
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])


def run_action(client, model, action, objs, **extra):
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    data = {"action": action, "_selected_action": [str(o.pk) for o in objs], **extra}
    return client.post(url, data)


def messages_of(response):
    return [str(m) for m in get_messages(response.wsgi_request)._queued_messages]


def test_preview_voice_writes_three_samples_outside_the_request(
    administrator_client, settings
):
    settings.TEXT_BACKEND = "content.text_backends.LocalTextBackend"
    settings.MODERATION_BACKEND = ""
    character = CharacterFactory(name="Zara Quinn", location="London")
    page = administrator_client.get(change_url(character)).content.decode()
    assert "Preview voice" in page and "No preview yet." in page
    url = reverse("admin:characters_character_preview_voice", args=[character.pk])
    assert f'formaction="{url}"' in page

    response = administrator_client.post(url)
    assert response.status_code == 302 and response["Location"] == change_url(character)
    assert "Writing three sample captions" in messages_of(response)[0]
    job = TextGeneration.objects.get(character=character)
    assert (job.purpose, job.status, job.priority) == ("voice_preview", "pending", 1)
    page = administrator_client.get(change_url(character)).content.decode()
    assert "reload the page in a moment" in page

    process_text_queue()
    page = administrator_client.get(change_url(character)).content.decode()
    assert page.count("<li style='white-space:pre-wrap'>") == 3
    assert "Development text backend" in page  # says what wrote it
    assert "You are Zara Quinn" in page  # the prompt, for a person to read
    assert administrator_client.get(url).status_code == 405


def test_analysts_cannot_ask_for_a_preview(analyst_client):
    character = CharacterFactory()
    url = reverse("admin:characters_character_preview_voice", args=[character.pk])
    assert analyst_client.post(url).status_code == 403
    assert not TextGeneration.objects.exists()


def test_write_caption_in_bulk_then_approve_it(operator_client, settings):
    settings.MODERATION_BACKEND = ""
    character = CharacterFactory()
    rows = ContentFactory.create_batch(3, character=character, content_type="image")
    form = run_action(operator_client, Content, "write_caption", rows)
    assert b"Write captions in the persona" in form.content
    done = run_action(
        operator_client, Content, "write_caption", rows, apply="1", platform="instagram"
    )
    assert done.status_code == 302
    assert messages_of(done)[0].startswith("3 caption(s) asked for")
    assert set(TextGeneration.objects.values_list("platform", flat=True)) == {
        "instagram"
    }
    process_text_queue()

    listing = operator_client.get(reverse("admin:content_content_changelist"))
    assert listing.content.count(b"Awaiting approval") >= 3
    page = operator_client.get(change_url(rows[0])).content.decode()
    assert 'name="caption"' in page and "text job" in page

    approved = run_action(operator_client, Content, "approve_caption", rows[:2])
    assert messages_of(approved) == ["2 caption(s) approved."]
    assert sorted(Content.objects.values_list("caption_status", flat=True)) == [
        "approved",
        "approved",
        "pending",
    ]


def test_editing_an_approved_caption_in_the_admin_asks_for_approval_again(
    administrator_client,
):
    content = ContentFactory(caption="Old words", content_type="image")
    Content.objects.filter(pk=content.pk).update(caption_status="approved")
    page = administrator_client.get(change_url(content))
    data = {
        **{k: v for k, v in page.context["adminform"].form.initial.items() if v},
        "caption": "New words",
        "hashtags": "sun,sea",
        "tags": "demo",
    }
    response = administrator_client.post(change_url(content), data)
    assert response.status_code == 302, response.content[-2000:]
    content.refresh_from_db()
    assert (content.caption, content.caption_status) == ("New words", "pending")


def test_a_held_text_is_approved_from_the_text_jobs(administrator_client):
    job = TextGenerationFactory(
        status="held",
        result_text="Risky words",
        moderation_reason="contains a blocked word: 'risky'",
        completed_at="2026-01-01T00:00:00Z",
    )
    Content.objects.filter(pk=job.content_id).update(
        caption="Risky words", caption_status="flagged"
    )
    page = administrator_client.get(change_url(job)).content.decode()
    assert "contains a blocked word" in page
    response = run_action(administrator_client, TextGeneration, "approve_held", [job])
    assert messages_of(response) == ["1 text generation approved."]
    assert Content.objects.get(pk=job.content_id).caption_status == "approved"


def test_a_held_post_caption_is_approved_from_the_scheduled_posts(
    administrator_client,
):
    sp = ScheduledPostFactory()
    ScheduledPost.objects.filter(pk=sp.pk).update(caption_status="flagged")
    response = run_action(administrator_client, ScheduledPost, "approve_caption", [sp])
    assert messages_of(response) == ["1 scheduled post approved."]
    assert ScheduledPost.objects.get(pk=sp.pk).caption_status == "approved"


def test_a_minor_cannot_flirt_a_form_error_not_a_500(administrator_client):
    response = administrator_client.post(
        reverse("admin:characters_character_add"),
        add_form(
            age="16",
            **{
                "personality-0-flirtatiousness_level": "0.4",
                "personality-0-flirting_style": "playful",
            },
        ),
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Adult-only: the character&#x27;s age must be 18 or more (it is 16)" in body


def test_marking_a_minors_content_nsfw_says_why_nothing_changed(administrator_client):
    content = ContentFactory(character=CharacterFactory(age=15))
    response = run_action(administrator_client, Content, "mark_nsfw", [content])
    assert "NSFW is adult-only" in messages_of(response)[-1]
    content.refresh_from_db()
    assert content.is_nsfw is False


def test_lowering_the_age_of_a_flirting_character_is_a_form_error(
    administrator_client,
):
    character = CharacterFactory(age=30)
    character.personality.flirtatiousness_level = Decimal("0.5")
    character.personality.save()
    page = administrator_client.get(change_url(character))
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v not in (None, "")}
    data.update(
        {
            "age": "17",
            "interests": ",".join(character.interests),
            "personality-TOTAL_FORMS": "1",
            "personality-INITIAL_FORMS": "1",
            "personality-MIN_NUM_FORMS": "1",
            "personality-MAX_NUM_FORMS": "1",
            "appearance-TOTAL_FORMS": "1",
            "appearance-INITIAL_FORMS": "1",
            "appearance-MIN_NUM_FORMS": "1",
            "appearance-MAX_NUM_FORMS": "1",
        }
    )
    for formset in page.context["inline_admin_formsets"]:
        for inline_form in formset.formset.forms:
            for name, value in inline_form.initial.items():
                if value not in (None, ""):
                    data[inline_form.add_prefix(name)] = (
                        ",".join(value) if isinstance(value, list) else value
                    )
    response = administrator_client.post(change_url(character), data)
    assert response.status_code == 200
    assert "a personality that flirts" in response.content.decode()
    character.refresh_from_db()
    assert character.age == 30
