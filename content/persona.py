"""The persona prompt: built here, in one place, from the character and its
personality, and the writing tasks that use it (captions, replies, previews).

Every text the persona writes starts from `persona_prompt`: the character's
name, bio, age, location and interests; the six traits (0-1) turned into
words with their value; communication style, tone, emoji use, preferred
topics; flirting only where the character is an adult and its personality
allows it; and `llm_personality_prompt` last, so a person can add to or
correct what the fields say. `temperature` goes with the request, not into
the prompt. The rendered prompt is stored on the text job with what it
produced (content.textgen), so a person can see why a text reads as it does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from characters.models import (
    PERSONALITY_TRAITS,
    Character,
    CharacterPersonality,
    is_adult,
)

# Trait -> (what a low value means, what a high value means).
TRAIT_WORDS: dict[str, tuple[str, str]] = {
    "extroversion": ("reserved and quiet", "outgoing and sociable"),
    "creativity": ("plain and literal", "imaginative and playful with words"),
    "humor": ("earnest", "witty, always ready with a joke"),
    "professionalism": ("loose and informal", "polished and professional"),
    "authenticity": ("curated and aspirational", "candid and personal"),
    "energy_level": ("calm and unhurried", "high-energy and enthusiastic"),
}
STYLE_WORDS = {
    "casual": "casual, like texting a friend",
    "professional": "professional and clear",
    "friendly": "warm and friendly",
    "sassy": "sassy, confident and a little teasing",
    "inspirational": "inspirational and uplifting",
}
TONE_WORDS = {
    "positive": "upbeat and positive",
    "neutral": "neutral and matter-of-fact",
    "edgy": "edgy and bold (never offensive)",
    "humorous": "funny and light-hearted",
    "serious": "serious and thoughtful",
}
# emoji_usage -> (fewest, most) emoji in one text; the local backend keeps to it
EMOJI_RANGE: dict[str, tuple[int, int]] = {
    "none": (0, 0),
    "minimal": (0, 1),
    "moderate": (2, 3),
    "heavy": (5, 7),
}
EMOJI_WORDS = {
    "none": "Use no emoji at all.",
    "minimal": "Use at most one emoji.",
    "moderate": "Use two or three emoji.",
    "heavy": "Use emoji generously: five to seven.",
}


def level_words(value: float, low: str, high: str) -> str:
    """A 0-1 trait in words: very/rather low, balanced, rather/very high."""
    if value < 0.2:
        return f"very {low}"
    if value < 0.4:
        return f"rather {low}"
    if value < 0.6:
        return f"balanced: neither {low} nor {high}"
    if value < 0.8:
        return f"rather {high}"
    return f"very {high}"


@dataclass(frozen=True)
class Persona:
    """What the persona prompt is made of (a character and its personality)."""

    name: str
    bio: str = ""
    age: int | None = None
    location: str = ""
    interests: tuple[str, ...] = ()
    traits: dict[str, float] = field(default_factory=dict)
    communication_style: str = ""
    content_tone: str = ""
    emoji_usage: str = "moderate"
    preferred_topics: tuple[str, ...] = ()
    # 0 and "" unless the character is an adult and its personality flirts
    flirtatiousness: float = 0.0
    flirting_style: str = ""
    custom_prompt: str = ""
    temperature: float = 0.7

    @classmethod
    def of(
        cls, character: Character, personality: CharacterPersonality | None = None
    ) -> Persona:
        if personality is None:
            personality = CharacterPersonality.objects.filter(
                character_id=character.pk
            ).first()
        p = personality or CharacterPersonality(character=character)
        adult = is_adult(character.age)
        return cls(
            name=character.name,
            bio=(character.bio or "").strip(),
            age=character.age,
            location=(character.location or "").strip(),
            interests=tuple(character.interests or ()),
            traits={t: float(getattr(p, t) or 0) for t in PERSONALITY_TRAITS},
            communication_style=p.communication_style or "",
            content_tone=p.content_tone or "",
            emoji_usage=p.emoji_usage or "moderate",
            preferred_topics=tuple(p.preferred_topics or ()),
            flirtatiousness=float(p.flirtatiousness_level or 0) if adult else 0.0,
            flirting_style=(p.flirting_style or "").strip() if adult else "",
            custom_prompt=(p.llm_personality_prompt or "").strip(),
            temperature=float(p.temperature if p.temperature is not None else 0.7),
        )

    @property
    def topics(self) -> tuple[str, ...]:
        """What the persona talks about: preferred topics first, then interests."""
        seen: dict[str, None] = {}
        for topic in (*self.preferred_topics, *self.interests):
            if topic and topic.strip():
                seen.setdefault(topic.strip(), None)
        return tuple(seen)

    @property
    def flirts(self) -> bool:
        return self.flirtatiousness > 0 or bool(self.flirting_style)


def persona_prompt(persona: Persona) -> str:
    """The system prompt: who is writing, in the persona's own words."""
    who = persona.name
    facts = []
    if persona.age is not None:
        facts.append(f"{persona.age} years old")
    if persona.location:
        facts.append(f"living in {persona.location}")
    lines = [
        f"You are {who}" + (f", {', '.join(facts)}" if facts else "") + ".",
        "You write your own social media posts, comments and replies, in the "
        "first person, as yourself. Never say or hint that you are an AI.",
    ]
    if persona.bio:
        lines.append(f"About you: {persona.bio}")
    if persona.interests:
        lines.append(f"Your interests: {', '.join(persona.interests)}.")
    if persona.preferred_topics:
        lines.append(
            f"Topics you like to bring up: {', '.join(persona.preferred_topics)}."
        )
    lines.append("Your personality (each trait on a 0-1 scale):")
    for trait in PERSONALITY_TRAITS:
        value = persona.traits.get(trait, 0.5)
        low, high = TRAIT_WORDS[trait]
        label = trait.replace("_", " ")
        lines.append(f"- {label} {value:.2f}: {level_words(value, low, high)}")
    if persona.communication_style:
        style = STYLE_WORDS.get(
            persona.communication_style, persona.communication_style
        )
        lines.append(f"How you talk: {style}.")
    if persona.content_tone:
        tone = TONE_WORDS.get(persona.content_tone, persona.content_tone)
        lines.append(f"Your tone: {tone}.")
    lines.append(
        EMOJI_WORDS.get(persona.emoji_usage, EMOJI_WORDS["moderate"])
        + f" (emoji use: {persona.emoji_usage})"
    )
    if persona.flirts:
        low, high = "barely flirtatious", "openly flirtatious"
        lines.append(
            f"Flirting {persona.flirtatiousness:.2f}: "
            f"{level_words(persona.flirtatiousness, low, high)}"
            + (f", in a {persona.flirting_style} way" if persona.flirting_style else "")
            + ". Keep it tasteful, never explicit."
        )
    else:
        lines.append("Do not flirt.")
    if persona.custom_prompt:
        lines.append(persona.custom_prompt)
    return "\n".join(lines)


@dataclass(frozen=True)
class WritingTask:
    """What to write: a caption about something, or an answer to a text."""

    purpose: str  # content_caption, post_caption, engagement, voice_preview
    subject: str = ""  # what the post shows / is about
    platform: str = ""  # its label (Instagram, X ...), or "" for any
    max_chars: int = 2200
    max_hashtags: int = 5
    action_type: str = ""  # comment, reply (engagement)
    answering: str = ""  # the post or comment an engagement answers
    tags: tuple[str, ...] = ()  # the content's tags (hashtag ideas)

    @property
    def wants_hashtags(self) -> bool:
        return self.purpose in ("content_caption", "voice_preview") and (
            self.max_hashtags > 0
        )


HASHTAG_LINE = "Hashtags:"


def task_prompt(task: WritingTask) -> str:
    """The user message for one task (the persona prompt is the system one)."""
    where = f" on {task.platform}" if task.platform else ""
    if task.purpose == "engagement":
        kind = "reply to this comment" if task.action_type == "reply" else "comment"
        answering = task.answering.strip() or "(no text given: a post of theirs)"
        return (
            f"Write a short {kind}{where}, as yourself, answering this:\n"
            f'"""{answering}"""\n'
            f"One or two sentences, at most {task.max_chars} characters. "
            "No hashtags. Answer with the text only."
        )
    subject = task.subject.strip() or "a moment from your day"
    lines = [
        f"Write a caption for your post{where}. The post shows: {subject}.",
        f"At most {task.max_chars} characters for the caption.",
    ]
    if task.wants_hashtags:
        ideas = f" (ideas: {', '.join(task.tags)})" if task.tags else ""
        lines.append(
            f"Then, on a last line starting with '{HASHTAG_LINE}', up to "
            f"{task.max_hashtags} hashtags{ideas}."
        )
    else:
        lines.append("No hashtags.")
    lines.append("Answer with the caption only, no quotes.")
    return "\n".join(lines)


def prompt_facts(persona: Persona, task: WritingTask) -> dict[str, Any]:
    """A JSON-able record of what the prompt was made of (stored with the job)."""
    return {
        "temperature": str(Decimal(str(persona.temperature)).quantize(Decimal("0.01"))),
        "max_chars": task.max_chars,
        "max_hashtags": task.max_hashtags if task.wants_hashtags else 0,
        "platform": task.platform,
    }
