"""What a rule's post says: its caption, hashtags and post type."""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

from automation.models import AutomationRule
from content.captions import ai_caption_for
from platforms.models import Platform

if TYPE_CHECKING:
    from characters.models import Character
    from content.models import Content

HASHTAG_LIMITS = {"instagram": 15, "twitter": 2, "youtube": 5, "telegram": 3}
_TAG = re.compile(r"(?<!\w)#(\w+)")


class _Blank(dict):
    def __missing__(self, key: str) -> str:
        return ""


def render_caption(
    template: str | None,
    character: Character,
    content: Content | None,
    platform: str,
    local_now: dt.datetime,
) -> str:
    """The template with its {placeholders} filled (automation.rules.PLACEHOLDERS);
    without a template, what the content shows."""
    if not template:
        return content_caption(character, content)
    personality = getattr(character, "personality", None)
    values = _Blank(
        name=character.name,
        bio=character.bio or "",
        location=character.location or "",
        age="" if character.age is None else str(character.age),
        interests=", ".join(character.interests or []),
        topics=", ".join((personality.preferred_topics or []) if personality else []),
        caption=content_caption(character, content),
        ai_caption=ai_caption_for(content),
        category=(content.content_category or "") if content else "",
        tags=", ".join((content.tags or []) if content else []),
        platform=Platform(platform).label if platform in Platform.values else "",
        date=f"{local_now:%Y-%m-%d}",
        weekday=f"{local_now:%A}",
    )
    try:
        text = template.format_map(values)
    except (ValueError, KeyError, IndexError, AttributeError):
        # the template was saved around validation (plain SQL): keep it as is
        text = template
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def content_caption(character: Character, content: Content | None) -> str:
    """What the content shows: its prompt without the character's style prefix."""
    if content is None or not content.prompt:
        return ""
    prompt = content.prompt
    appearance = getattr(character, "appearance", None)
    prefix = (appearance.default_prompt_prefix or "").strip() if appearance else ""
    if prefix and prompt.startswith(prefix):
        prompt = prompt[len(prefix) :].lstrip(" ,")
    return prompt[:200].strip()


def _tag(word: str) -> str:
    return re.sub(r"\W+", "", word.lower().lstrip("#"))


def apply_hashtags(
    rule: AutomationRule,
    character: Character,
    content: Content | None,
    platform: str,
    caption: str,
) -> tuple[str, list[str]]:
    """Returns (caption, hashtags). 'template': the #words the template wrote
    (taken out of the caption) plus trigger_config.hashtags; 'auto': from the
    content's tags, the personality's topics and the character's interests."""
    strategy = rule.hashtag_strategy or AutomationRule.HashtagStrategy.NONE
    if strategy == AutomationRule.HashtagStrategy.NONE:
        return caption, []
    if strategy == AutomationRule.HashtagStrategy.TEMPLATE:
        words = _TAG.findall(caption) + list(
            (rule.trigger_config or {}).get("hashtags", [])
        )
        caption = re.sub(r"[ \t]{2,}", " ", _TAG.sub("", caption)).strip()
    else:
        personality = getattr(character, "personality", None)
        words = [
            *((content.tags or []) if content else []),
            *((personality.preferred_topics or []) if personality else []),
            *(character.interests or []),
        ]
    seen, tags = set(), []
    for word in words:
        tag = _tag(word)
        if tag and tag not in seen:
            seen.add(tag)
            tags.append(tag)
    return caption, tags[: HASHTAG_LIMITS.get(platform, 5)]


def post_type_for(content_type: str, platform: str) -> str:
    """The post type a piece of content becomes on a platform."""
    if platform == "twitter":
        return "tweet"
    if platform == "telegram":
        return "message"
    if content_type == "video":
        return {"instagram": "reel", "youtube": "short"}.get(platform, "video")
    return "post"
