"""The persona prompt (one place) and the local development text backend."""

import dataclasses
from decimal import Decimal

import pytest

from characters.models import PERSONALITY_TRAITS
from content.persona import Persona, WritingTask, persona_prompt, task_prompt
from content.text_backends import EMOJI, LocalTextBackend, TextRequest
from content.textgen import plan_for
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def persona_character():
    character = f.CharacterFactory(
        name="Luna Reyes",
        age=26,
        bio="Yoga teacher and coffee snob.",
        location="Barcelona",
        interests=["yoga", "travel"],
    )
    p = character.personality
    p.communication_style = "sassy"
    p.content_tone = "positive"
    p.emoji_usage = "moderate"
    p.preferred_topics = ["coffee"]
    p.llm_personality_prompt = "Sign off with 'xo, Luna'."
    p.flirtatiousness_level = Decimal("0.30")
    p.flirting_style = "playful"
    for trait in PERSONALITY_TRAITS:
        setattr(p, trait, Decimal("0.50"))
    p.save()
    return character


def prompt_of(character):
    character.refresh_from_db()
    return persona_prompt(Persona.of(character, character.personality))


CHARACTER_CHANGES = {
    "name": "Luna Maria",
    "bio": "Surfer.",
    "age": 31,
    "location": "Lisbon",
    "interests": ["surf"],
}
PERSONALITY_CHANGES = {
    **{trait: Decimal("0.90") for trait in PERSONALITY_TRAITS},
    "communication_style": "professional",
    "content_tone": "edgy",
    "emoji_usage": "none",
    "preferred_topics": ["books"],
    "llm_personality_prompt": "Never mention the weather.",
    "flirtatiousness_level": Decimal("0.80"),
    "flirting_style": "romantic",
}


@pytest.mark.parametrize("field,value", CHARACTER_CHANGES.items())
def test_the_prompt_changes_with_each_character_field(persona_character, field, value):
    before = prompt_of(persona_character)
    setattr(persona_character, field, value)
    persona_character.save()
    assert prompt_of(persona_character) != before


@pytest.mark.parametrize("field,value", PERSONALITY_CHANGES.items())
def test_the_prompt_changes_with_each_personality_field(
    persona_character, field, value
):
    before = prompt_of(persona_character)
    personality = persona_character.personality
    setattr(personality, field, value)
    personality.save()
    assert prompt_of(persona_character) != before


def test_traits_read_as_words_with_their_value(persona_character):
    p = persona_character.personality
    p.humor, p.energy_level = Decimal("0.05"), Decimal("0.95")
    p.save()
    prompt = prompt_of(persona_character)
    assert "- humor 0.05: very earnest" in prompt
    assert "- energy level 0.95: very high-energy and enthusiastic" in prompt
    assert "How you talk: sassy, confident and a little teasing." in prompt
    assert "Sign off with 'xo, Luna'." in prompt.splitlines()[-1]


def test_temperature_goes_to_the_request_not_the_prompt(persona_character):
    job = f.TextGenerationFactory(character=persona_character)
    before = plan_for(job)
    personality = persona_character.personality
    personality.temperature = Decimal("1.30")
    personality.save()
    job.refresh_from_db()
    after = plan_for(job)
    assert after.system == before.system
    assert [r.temperature for r in after.requests] == [1.3]
    assert before.requests[0].temperature == 0.7


def test_flirting_is_in_the_prompt_only_for_an_adult_who_flirts(persona_character):
    assert "Flirting 0.30: rather barely flirtatious, in a playful way" in prompt_of(
        persona_character
    )
    personality = persona_character.personality
    personality.flirtatiousness_level, personality.flirting_style = 0, None
    personality.save()
    assert "Do not flirt." in prompt_of(persona_character)
    # a minor's persona never flirts, whatever the rows say (they cannot, see
    # the adult-only tests; Persona.of checks the age itself too)
    minor = dataclasses.replace(
        Persona.of(persona_character), flirtatiousness=0.0, flirting_style=""
    )
    persona_character.age = 16
    assert Persona.of(persona_character, personality).flirts is False
    assert "Do not flirt." in persona_prompt(minor)


def test_the_task_prompt_states_the_limits_and_what_is_answered():
    caption = task_prompt(
        WritingTask(
            purpose="content_caption",
            subject="sunset on the beach",
            platform="X",
            max_chars=180,
            max_hashtags=2,
        )
    )
    assert "on X" in caption and "sunset on the beach" in caption
    assert "At most 180 characters" in caption and "up to 2 hashtags" in caption
    reply = task_prompt(
        WritingTask(
            purpose="engagement",
            action_type="reply",
            answering="Where was this taken?",
            max_chars=200,
        )
    )
    assert '"""Where was this taken?"""' in reply and "No hashtags." in reply


def local(persona, *, max_chars=400, purpose="content_caption", seed=1, hashtags=3):
    task = WritingTask(
        purpose=purpose,
        subject="a morning run by the sea",
        max_chars=max_chars,
        max_hashtags=hashtags,
        answering="Love this!",
        action_type="reply",
    )
    request = TextRequest(
        system=persona_prompt(persona),
        user=task_prompt(task),
        persona=persona,
        task=task,
        seed=seed,
    )
    return LocalTextBackend().complete(request).text


def caption_part(text):
    return text.split("\nHashtags:")[0]


@pytest.mark.parametrize(
    "usage,low,high",
    [("none", 0, 0), ("minimal", 0, 1), ("moderate", 2, 3), ("heavy", 5, 7)],
)
def test_the_local_backend_follows_emoji_usage(persona_character, usage, low, high):
    base = Persona.of(persona_character)
    persona = dataclasses.replace(base, emoji_usage=usage)
    for seed in range(12):
        for purpose in ("content_caption", "engagement"):
            text = local(persona, seed=seed, purpose=purpose)
            assert low <= len(EMOJI.findall(caption_part(text))) <= high, text


@pytest.mark.parametrize("limit", [40, 80, 140, 280])
def test_the_local_backend_keeps_to_the_length_limit(persona_character, limit):
    persona = dataclasses.replace(Persona.of(persona_character), emoji_usage="heavy")
    for seed in range(8):
        for purpose in ("content_caption", "engagement"):
            text = caption_part(
                local(persona, max_chars=limit, seed=seed, purpose=purpose)
            )
            assert 0 < len(text) <= limit, text


def test_the_local_backend_is_deterministic_for_a_seed(persona_character):
    persona = Persona.of(persona_character)
    assert local(persona, seed=5) == local(persona, seed=5)
    assert len({local(persona, seed=s) for s in range(6)}) > 1


def test_the_local_backend_writes_in_the_personas_voice(persona_character):
    persona = Persona.of(persona_character)
    sassy = local(dataclasses.replace(persona, traits={}), seed=3)
    assert sassy.startswith(("Not to brag, but", "Obviously,", "Okay, listen:"))
    assert "a morning run by the sea" in sassy
    assert "\nHashtags: #" in sassy
    quiet = dataclasses.replace(
        persona,
        communication_style="professional",
        content_tone="serious",
        emoji_usage="none",
        traits=dict.fromkeys(PERSONALITY_TRAITS, 0.1),
    )
    text = local(quiet, seed=3)
    assert text.startswith(("today's update:", "a quick note:", "worth sharing:"))
    assert "!" not in caption_part(text)
    assert not EMOJI.findall(text)
    assert LocalTextBackend.notice.startswith("Development text backend")
